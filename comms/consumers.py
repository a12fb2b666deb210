"""Live chat sockets (protocol: docs/realtime.md).

- Staff: /ws/conversations/<id>/ - authorised in connect() through the selector (4401 not signed
  in, 4404 missing or invisible), re-checked on every action (inside the services; for typing,
  one SELECT of the binding and the visibility), closed with 4403 when an `access.recheck` finds
  access gone.
- Customer: /ws/chat/<token>/ - the customer link's token (4404 when invalid, expired or revoked).

Consumers never touch the ORM: services and selectors run through `database_sync_to_async`, and
the broadcasts a service queues after commit are published from the event loop afterwards. Sends
go to the process's batcher (`comms.batching`): the socket reads its next frame at once and each
send is answered (ack or error) when its batch has committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import working_hours
from accounts.consumers import SessionBound
from comms import batching, errors, permissions, presenters, realtime, selectors, services
from comms.presence import Presence
from config import channel_layer, events

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403
CLOSE_NOT_FOUND = 4404
MAX_FRAME = 64 * 1024
TYPING_EVERY_S = 2.0


class TokenBucket:
    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ChatConsumer(Presence, AsyncWebsocketConsumer):
    """What staff and customer sockets share: framing, errors, publishing (and presence,
    comms.presence)."""

    actions: dict[str, str] = {}
    conversation_id: int | None = None
    actor: dict | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answering: set[asyncio.Future] = set()
        self.read_wanted: int | None = None
        self.read_flush: asyncio.TimerHandle | None = None
        self.read_last = 0.0

    # --- plumbing -------------------------------------------------------------------------------

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=presenters.encode(frame))

    async def send_error(self, code: str, detail: str, client_id=None, extra=None) -> None:
        frame = {**(extra or {}), "type": "error", "error": code, "detail": str(detail)}
        if isinstance(client_id, str):
            frame["client_id"] = client_id[:64]
        await self.send_frame(frame)

    async def call(self, fn, **kwargs):
        """Run a service in the database thread; publish its after-commit broadcasts here."""
        result, outbox = await database_sync_to_async(events.run_collecting)(fn, kwargs)
        return result, outbox

    def follow(self, future: asyncio.Future, client_id) -> None:
        """Answer a batched send when it is stored, without holding up the next frame."""
        task = asyncio.ensure_future(self.answer(future, str(client_id)))
        self.answering.add(task)
        task.add_done_callback(self.answering.discard)

    async def answer(self, future: asyncio.Future, client_id: str) -> None:
        """Ack the sender with the stored id (a repeated client_id says duplicate), or send the
        error frame refusing it. The batcher publishes the broadcasts."""
        try:
            result = await future
        except errors.CommsError as exc:
            await self.send_error(exc.code, exc.detail, client_id, exc.as_dict())
            if isinstance(exc, errors.AccessChanged):
                await self.access_changed()
            return
        except Exception:
            log.exception("comms send failed")
            await self.send_error("server_error", _("Something went wrong; try again."), client_id)
            return
        await self.send_frame(
            {
                "type": "ack",
                "client_id": str(result.message.client_id),
                "id": result.message.pk,
                "duplicate": not result.created,
                **self.ack_extra(result),
            }
        )

    def ack_extra(self, result) -> dict:
        return {}

    async def publish(self, outbox) -> None:
        await events.publish(outbox, self.channel_layer)

    async def dispatch(self, message):
        # Other apps may send new event types to user.<id>: ignore them rather than crash.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            if message["type"].startswith("websocket."):
                await super().dispatch(message)  # Channels raises for a truly unknown type
            return
        # Channels' own dispatch first hops into the (single, thread-sensitive) database thread to
        # close old connections, for every event on every socket: a 100-member room paid 100 hops
        # per message behind the senders' writes. All database work here goes through
        # database_sync_to_async, which closes old connections itself, so the hop is skipped.
        await handler(message)

    def ready_frame(self, seq: int) -> dict:
        return {
            "type": "ready",
            "conversation_id": self.conversation_id,
            "seq": seq,
            "live": channel_layer.is_live(self.channel_layer),
            "presence": self.presence_list(),
        }

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            await self.send_error("invalid", _("Send JSON text frames."))
            return
        if len(text_data) > MAX_FRAME:
            await self.send_error("too_long", errors.TooLong().detail)
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error("malformed_json", _("This frame is not valid JSON."))
            return
        if not isinstance(content, dict):
            await self.send_error("invalid", _("Send a JSON object with an action."))
            return
        client_id = content.get("client_id")
        method = self.actions.get(content.get("action"))
        if method is None:
            await self.send_error("unknown_action", _("Unknown action."), client_id)
            return
        await self.guarded(getattr(self, method)(content), client_id)

    async def guarded(self, action, client_id=None) -> None:
        """Run an action, answering its refusal (or an unexpected failure) with an error frame."""
        try:
            await action
        except errors.CommsError as exc:
            await self.send_error(exc.code, exc.detail, client_id, exc.as_dict())
            if isinstance(exc, errors.AccessChanged):
                await self.access_changed()
        except Http404:
            await self.send_error("not_found", errors.NotFound().detail, client_id)
        except Exception:
            log.exception("comms socket action failed")
            await self.send_error("server_error", _("Something went wrong; try again."), client_id)

    async def do_ping(self, content):
        await self.send_frame({"type": "pong"})

    async def do_read(self, content):
        """Reads are coalesced: the highest id asked for is written at most once per
        COMMS_READ_EVERY_SECONDS, so a flood of read frames costs one write a second."""
        message_id = services.clean_id(content.get("message_id"), "message_id")
        self.read_wanted = max(self.read_wanted or 0, message_id)
        if self.read_flush is not None:
            return
        wait = self.read_last + settings.COMMS_READ_EVERY_SECONDS - time.monotonic()
        if wait <= 0:
            await self.flush_read()
        else:
            self.read_flush = asyncio.get_running_loop().call_later(
                wait, lambda: asyncio.ensure_future(self.guarded(self.flush_read()))
            )

    async def flush_read(self) -> None:
        wanted, self.read_wanted, self.read_flush = self.read_wanted, None, None
        if wanted is None:
            return
        self.read_last = time.monotonic()
        _result, outbox = await self.call_read(**self.read_kwargs(wanted))
        await self.publish(outbox)

    async def call_read(self, **kwargs):
        return await self.call(self.read_service, **kwargs)

    def read_kwargs(self, message_id: int) -> dict:
        raise NotImplementedError

    async def access_changed(self) -> None:
        """An action was refused because the socket's session or access changed: recheck."""

    # --- events shared by both kinds ------------------------------------------------------------

    async def typing(self, event):
        if event.get("channel") != self.channel_name:
            await self.send_frame({"type": "typing", "actor": event["actor"]})

    async def read(self, event):
        await self.send_frame(
            {"type": "read", "actor": event["actor"], "message_id": event["message_id"]}
        )

    async def close_revoked(self, reason: str) -> None:
        if getattr(self, "closing", False):
            return
        self.closing = True
        await self.send_frame({"type": "closing", "reason": reason})
        await self.close(code=CLOSE_REVOKED)

    async def join(self, groups: list[str]) -> None:
        self.joined = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)

    # --- the channel layer going away and coming back (config.channel_layer) --------------------

    async def layer_down(self, event):
        await self.send_frame({"type": "live", "live": False})

    async def layer_up(self, event):
        await self.send_frame({"type": "live", "live": True})

    async def disconnect(self, code):
        if self.read_flush is not None:  # the last read asked for is written still
            self.read_flush.cancel()
            try:
                await self.flush_read()
            except Exception:  # access ended with the socket: nothing to write
                log.info("a closing socket's last read was not stored", exc_info=True)
        await self.presence_stop()
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)


