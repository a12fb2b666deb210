"""Inbound channel events: accepted once by the webhooks, processed by Celery in batches.

Accepting (`inbound_events_accept`) is one statement: an INSERT that skips rows whose (account,
kind, provider id) is stored already, so a provider repeating a delivery, even five times at the
same moment, adds no row. After commit `drain_soon` queues a drain unless one is queued or
running (a mark in the cache), so a burst of webhooks costs one task, not one each.

Draining (`inbound_events_drain`, the task `inbound_events_process`) takes the due pending events
oldest first, BATCH at a time: media are fetched first (network, outside any transaction), then
in one transaction the rows are locked (SKIP LOCKED: two drains never take the same event) and
each event, in a savepoint of its own, finds the contact by E.164 phone or email (an unknown
sender becomes a contact flagged new), finds or opens the conversation (connectors.routing),
stores the message through comms' one write path (audit and broadcast come from there;
external_id = the provider id; client_id derived from it, so a replay stores nothing twice),
records the contact's consent for the channel and the account the customer wrote to (replies go
out from it). A status event moves the delivery status of the outbound message it names
(comms.services.message_status_record). The batch's events are marked processed and committed
together; their socket frames go out together after the commit. An event that cannot be stored
now (a provider down, a status before its send is recorded) waits with a backoff
(next_attempt_at) and is given up, recorded with its reason, after MAX_ATTEMPTS; one that never
can is recorded failed at once. The beat task `inbound_events_due` queues a drain when events
are due and no webhook came to do it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import mimetypes
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import DatabaseError, connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from comms import errors as comms_errors
from comms import services as comms_services
from comms.models import Conversation, Message
from comms.services.messages import PendingFile
from config.celery import runs_inline
from config.errors import ServiceError
from config.events import published_together
from connectors import configs, crypto, mail, payloads, routing
from connectors.models import (
    ChannelAccount,
    ChannelKind,
    ConversationAccount,
    InboundEvent,
    OutboundDelivery,
)
from connectors.providers import ProviderError
from crm import phones
from crm import services as crm_services
from crm.models import Contact

log = logging.getLogger(__name__)

# client_id of a stored inbound message = uuid5(this, "<account id>:<provider id>[#part]").
CLIENT_ID_NAMESPACE = uuid.UUID("6b3f4a52-5d0e-4b8e-9a53-0c1f0e2d7a13")
Kind = InboundEvent.Kind


class RetryLater(Exception):
    """Processing cannot finish now but may later (a status for a send not yet recorded)."""


@dataclass(frozen=True)
class EventIn:
    """One item of a verified webhook, ready to store."""

    kind: str
    provider_id: str
    payload: dict


def message_event(message: payloads.InboundMessage) -> EventIn:
    return EventIn(Kind.MESSAGE, message.provider_id, message.as_json())


def status_event(status: payloads.StatusUpdate) -> EventIn:
    # One message has several statuses: each (id, status) is one event.
    return EventIn(Kind.STATUS, f"{status.provider_id}:{status.status}", status.as_json())


def email_event(parsed: mail.ParsedEmail, raw: bytes) -> EventIn:
    # The raw MIME is the record of the email: the message keeps the visible reply.
    return EventIn(Kind.MESSAGE, parsed.message_id, {"raw": base64.b64encode(raw).decode()})


# --- accepting --------------------------------------------------------------------------------


class AccountChanged(Exception):
    """A channel account was changed or switched off after the webhook read it: its events were
    not stored; read it again (fresh) and verify again."""


# Per process: (kind, key) -> the active ChannelAccount as last read (key: the WhatsApp
# phone_number_id, else the account id), so a webhook costs no query to find its account. Never
# trusted alone: the INSERT that stores events matches its account's row (id, active,
# updated_at, which every save moves) in the same statement, so an account changed, its secrets
# rotated or switched off since it was read stores nothing (AccountChanged), and a signature
# that the remembered secret refuses is checked again against a fresh read (connectors.webhooks).
_accounts: dict[tuple[str, str], ChannelAccount] = {}


def webhook_accounts(
    kind: str, keys: set[str], *, fresh: bool = False
) -> tuple[dict[str, ChannelAccount], bool]:
    """The active accounts of `kind` for `keys` (absent: no such active account), and whether any
    came from this process's memory rather than a read just now."""
    found = {} if fresh else {k: a for k in keys if (a := _accounts.get((kind, k))) is not None}
    remembered = bool(found)
    missing = set(keys) - set(found)
    if missing:
        active = ChannelAccount.objects.filter(kind=kind, is_active=True).order_by()
        whatsapp = kind == ChannelKind.WHATSAPP
        if whatsapp:
            active = active.filter(settings__phone_number_id__in=sorted(missing))
        else:
            active = active.filter(pk__in=[int(k) for k in missing if k.isascii() and k.isdigit()])
        for account in active:
            key = str(account.setting("phone_number_id") if whatsapp else account.pk)
            if key in missing:
                found[key] = _accounts[(kind, key)] = account
        for key in missing - set(found):
            _accounts.pop((kind, key), None)
    return found, remembered


