"""Outbound: staff replies in WhatsApp, SMS and email conversations reach the customer.

comms stores a staff message in a channel conversation as `queued` through its one write path and
asks the channel registry (filled in connectors' AppConfig.ready) twice:
- before storing, `send_check`: refuses the send (nothing stored) when no active account can
  carry it, the contact has no consent recorded for the channel, or, on WhatsApp, the 24-hour
  customer-service window is closed and the message is not an approved template;
- inside the storing transaction, `deliveries_record`: one OutboundDelivery(pending) per message,
  and `connectors.tasks.outbound_send(delivery_id)` queued after commit.

`delivery_attempt` sends a delivery at most once to the provider: under the row lock it moves
pending -> sending and commits before the HTTP call, so a second worker (a redelivered task, a
duplicate) sees `sending` and never calls the provider again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import httpx
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from comms import services as comms_services
from comms.models import Attachment, Conversation, Message
from connectors import crypto, mail
from connectors.models import ChannelAccount, ChannelKind, MessageTemplate, OutboundDelivery
from connectors.providers import ProviderError
from connectors.providers.smtp import SmtpConfig, send_email
from connectors.providers.twilio import TwilioClient, TwilioConfig
from connectors.providers.whatsapp import WhatsAppClient, WhatsAppConfig
from crm.models import ContactConsent

logger = logging.getLogger(__name__)

State = OutboundDelivery.State
WINDOW = dt.timedelta(hours=24)
MAX_ATTEMPTS = 8
BACKOFF_BASE = 15.0  # seconds: 15, 30, 60, ... capped
MAX_BACKOFF = 600.0
SEND_TIMEOUT = 10.0  # seconds to wait for a provider's answer


def ambiguous_reason() -> str:
    return _("The provider did not answer; it may have been sent — check before resending.")


# --- which account, which address ----------------------------------------------------------------


def account_for(conversation: Conversation) -> ChannelAccount | None:
    """The active account of the conversation's kind that sends its messages: the one the
    customer last wrote to (ConversationAccount), else the one of the conversation's team, else
    the oldest active one of its kind (a stable choice)."""
    accounts = ChannelAccount.objects.filter(kind=conversation.kind, is_active=True).order_by(
        "created_at", "pk"
    )
    heard_on = accounts.filter(conversation_links__conversation_id=conversation.pk).first()
    if heard_on is not None:
        return heard_on
    if conversation.team_id is not None:
        own = accounts.filter(team_id=conversation.team_id).first()
        if own is not None:
            return own
    return accounts.first()


def recipient(conversation: Conversation) -> str:
    """The contact's address on the conversation's channel: their primary phone number (WhatsApp,
    SMS) or email address, else the first one recorded; "" when they have none."""
    if conversation.contact_id is None:
        return ""
    contact = conversation.contact
    if conversation.kind == ChannelKind.EMAIL:
        found = contact.emails.order_by("-is_primary", "pk").values_list("email", flat=True).first()
    else:
        found = contact.phones.order_by("-is_primary", "pk").values_list("number", flat=True)
        found = found.first()
    return found or ""


# --- WhatsApp's customer-service window ----------------------------------------------------------


def last_inbound_at(conversation: Conversation) -> dt.datetime | None:
    return (
        Message.objects.filter(conversation_id=conversation.pk, direction=Message.Direction.INBOUND)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def whatsapp_window_for(conversation: Conversation) -> dict:
    """For the composer: whether free text may be sent now (WhatsApp: within 24 hours of the
    customer's last message; other kinds: always), until when, and the approved templates of
    the sending account when it may not."""
    if conversation.kind != ChannelKind.WHATSAPP:
        return {"applies": False, "open": True, "closes_at": None, "templates": []}
    closes_at = whatsapp_window_closes_at(conversation)
    is_open = closes_at is not None and timezone.now() < closes_at
    templates = []
    if not is_open:
        account = account_for(conversation)
        if account is not None:
            templates = list(approved_templates(account))
    return {"applies": True, "open": is_open, "closes_at": closes_at, "templates": templates}


def whatsapp_window_closes_at(conversation: Conversation):
    """When free text stops being allowed (24 hours after the customer's last message; None:
    the customer never wrote)."""
    last = last_inbound_at(conversation)
    return last + WINDOW if last is not None else None


def approved_templates(account: ChannelAccount):
    return MessageTemplate.objects.filter(account=account, approved=True).order_by(
        "name", "language"
    )


# --- the registry's check and hook ----------------------------------------------------------------


def send_check(conversation: Conversation, options: dict) -> str | None:
    """Why a staff message may not be sent to this conversation's customer now, or None."""
    account = account_for(conversation)
    if account is None:
        return _("No active %(channel)s account is configured, so this cannot be sent.") % {
            "channel": conversation.get_kind_display()
        }
    if not recipient(conversation):
        if conversation.kind == ChannelKind.EMAIL:
            return _("The contact has no email address.")
        return _("The contact has no phone number.")
    consent = ContactConsent.objects.filter(
        contact_id=conversation.contact_id, channel=conversation.kind
    ).first()
    if consent is None or consent.status != ContactConsent.Status.GRANTED:
        return _(
            "The contact has not agreed to be contacted by %(channel)s: record their consent "
            "before writing to them."
        ) % {"channel": conversation.get_kind_display()}
    if conversation.kind == ChannelKind.SMS and options.get("file"):
        return _("Files cannot be sent by SMS: send it by WhatsApp or email.")
    free_text = conversation.kind == ChannelKind.WHATSAPP and not options.get("template")
    if free_text and not whatsapp_window_for(conversation)["open"]:
        return _("The 24-hour window is closed: only approved templates can be sent.")
    return None


def deliveries_record(messages: list[tuple[Message, Conversation, dict]]) -> None:
    """One pending delivery per stored queued message (inside the storing transaction, so a
    message never exists without its delivery); each send queued after commit."""
    rows = []
    for message, conversation, options in messages:
        account = account_for(conversation)
        if account is None:  # send_check refused this before; an account switched off since
            continue
        rows.append(
            OutboundDelivery(
                message=message, account=account, template=options.get("template") or {}
            )
        )
    created = OutboundDelivery.objects.bulk_create(rows)
    ids = [d.pk for d in created]

    def queue():
        from connectors.tasks import outbound_send

        for delivery_id in ids:
            outbound_send.delay(delivery_id)

    transaction.on_commit(queue)


# --- one attempt ----------------------------------------


def _backoff(attempts: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(max(retry_after, 1.0), MAX_BACKOFF)
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def _ambiguous(error: ProviderError) -> bool:
    """The request reached the provider and no answer came back: it may have been sent.
    Connect errors and connect timeouts never reached it (safe to retry); a read timeout, a
    dropped connection while waiting for the answer, a failed write of the body may have."""
    if getattr(error, "ambiguous", False):  # SMTP: connected, then silence (providers.smtp)
        return True
    cause = error.__cause__
    return isinstance(
        cause,
        httpx.ReadTimeout
        | httpx.WriteTimeout
        | httpx.ReadError
        | httpx.WriteError
        | httpx.RemoteProtocolError,
    )


def delivery_attempt(*, delivery_id: int) -> float | None:
    """Send one delivery to its provider, at most once. Returns the seconds to wait before
    trying again (retryable failure, delivery back to pending with next_attempt_at), or None
    when done: sent (provider id stored, message status sent), failed (reason on the message)
    or nothing to do. Status changes go through comms' message_status_record (audited,
    broadcast)."""
    with transaction.atomic():
        delivery = OutboundDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.state in (State.SENT, State.FAILED):
            return None
        if delivery.state == State.SENDING:
            # A worker died during the provider call (the task came back through acks_late):
            # the provider may have sent it. Never resent blindly; staff check and resend.
            _fail(delivery, ambiguous_reason())
            return None
        now = timezone.now()
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return (delivery.next_attempt_at - now).total_seconds()  # early: not yet
        delivery.state = State.SENDING
        delivery.attempts += 1
        delivery.save(update_fields=["state", "attempts", "updated_at"])
    # Committed: from here a second worker sees `sending` and leaves it alone.
    message = Message.objects.select_related("conversation__contact").get(pk=delivery.message_id)
    if _window_closed_since(delivery, message.conversation):
        _fail(delivery, window_closed_reason())
        return None
    try:
        provider_id = _call_provider(delivery, message)
    except ProviderError as error:
        if _ambiguous(error):
            # A read timeout after the request went out: the provider may have accepted it and
            # a resend could reach the customer twice. Failed, said plainly; staff decide.
            _fail(delivery, ambiguous_reason())
            return None
        if error.retryable and delivery.attempts < MAX_ATTEMPTS:
            delay = _backoff(delivery.attempts, error.retry_after)
            OutboundDelivery.objects.filter(pk=delivery.pk).update(
                state=State.PENDING,
                error=error.reason[:2000],
                next_attempt_at=timezone.now() + dt.timedelta(seconds=delay),
                updated_at=timezone.now(),
            )
            return delay
        _fail(delivery, error.reason)
        return None
    except (mail.MailError, ValueError) as error:
        _fail(delivery, str(error))
        return None
    with transaction.atomic():
        OutboundDelivery.objects.filter(pk=delivery.pk).update(
            state=State.SENT,
            provider_id=provider_id[:255],
            error="",
            next_attempt_at=None,
            updated_at=timezone.now(),
        )
        Message.objects.filter(pk=message.pk).update(external_id=provider_id[:200])
        comms_services.message_status_record(
            message_id=message.pk, status=Message.Status.SENT, at=timezone.now()
        )
    return None


def window_closed_reason() -> str:
    return _(
        "The 24-hour window closed before this could be sent: send an approved template instead."
    )


def _window_closed_since(delivery: OutboundDelivery, conversation: Conversation) -> bool:
    """Free WhatsApp text whose window closed while it waited (a retry after a provider outage):
    WhatsApp would refuse it, so it is not sent."""
    if conversation.kind != ChannelKind.WHATSAPP or delivery.template:
        return False
    closes_at = whatsapp_window_closes_at(conversation)
    return closes_at is None or timezone.now() >= closes_at


def _fail(delivery: OutboundDelivery, reason: str) -> None:
    with transaction.atomic():
        OutboundDelivery.objects.filter(pk=delivery.pk).update(
            state=State.FAILED,
            error=reason[:2000],
            next_attempt_at=None,
            updated_at=timezone.now(),
        )
        comms_services.message_status_record(
            message_id=delivery.message_id,
            status=Message.Status.FAILED,
            at=timezone.now(),
            reason=reason,
        )


def _call_provider(delivery: OutboundDelivery, message: Message) -> str:
    try:
        return _send(delivery, message)
    except crypto.SecretsUnreadable as error:
        # Nothing reached the provider: waited for and retried like a provider that is down.
        raise ProviderError(error.detail, retryable=True) from None


def _send(delivery: OutboundDelivery, message: Message) -> str:
    """Call the provider once; the provider's id of the sent message."""
    account = delivery.account
    conversation = message.conversation
    to = recipient(conversation)
    if not to:
        raise ValueError(_("The contact has no address on this channel."))
    if account.kind == ChannelKind.WHATSAPP:
        client = WhatsAppClient(
            WhatsAppConfig(
                api_base_url=account.setting("api_base_url"),
                api_version=account.setting("api_version"),
                phone_number_id=account.setting("phone_number_id"),
                access_token=account.secret("access_token"),
                timeout=SEND_TIMEOUT,
            )
        )
        template = delivery.template or {}
        attachment = message.attachments.order_by("pk").first()
        if attachment is not None:
            return _send_whatsapp_file(client, to, message, attachment)
        if template:
            result = client.send_template(
                to=to,
                name=template["name"],
                language=template["language"],
                variables=template.get("variables") or (),
            )
        else:
            result = client.send_text(to=to, body=message.customer_text)
        return result.provider_id
    if account.kind == ChannelKind.SMS:
        client = TwilioClient(
            TwilioConfig(
                account_sid=account.setting("account_sid"),
                auth_token=account.secret("auth_token"),
                from_number=account.setting("from_number"),
                base_url=account.setting("base_url"),
                timeout=SEND_TIMEOUT,
            )
        )
        return client.send_sms(to=to, body=message.customer_text).provider_id
    return _send_email(account, conversation, message, to)


# What WhatsApp shows inline (its media limits); anything else goes as a document (100 MB).
WHATSAPP_INLINE = {
    "image": ({"image/jpeg", "image/png"}, 5 * 1024 * 1024),
    "video": ({"video/mp4", "video/3gpp"}, 16 * 1024 * 1024),
}


def _whatsapp_kind(content_type: str, size: int) -> str:
    for kind, (types, limit) in WHATSAPP_INLINE.items():
        if content_type in types and size <= limit:
            return kind
    return "document"


def _read(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as stored:
        return stored.read()


def _send_whatsapp_file(client: WhatsAppClient, to: str, message, attachment) -> str:
    """Upload the message's file, then send it with the text as its caption: one send."""
    try:
        media_id = client.upload_media(
            content=_read(attachment),
            mime_type=attachment.content_type,
            filename=attachment.name_for_customer,
        )
    except ProviderError as error:
        # An upload is not a send: whatever became of it, the customer has nothing yet, so a
        # timeout here is retried like any retryable failure (never "may have been sent").
        raise ProviderError(
            error.reason,
            retryable=error.retryable,
            status=error.status,
            code=error.code,
            retry_after=error.retry_after,
            provider=error.provider,
        ) from None
    kind = _whatsapp_kind(attachment.content_type, attachment.size)
    return client.send_media(
        to=to,
        kind=kind,
        media_id=media_id,
        caption=message.customer_text,
        filename=attachment.name_for_customer if kind == "document" else "",
    ).provider_id


def _thread_ids(conversation: Conversation) -> tuple[str, list[str]]:
    """(the Message-ID of the customer's last email, every Message-ID of the thread in order)."""
    rows = list(
        Message.objects.filter(conversation_id=conversation.pk)
        .exclude(external_id="")
        .order_by("pk")
        .values_list("direction", "external_id")
    )
    # Inbound parts after the first carry "<id>#n"; the email's own id is before the "#".
    ids = [external.split("#", 1)[0] for _direction, external in rows]
    parent = next(
        (
            external.split("#", 1)[0]
            for direction, external in reversed(rows)
            if direction == Message.Direction.INBOUND
        ),
        "",
    )
    return parent, ids


def _send_email(account: ChannelAccount, conversation: Conversation, message, to: str) -> str:
    parent, references = _thread_ids(conversation)
    from_address = account.setting("from_address")
    email = mail.build_reply(
        from_address=from_address,
        to=to,
        subject=conversation.subject,
        body=message.customer_text,
        from_name=message.author_user.get_full_name() if message.author_user_id else "",
        in_reply_to=parent,
        references=references,
        attachments=[
            (a.name_for_customer, _read(a), a.content_type)
            for a in message.attachments.order_by("pk")
        ],
    )
    config = SmtpConfig(
        host=account.setting("smtp_host"),
        port=int(account.setting("smtp_port")),
        username=account.setting("smtp_username"),
        password=account.secret("smtp_password"),
        use_tls=bool(account.setting("smtp_use_tls")),
        from_address=from_address,
    )
    send_email(config, email)
    return email.extra_headers["Message-ID"]


STUCK_SENDING = dt.timedelta(minutes=15)


def due_delivery_ids(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """For the sweeper task: pending deliveries whose time has come (their queued task was
    lost, or Celery runs eagerly and nothing came back for them), and deliveries left
    `sending` long past any provider timeout (their task will mark them failed, not resend)."""
    now = now or timezone.now()
    due = Q(state=State.PENDING, next_attempt_at__lte=now) | Q(
        state=State.SENDING, updated_at__lte=now - STUCK_SENDING
    )
    return list(
        OutboundDelivery.objects.filter(due).order_by("pk").values_list("pk", flat=True)[:limit]
    )


# --- templates ----------------------------------------


def render_template(template: MessageTemplate, variables: list[str]) -> str:
    import re

    def fill(match):
        index = int(match.group(1)) - 1
        return variables[index] if 0 <= index < len(variables) else match.group(0)

    return re.sub(r"\{\{\s*(\d+)\s*\}\}", fill, template.body)


def template_send(
    *,
    author,
    conversation: Conversation,
    template: MessageTemplate,
    variables: list,
    client_id: uuid.UUID | str,
    request=None,
) -> comms_services.SendResult:
    """Send an approved WhatsApp template (the only thing allowed outside the 24-hour window)
    through comms' one message path: the stored body is the rendered template, the delivery
    records the template's name, language and variables. Idempotent by client_id; same checks,
    audit and broadcast as any staff message."""
    from comms import errors

    if conversation.kind != ChannelKind.WHATSAPP:
        raise errors.Invalid(_("Templates are sent in WhatsApp conversations only."))
    account = account_for(conversation)
    if account is None or template.account_id != account.pk or not template.approved:
        raise errors.Invalid(_("This template is not approved for this conversation's account."))
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise errors.Invalid(_("The variables must be a list of texts."))
    if len(variables) != template.variable_count or not all(v.strip() for v in variables):
        raise errors.Invalid(
            ngettext(
                "This template needs %(count)s filled-in variable.",
                "This template needs %(count)s filled-in variables.",
                template.variable_count,
            )
            % {"count": template.variable_count}
        )
    options = {
        "template": {
            "id": template.pk,
            "name": template.name,
            "language": template.language,
            "variables": [v.strip() for v in variables],
        }
    }
    return comms_services.message_store(
        comms_services.staff_draft(
            author=author,
            conversation=conversation,
            body=render_template(template, [v.strip() for v in variables]),
            client_id=client_id,
            request=request,
            channel_options=options,
        )
    )


def composer_notice(conversation: Conversation) -> dict | None:
    """For comms' chat composer: WhatsApp's window closed, and the templates that may be sent."""
    if conversation.kind != ChannelKind.WHATSAPP:
        return None
    window = whatsapp_window_for(conversation)
    if window["open"]:
        return None
    return {
        "notice": _("The 24-hour window is closed: only approved templates can be sent."),
        "templates": [
            {
                "id": t.pk,
                "name": t.name,
                "language": t.language,
                "body": t.body,
                "variables": t.variable_count,
            }
            for t in window["templates"]
        ],
    }