class ConversationConsumer(SessionBound, ChatConsumer):
    """A staff member's socket on one conversation, bound to the browser session it was opened
    in (accounts.consumers.SessionBound): every action first checks that binding, in the same
    statement for sends."""

    actions = {
        "send": "do_send",
        "edit": "do_edit",
        "retract": "do_retract",
        "typing": "do_typing",
        "read": "do_read",
        "ping": "do_ping",
    }

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            loaded = await database_sync_to_async(self._load)(
                user, self.scope["url_route"]["kwargs"]["conversation_id"]
            )
        except Http404:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if loaded is None:  # no live session behind this socket
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.conversation, self.audience, seq = loaded
        self.user = user
        self.request = self.scope  # the audit ledger reads the client address and browser
        self.conversation_id = self.conversation.pk
        self.actor = presenters.user_actor(user)
        self.read_only = permissions.is_read_only(user)
        self.bucket = TokenBucket(settings.COMMS_SEND_RATE, settings.COMMS_SEND_BURST)
        self.last_typing = 0.0
        self.rechecking: asyncio.Future | None = None
        await self.join(
            [
                realtime.staff_group(self.conversation_id),
                *self.binding_groups(),
                realtime.ALL_STAFF_GROUP,
            ]
        )
        await self.accept()
        self.expiry_start()
        await self.presence_start()
        await self.send_frame(self.ready_frame(seq))

    def _load(self, user, conversation_id):
        if not self.bind(user):
            return None
        conversation = selectors.conversation_get_for(user, conversation_id)
        # Role flags are read here and cached on the user object until the next access change;
        # the binding's access_version keeps any write from using them once they are stale.
        audience = permissions.audience_for(user)
        permissions.is_read_only(user)
        permissions.is_manager(user)
        # The row was read just now: its change number is where this socket's page starts.
        return conversation, audience, conversation.seq

    async def call(self, fn, **kwargs):
        """Run a service in the database thread once the binding still holds (or refuse with
        access_changed); publish its after-commit broadcasts here."""
        return await database_sync_to_async(self._bound_call)(fn, kwargs)

    def _bound_call(self, fn, kwargs):
        if not self.binding_check():
            raise errors.AccessChanged()
        return events.run_collecting(fn, kwargs)

    def announce(self) -> bool:
        # The compliance officer watches silently.
        return not getattr(self, "read_only", False)

    def presence_groups(self) -> list[str]:
        groups = [realtime.staff_group(self.conversation_id)]
        if not self.conversation.is_internal:
            groups.append(realtime.customer_group(self.conversation_id))
        return groups

    def _limited(self) -> None:
        if not self.bucket.take():
            raise errors.RateLimited()

    # --- actions --------------------------------------------------------------------------------

    async def do_send(self, content):
        self._limited()
        if self._session_due() and not await database_sync_to_async(self.binding_check)():
            raise errors.AccessChanged()
        item = services.staff_draft(
            author=self.user,
            conversation=self.conversation,
            body=content.get("body"),
            client_id=content.get("client_id"),
            note=content.get("note", False),
            urgent=content.get("urgent", False),
            request=self.request,
            binding=self.binding,
            confirm_dlp=content.get("confirm_dlp", False),
        )
        self.follow(batching.submit(item), item.client_id)

    def ack_extra(self, result) -> dict:
        """A new message: when its notifications reach colleagues (held outside their working
        hours unless urgent), in the sender's time zone."""
        if not result.tells_delivery:
            return {}
        return {"delivery": result.delivery(working_hours.zone_of(self.user))}

    async def do_edit(self, content):
        self._limited()
        _result, outbox = await self.call(
            services.message_edit,
            editor=self.user,
            conversation=self.conversation,
            message_id=content.get("message_id"),
            body=content.get("body"),
            confirm_dlp=content.get("confirm_dlp", False),
            request=self.request,
        )
        await self.publish(outbox)

    async def do_retract(self, content):
        self._limited()
        _result, outbox = await self.call(
            services.message_retract,
            actor=self.user,
            conversation=self.conversation,
            message_id=content.get("message_id"),
            request=self.request,
        )
        await self.publish(outbox)

    async def do_typing(self, content):
        note = content.get("note", False) is True or self.conversation.is_internal
        now = time.monotonic()
        if self.read_only or now - self.last_typing < TYPING_EVERY_S:
            return
        self.last_typing = now
        may = await database_sync_to_async(self._may_type)()
        if may is None:
            raise errors.AccessChanged()
        if not may:
            await self.close_revoked("access_revoked")
            return
        event = {"type": "typing", "actor": self.actor, "channel": self.channel_name}
        await events.send_now(realtime.staff_group(self.conversation_id), event, self.channel_layer)
        if not note:
            await events.send_now(
                realtime.customer_group(self.conversation_id), event, self.channel_layer
            )

    def _may_type(self) -> bool | None:
        """One statement: the session binding and the conversation's visibility, both read
        afresh (no state that a lost access-change event could leave stale)."""
        if not self.session_open():
            return None
        return permissions.socket_may_view(self.user, self.conversation_id, self.binding)

    read_service = staticmethod(services.conversation_mark_read)

    def read_kwargs(self, message_id: int) -> dict:
        return {
            "user": self.user,
            "conversation": self.conversation,
            "message_id": message_id,
            "binding": self.binding,
        }

    async def call_read(self, **kwargs):
        """The read service checks the binding in its own UPDATE: no separate check first."""
        return await database_sync_to_async(self._read_call)(kwargs)

    def _read_call(self, kwargs):
        if not self.session_open():
            raise errors.AccessChanged()
        return events.run_collecting(self.read_service, kwargs)

    # --- events ---------------------------------------------------------------------------------

    async def _message_event(self, event):
        # Encoded once by the publisher for each kind of viewer (comms.presenters.message_frames).
        await self.send(text_data=event["frames"][self.audience])

    message_created = _message_event
    message_updated = _message_event
    message_retracted = _message_event

    async def conversation_updated(self, event):
        await self.send_frame(
            {"type": "conversation.updated", "conversation": event["conversation"]}
        )

    async def members_updated(self, event):
        await self.send_frame(
            {"type": "members.updated", "conversation_id": event["conversation_id"]}
        )

    async def access_recheck(self, event):
        ids = event.get("conversation_ids")
        if ids is not None and self.conversation_id not in ids:
            return
        await self.recheck()

    async def access_changed(self) -> None:
        await self.recheck()

    async def recheck(self) -> None:
        """Read the person afresh (session, activity, roles, team, manager) and go on with the
        new facts, or close: 4403 "signed_out" when the session has ended, "access_revoked"
        when the conversation is no longer theirs to see. Concurrent rechecks share one."""
        if self.rechecking is None or self.rechecking.done():
            self.rechecking = asyncio.ensure_future(database_sync_to_async(self._reload)())
        state = await asyncio.shield(self.rechecking)
        if state is None:
            await self.close_revoked("signed_out")
        elif state is False:
            await self.close_revoked("access_revoked")
        else:
            self.user, self.audience, self.read_only = state
            self.actor = presenters.user_actor(self.user)

    def _reload(self):
        user = self.binding_reload()
        if user is None:
            return None
        if not permissions.can_view(user, self.conversation):
            return False
        return user, permissions.audience_for(user), permissions.is_read_only(user)

    async def disconnect(self, code):
        self.expiry_stop()
        await super().disconnect(code)

    async def binding_lost(self, reason: str) -> None:
        await self.close_revoked(reason)

    async def connection_close(self, event):
        await self.close_revoked(event.get("reason", "revoked"))

    async def notification_message(self, event):
        """Notifications are for /ws/notifications/; this socket ignores them."""