def inbound_events_accept(*, events: list[tuple[ChannelAccount, EventIn]]) -> None:
    """Store verified webhook items once and, after commit, make sure a drain will run
    (`drain_soon`). One INSERT ... SELECT: a row is stored only while its account's row is as the
    caller read it (id, active, updated_at), and none whose (account, kind, provider id) is
    stored already (a repeat). Raises AccountChanged when an account no longer matches."""
    if not events:
        return
    with connection.cursor() as cursor:
        cursor.execute(*_insert_sql(events))
        stored = cursor.rowcount
    if stored < len(events):
        # Repeats, or an account that changed since it was read: ask which (repeats only).
        read = {account.pk: account.updated_at for account, _ in events}
        now = dict(
            ChannelAccount.objects.filter(pk__in=read, is_active=True).values_list(
                "pk", "updated_at"
            )
        )
        changed = {pk for pk, at in read.items() if now.get(pk) != at}
        if changed:
            for key, account in list(_accounts.items()):
                if account.pk in changed:
                    _accounts.pop(key, None)
            raise AccountChanged
    if stored:
        transaction.on_commit(drain_soon)


def _insert_sql(events: list[tuple[ChannelAccount, EventIn]]) -> tuple[str, list]:
    """INSERT ... SELECT of the events, each row on the condition that its account row is
    unchanged; ON CONFLICT DO NOTHING skips repeats (PostgreSQL and SQLite alike)."""
    meta, accounts = InboundEvent._meta, ChannelAccount._meta.db_table
    quote = connection.ops.quote_name
    payload_field, at_field = meta.get_field("payload"), meta.get_field("received_at")
    updated_field = ChannelAccount._meta.get_field("updated_at")
    now = at_field.get_db_prep_save(timezone.now(), connection)
    a_id, a_active, a_updated = quote("id"), quote("is_active"), quote("updated_at")
    # Names from the models' meta, values as parameters.
    select = f"SELECT a.{a_id}, %s, %s, %s, %s, '', 0 FROM {quote(accounts)} a "  # noqa: S608
    select += f"WHERE a.{a_id} = %s AND a.{a_active} AND a.{a_updated} = %s"
    params: list = []
    for account, event in events:
        params += [
            event.kind,
            event.provider_id[:255],
            payload_field.get_db_prep_save(event.payload, connection),
            now,
            account.pk,
            updated_field.get_db_prep_save(account.updated_at, connection),
        ]
    names = ("account", "kind", "provider_id", "payload", "received_at", "error", "attempts")
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "
        + " UNION ALL ".join([select] * len(events))
        + " ON CONFLICT DO NOTHING"
    )
    return sql, params


def drain_soon() -> None:
    """Queue a drain unless one is queued or running: the mark (a cache key, expiring after
    DRAIN_MARK_TTL_S in case its drain is lost) is set here and kept fresh by the running drain,
    which clears it only once it finds nothing due, and then looks once more (an event stored
    while the mark was still set queued nothing). Inline (no broker: tests, the embedded demo)
    every call drains."""
    from connectors.tasks import inbound_events_process

    if not runs_inline() and not cache.add(DRAIN_MARK, 1, timeout=DRAIN_MARK_TTL_S):
        return
    inbound_events_process.delay()


# --- processing -------------------------------------------------------------------------------


@dataclass
class Incoming:
    """An inbound message made ready to store (media already fetched)."""

    provider_id: str
    phone: str = ""
    email: str = ""
    name: str = ""
    subject: str = ""
    thread_keys: list[str] = field(default_factory=list)
    # (body, file) parts: the first carries the text; each further file is a message of its own.
    parts: list[tuple[str, PendingFile | None]] = field(default_factory=list)


