import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from accounts import permissions, realtime, selectors, services

# 4401: not signed in; 4403: access withdrawn (session ended, user deactivated, share revoked).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403


class SessionBound:
    """For every signed-in socket: it belongs to the browser session it was opened in.

    It joins user.<id> and session.<digest>, so sign-out, "sign out that session", a password
    change, deactivation and any access change reach it at once; it closes when the session
    expires; and `binding_check()` (one query, in the database thread) refuses any action once
    the session has ended or the person's access_version has moved (see
    accounts.permissions.socket_binding_sql)."""

    binding: permissions.SocketBinding | None = None
    session_expires_at = None
    expiry_timer = None

    def bind(self, user) -> bool:
        """In the database thread, at connect: the scope's session is live and this person's."""
        binding = permissions.socket_binding_for(user, self.scope.get("session"))
        if binding is None or not permissions.socket_binding_is_live(binding):
            return False
        expires = selectors.socket_session_expiry(
            session_key=binding.session_key, user_id=binding.user_id
        )
        if expires is None:
            return False
        self.binding, self.session_expires_at = binding, expires
        return True

    def binding_groups(self) -> list[str]:
        return [
            realtime.user_group(self.binding.user_id),
            realtime.session_group(self.binding.session_key),
        ]

    def session_open(self) -> bool:
        """In the database thread: the socket has a binding and its session has not expired
        (its expiry is read again once due). What else the binding needs is checked after."""
        if self.binding is None:
            return False
        return not (self._session_due() and not self._session_renewed())

    def binding_check(self) -> bool:
        """In the database thread, before an action: the socket may still act."""
        return self.session_open() and permissions.socket_binding_is_live(self.binding)

    def binding_reload(self):
        """In the database thread, on an access change: the person read afresh with a new
        binding, or None when the session has ended (or expired) or they are inactive."""
        if not self.session_open():
            return None
        user = selectors.socket_user_reload(
            user_id=self.binding.user_id, session_key=self.binding.session_key
        )
        if user is None:
            return None
        self.binding = permissions.SocketBinding(
            user.pk, self.binding.session_key, user.access_version
        )
        return user

    def _session_due(self) -> bool:
        return self.session_expires_at is not None and timezone.now() >= self.session_expires_at

    def _session_renewed(self) -> bool:
        expires = selectors.socket_session_expiry(
            session_key=self.binding.session_key, user_id=self.binding.user_id
        )
        if expires is None or expires <= timezone.now():
            services.user_session_mark_ended(
                session_key=self.binding.session_key, reason="session_expired"
            )
            return False
        self.session_expires_at = expires
        return True

    def expiry_start(self) -> None:
        """Close the socket when its session expires (re-read then: activity may extend it)."""
        if self.session_expires_at is None:
            return
        delay = max((self.session_expires_at - timezone.now()).total_seconds(), 0) + 1
        self.expiry_timer = asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(self._expiry_due())
        )

    async def _expiry_due(self) -> None:
        if await database_sync_to_async(self.binding_check)():
            self.expiry_start()
            return
        await self.binding_lost("session_expired")

    def expiry_stop(self) -> None:
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
            self.expiry_timer = None

    async def binding_lost(self, reason: str) -> None:
        """Tell the page why, then close (4403)."""
        await self.send(text_data=json.dumps({"type": "closing", "reason": reason}))
        await self.close(code=CLOSE_REVOKED)


class NotificationConsumer(SessionBound, AsyncJsonWebsocketConsumer):
    """One socket per open tab; joins user.<id> so any app can notify or disconnect the person."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await database_sync_to_async(self.bind)(user):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.joined = self.binding_groups()
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.expiry_start()
        await self.send_json({"type": "hello", "user": user.pk})

    async def disconnect(self, code):
        self.expiry_stop()
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def access_recheck(self, event):
        if await database_sync_to_async(self.binding_reload)() is None:
            await self.binding_lost("signed_out")

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "__malformed__":
            await self.send_json({"type": "error", "error": "malformed_json"})
        else:
            await self.send_json({"type": "error", "error": "unknown_action"})

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except ValueError:
            return {"type": "__malformed__"}

    async def connection_close(self, event):
        await self.send_json({"type": "closing", "reason": event.get("reason", "revoked")})
        await self.close(code=CLOSE_REVOKED)

    async def notification_message(self, event):
        await self.send_json(event["payload"])

    async def layer_down(self, event):
        """The channel layer went away or came back (config.channel_layer): notifications are
        not stored, so there is nothing to catch up."""

    layer_up = layer_down