class CustomerChatConsumer(ChatConsumer):
    """A customer's socket, scoped by the customer link to one conversation's customer view."""

    actions = {
        "send": "do_send",
        "typing": "do_typing",
        "read": "do_read",
        "ping": "do_ping",
        "edit": "do_refuse",
        "retract": "do_refuse",
    }

    async def connect(self):
        token = self.scope["url_route"]["kwargs"]["token"]
        try:
            self.link, seq = await database_sync_to_async(self._load)(token)
        except selectors.LinkRefused:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.conversation_id = self.link.conversation_id
        self.actor = presenters.contact_actor(self.link.contact)
        self.bucket = TokenBucket(settings.COMMS_SEND_RATE, settings.COMMS_SEND_BURST)
        self.last_typing = 0.0
        await self.join([realtime.customer_group(self.conversation_id)])
        await self.accept()
        await self.presence_start()
        await self.send_frame(self.ready_frame(seq))
        remaining = (self.link.expires_at - timezone.now()).total_seconds()
        self.expiry = asyncio.get_running_loop().call_later(
            max(remaining, 0) + 1, lambda: asyncio.ensure_future(self._expire())
        )

    @staticmethod
    def _load(token):
        link = selectors.customer_link_for_token(token)
        return link, link.conversation.customer_seq  # read with the link, just now

    async def _expire(self):
        if not await database_sync_to_async(permissions.customer_can_use)(self.link):
            await self.close_revoked("link_expired")

    def presence_groups(self) -> list[str]:
        return [
            realtime.staff_group(self.conversation_id),
            realtime.customer_group(self.conversation_id),
        ]

    async def disconnect(self, code):
        expiry = getattr(self, "expiry", None)
        if expiry is not None:
            expiry.cancel()
        await super().disconnect(code)

    # --- actions --------------------------------------------------------------------------------

    async def do_send(self, content):
        if content.get("note"):
            raise errors.Forbidden()
        if not self.bucket.take():
            raise errors.RateLimited()
        item = services.customer_draft(
            link=self.link,
            body=content.get("body"),
            client_id=content.get("client_id"),
            request=self.scope,
        )
        self.follow(batching.submit(item), item.client_id)

    async def do_refuse(self, content):
        raise errors.Forbidden()

    async def do_typing(self, content):
        now = time.monotonic()
        if now - self.last_typing < TYPING_EVERY_S:
            return
        self.last_typing = now
        if not await database_sync_to_async(permissions.customer_can_use)(self.link):
            await self.close_revoked("link_revoked")
            return
        await events.send_now(
            realtime.staff_group(self.conversation_id),
            {"type": "typing", "actor": self.actor, "channel": self.channel_name},
            self.channel_layer,
        )

    read_service = staticmethod(services.customer_mark_read)

    def read_kwargs(self, message_id: int) -> dict:
        return {"link": self.link, "message_id": message_id}

    # --- events: the customer group only ever carries the customer form --------------------------

    async def _message_event(self, event):
        await self.send(text_data=event["frame"])

    message_created = _message_event
    message_updated = _message_event
    message_retracted = _message_event
    agent_changed = _message_event

    async def access_recheck(self, event):
        if not await database_sync_to_async(permissions.customer_can_use)(self.link):
            await self.close_revoked("link_revoked")