BATCH = 50  # events per transaction
# Tries before an event is given up (recorded with its reason): retried after 2, 4, ... 256 s,
# about 8.5 minutes in all (a status may come before its send is recorded; a provider may be
# down for a while). Inline (no broker) the tries follow one another at once.
MAX_ATTEMPTS = 9
DRAIN_MARK = "connectors:inbound:drain-queued"
DRAIN_MARK_TTL_S = 10


def inbound_events_drain() -> int:
    """Process every due pending event, oldest first, BATCH to a transaction (one commit, their
    socket frames published together after it). Returns how many were settled. Stops when none
    is due (see `drain_soon` for the mark), or when those due are being processed by another
    drain (rows locked: SKIP LOCKED), which carries on."""
    settled = 0
    while True:
        ids = _due_ids()
        if not ids:
            cache.delete(DRAIN_MARK)
            if not _due_ids(limit=1):
                return settled
            if not cache.add(DRAIN_MARK, 1, timeout=DRAIN_MARK_TTL_S):
                return settled  # stored meanwhile, and its webhook queued the next drain
            continue
        done = _process_batch(ids)
        if not done:
            return settled
        cache.set(DRAIN_MARK, 1, timeout=DRAIN_MARK_TTL_S)  # still draining: no new drain needed
        settled += done


def inbound_events_due_exist() -> bool:
    return bool(_due_ids(limit=1))


def _due_ids(limit: int = BATCH) -> list[int]:
    return list(
        InboundEvent.objects.filter(processed_at__isnull=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
        .order_by("received_at", "pk")  # the pending rows' partial index, not the whole table
        .values_list("pk", flat=True)[:limit]
    )


def _needs_network(event: InboundEvent) -> bool:
    """A WhatsApp or Twilio message with media: fetched before the batch's transaction opens."""
    return (
        event.kind == Kind.MESSAGE
        and event.account.kind != ChannelKind.EMAIL
        and bool(event.payload.get("media"))
    )


def _process_batch(ids: list[int]) -> int:
    events = list(
        InboundEvent.objects.select_related("account", "account__team")
        .filter(pk__in=ids, processed_at__isnull=True)
        .order_by("received_at", "pk")
    )
    prepared: dict[int, Incoming] = {}
    verdicts: dict[int, tuple[str, str]] = {}
    for event in events:
        if _needs_network(event):
            try:
                prepared[event.pk] = _prepare(event)  # network, outside any transaction
            except Exception as error:  # noqa: BLE001 (sorted by _verdict; a database error re-raised)
                verdicts[event.pk] = _verdict(event, error)
    with published_together(), transaction.atomic():
        locked = set(
            InboundEvent.objects.select_for_update(skip_locked=True)
            .filter(pk__in=[e.pk for e in events], processed_at__isnull=True)
            .values_list("pk", flat=True)
        )
        for event in events:  # parsing only: the network ones are prepared above
            if event.kind != Kind.MESSAGE or event.pk not in locked:
                continue
            if event.pk not in prepared and event.pk not in verdicts:
                try:
                    prepared[event.pk] = _prepare(event)
                except Exception as error:  # noqa: BLE001 (sorted by _verdict)
                    verdicts[event.pk] = _verdict(event, error)
        seen = _BatchLookups.fetch([e for e in events if e.pk in prepared], prepared)
        stored = []
        for event in events:
            if event.pk not in locked:
                continue  # another drain has it
            verdict = verdicts.get(event.pk)
            if verdict is None:
                try:
                    with transaction.atomic():  # one event's savepoint
                        if event.kind == Kind.MESSAGE:
                            _store_message(event, prepared[event.pk], seen)
                        else:
                            _store_status(event)
                    seen.keep()
                    stored.append(event.pk)
                    continue
                except Exception as error:  # noqa: BLE001 (sorted by _verdict)
                    seen.drop()
                    verdict = _verdict(event, error)
            _settle(event, *verdict)
        InboundEvent.objects.filter(pk__in=stored).update(processed_at=timezone.now(), error="")
    return len(locked)


def _verdict(event: InboundEvent, error: Exception) -> tuple[str, str]:
    """("retry" | "fail", reason) for an event that could not be stored. A database error is
    raised again (the batch rolls back and is tried again whole); anything else unexpected fails
    this event alone, logged with its traceback, so one bad event never holds up the others."""
    if isinstance(error, DatabaseError):
        raise error
    if isinstance(error, ProviderError):
        return ("retry" if error.retryable else "fail", error.reason)
    if isinstance(error, RetryLater | crypto.SecretsUnreadable):
        return "retry", str(error)
    if isinstance(error, ValidationError):  # a sender's number libphonenumber cannot take
        return "fail", "; ".join(error.messages)
    if isinstance(error, payloads.PayloadError | mail.MailError | ServiceError | ValueError):
        return "fail", str(error) or error.__class__.__name__
    log.exception("inbound event %s could not be processed", event.pk)
    return "fail", f"{error.__class__.__name__}: {error}"


def _settle(event: InboundEvent, verdict: str, reason: str) -> None:
    attempts = event.attempts + 1
    if verdict == "fail" or attempts >= MAX_ATTEMPTS:
        inbound_event_fail(event_id=event.pk, reason=reason)
        return
    later = 0 if runs_inline() else 2**attempts
    InboundEvent.objects.filter(pk=event.pk).update(
        attempts=attempts,
        error=reason[:2000],
        next_attempt_at=timezone.now() + dt.timedelta(seconds=later),
    )


def inbound_event_fail(*, event_id: int, reason: str) -> None:
    """Give up on an event: processed, with the reason (shown in the admin), logged."""
    log.warning("inbound event %s not processed: %s", event_id, reason)
    InboundEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
        processed_at=timezone.now(), error=reason[:2000]
    )


def _client_id(account: ChannelAccount, provider_id: str, part: int) -> uuid.UUID:
    suffix = f"#{part}" if part else ""
    return uuid.uuid5(CLIENT_ID_NAMESPACE, f"{account.pk}:{provider_id}{suffix}")


def _file_name(name: str, mime_type: str, fallback: str) -> str:
    if name:
        return comms_services.attachment_name(name)
    extension = mimetypes.guess_extension(mime_type or "") or ""
    return f"{fallback}{extension}"


def _pending(content: bytes, name: str, mime_type: str) -> PendingFile | str:
    """A checked file for the write path, or the note said in its place when it is refused."""
    if len(content) > settings.COMMS_ATTACHMENT_MAX_BYTES:
        return _("(A file was not kept: %(name)s is too large.)") % {"name": name}
    try:
        content_type = comms_services.attachment_content_type(name, mime_type)
    except comms_errors.FileTypeRefused:
        return _("(A file was not kept: %(name)s, type %(type)s is not accepted.)") % {
            "name": name,
            "type": mime_type or "?",
        }
    return PendingFile(
        ContentFile(content, name=name),
        name,
        content_type,
        len(content),
        hashlib.sha256(content).hexdigest(),
    )


def _parts(text: str, files: list[PendingFile | str]) -> list[tuple[str, PendingFile | None]]:
    notes = [f for f in files if isinstance(f, str)]
    kept = [f for f in files if not isinstance(f, str)]
    body = "\n".join([t for t in [text.strip(), *notes] if t])
    body = body.replace("\x00", "")[: settings.COMMS_MAX_BODY]
    parts: list[tuple[str, PendingFile | None]] = [(body, kept[0] if kept else None)]
    parts += [("", f) for f in kept[1:]]
    return parts


def _prepare(event: InboundEvent) -> Incoming:
    account = event.account
    if account.kind == ChannelKind.EMAIL:
        return _prepare_email(event)
    message = payloads.InboundMessage.from_json(event.payload)
    files: list[PendingFile | str] = []
    for index, media in enumerate(message.media):
        if message.provider == payloads.WHATSAPP:
            fetched = configs.whatsapp_client(account).fetch_media(media.media_id)
        else:
            fetched = configs.twilio_client(account).fetch_media(media.url)
        mime_type = media.mime_type or fetched.mime_type
        name = _file_name(media.filename or fetched.filename, mime_type, f"media-{index + 1}")
        files.append(_pending(fetched.content, name, mime_type))
    text = message.text or next((m.caption for m in message.media if m.caption), "")
    return Incoming(
        provider_id=message.provider_id,
        phone=phones.normalise(message.from_address),
        name=message.contact_name,
        parts=_parts(text, files),
    )


def _prepare_email(event: InboundEvent) -> Incoming:
    parsed = mail.parse(base64.b64decode(event.payload["raw"]))
    files: list[PendingFile | str] = [
        _pending(a.content, _file_name(a.filename, a.content_type, "attachment"), a.content_type)
        for a in parsed.attachments
        if not a.inline
    ]
    text = mail.visible_reply(parsed.text) or parsed.subject or _("(no text)")
    return Incoming(
        provider_id=parsed.message_id,
        email=parsed.from_address,
        name=parsed.from_name,
        subject=parsed.subject,
        thread_keys=mail.thread_keys(parsed),
        parts=_parts(text, files),
    )


@dataclass
class _BatchLookups:
    """What one batch (one transaction) has read or written already: the senders' contacts and
    their latest conversation per channel, read for the whole batch in one query each instead of
    two per event, and the consents and reply accounts recorded. What an event learns is kept
    only once its savepoint is released (`keep`); a rolled-back event's contact or conversation
    never existed (`drop`)."""

    contacts: dict[str, Contact | None] = field(default_factory=dict)  # "phone:…" / "email:…"
    conversations: dict[tuple[int, str], Conversation] = field(default_factory=dict)
    consents: set[tuple[int, str]] = field(default_factory=set)
    replies_from: set[tuple[int, int]] = field(default_factory=set)  # (conversation, account)
    staged: list[tuple[str, object, object]] = field(default_factory=list)

    @classmethod
    def fetch(cls, events: list[InboundEvent], prepared: dict[int, Incoming]) -> _BatchLookups:
        seen = cls()
        phones = {prepared[e.pk].phone for e in events if prepared[e.pk].phone}
        emails = {
            prepared[e.pk].email.lower()
            for e in events
            if not prepared[e.pk].phone and prepared[e.pk].email
        }
        found: list[Contact] = []
        if phones:
            rows = _contacts().filter(phones__number__in=phones).annotate(key=F("phones__number"))
            for contact in rows:
                seen.contacts.setdefault(f"phone:{contact.key}", contact)
                found.append(contact)
        if emails:
            rows = _contacts().filter(emails__email__in=emails).annotate(key=F("emails__email"))
            for contact in rows:
                seen.contacts.setdefault(f"email:{contact.key}", contact)
                found.append(contact)
        for key in {f"phone:{p}" for p in phones} | {f"email:{e}" for e in emails}:
            seen.contacts.setdefault(key, None)  # looked up: nobody has it (yet)
        kinds = {e.account.kind for e in events} - {ChannelKind.EMAIL}  # email: by thread
        ids = {c.pk for c in found}
        for kind in kinds if ids else ():
            latest = _conversations(kind).filter(contact=OuterRef("pk")).values("pk")[:1]
            wanted = Contact.objects.filter(pk__in=ids).annotate(c=Subquery(latest)).values("c")
            for conversation in _conversations(kind).filter(pk__in=wanted):
                seen.conversations[(conversation.contact_id, kind)] = conversation
        return seen

    def stage(self, kind: str, key, value) -> None:
        self.staged.append((kind, key, value))

    def keep(self) -> None:
        for kind, key, value in self.staged:
            if kind == "contact":
                self.contacts[key] = value
            elif kind == "conversation":
                self.conversations[key] = value
            elif kind == "consent":
                self.consents.add(key)
            else:
                self.replies_from.add(key)
        self.staged.clear()

    def drop(self) -> None:
        self.staged.clear()


def _contacts():
    """Contacts as a sender is matched to one: the active before the archived, then the oldest."""
    return Contact.objects.select_related("owner").order_by(
        F("archived_at").asc(nulls_first=True), "pk"
    )


def _conversations(kind: str):
    """A contact's conversations of one channel, the latest first."""
    return (
        Conversation.objects.select_related("contact", "assignee")
        .filter(kind=kind)
        .order_by("-last_message_at", "-pk")
    )


def _find_contact(incoming: Incoming) -> Contact | None:
    if incoming.phone:
        return _contacts().filter(phones__number=incoming.phone).first()
    return _contacts().filter(emails__email=incoming.email.lower()).first()


def _contact_key(incoming: Incoming) -> str:
    return f"phone:{incoming.phone}" if incoming.phone else f"email:{incoming.email.lower()}"


def _contact_for(account: ChannelAccount, incoming: Incoming, seen: _BatchLookups) -> Contact:
    key = _contact_key(incoming)
    contact = seen.contacts[key] if key in seen.contacts else _find_contact(incoming)
    if contact is not None:
        return contact
    # An unknown sender: one contact even when two of their messages are processed at once.
    ChannelAccount.objects.select_for_update().filter(pk=account.pk).first()
    contact = _find_contact(incoming)
    if contact is not None:
        seen.stage("contact", key, contact)
        return contact
    owner = routing.new_contact_owner(account)
    if owner is None:
        raise ValueError(_("Nobody can own a new contact: the channel's team has no one active."))
    contact = crm_services.contact_create_inbound(
        owner=owner,
        first_name=incoming.name,
        email=incoming.email,
        phone=incoming.phone,
        channel=account.kind,
    )
    seen.stage("contact", key, contact)
    return contact


def _find_conversation(account, contact, incoming: Incoming) -> Conversation | None:
    qs = _conversations(account.kind).filter(contact=contact)
    if account.kind == ChannelKind.EMAIL:
        if not incoming.thread_keys:
            return None
        found = (
            Message.objects.filter(
                external_id__in=incoming.thread_keys,
                conversation__kind="email",
                conversation__contact=contact,
            )
            .order_by("-pk")
            .values_list("conversation_id", flat=True)
            .first()
        )
        return qs.filter(pk=found).first() if found else None
    return qs.first()


def _conversation_for(account, contact, incoming: Incoming, seen: _BatchLookups) -> Conversation:
    key = (contact.pk, account.kind)
    conversation = seen.conversations.get(key)
    if conversation is not None:
        return conversation
    conversation = _find_conversation(account, contact, incoming)
    if conversation is None:
        Contact.objects.select_for_update().filter(pk=contact.pk).first()
        conversation = _find_conversation(account, contact, incoming)
    if conversation is None:
        ChannelAccount.objects.select_for_update().filter(pk=account.pk).first()  # round-robin
        conversation = comms_services.conversation_open_inbound(
            contact=contact,
            kind=account.kind,
            subject=incoming.subject,
            owner=routing.inbound_owner(account, contact),
        )
    if account.kind != ChannelKind.EMAIL:  # email: each message's thread decides
        seen.stage("conversation", key, conversation)
    return conversation


def _consent(contact: Contact, kind: str, seen: _BatchLookups) -> None:
    """The contact wrote to us on this channel: their consent for it, unless one is recorded."""
    if (contact.pk, kind) not in seen.consents:
        crm_services.contact_consent_inbound(contact=contact, channel=kind)
        seen.stage("consent", (contact.pk, kind), None)


def _store_message(event: InboundEvent, incoming: Incoming, seen: _BatchLookups) -> None:
    account = event.account
    contact = _contact_for(account, incoming, seen)
    conversation = _conversation_for(account, contact, incoming, seen)
    for part, (body, file) in enumerate(incoming.parts):
        external_id = incoming.provider_id if not part else f"{incoming.provider_id}#{part}"
        comms_services.message_inbound_record(
            conversation=conversation,
            body=body,
            client_id=_client_id(account, incoming.provider_id, part),
            external_id=external_id[:200],
            file=file,
        )
    _consent(contact, account.kind, seen)
    if (conversation.pk, account.pk) not in seen.replies_from:
        ConversationAccount.objects.bulk_create(
            [
                ConversationAccount(
                    conversation=conversation, account=account, updated_at=timezone.now()
                )
            ],
            update_conflicts=True,
            unique_fields=["conversation"],
            update_fields=["account", "updated_at"],
        )
        seen.stage("replies_from", (conversation.pk, account.pk), None)


def _outbound_message_id(account: ChannelAccount, provider_id: str) -> int | None:
    found = (
        Message.objects.filter(
            external_id=provider_id,
            direction=Message.Direction.OUTBOUND,
            conversation__kind=account.kind,
        )
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        found = (
            OutboundDelivery.objects.filter(account=account, provider_id=provider_id)
            .values_list("message_id", flat=True)
            .first()
        )
    return found


def _store_status(event: InboundEvent) -> None:
    update = payloads.StatusUpdate.from_json(event.payload)
    message_id = _outbound_message_id(event.account, update.provider_id)
    if message_id is None:
        # The provider may report before the send's own transaction has recorded its id.
        raise RetryLater(f"no outbound message with provider id {update.provider_id}")
    comms_services.message_status_record(
        message_id=message_id, status=update.status, at=update.timestamp, reason=update.error
    )
    if update.status == payloads.FAILED:
        OutboundDelivery.objects.filter(message_id=message_id).update(error=update.error)
