"""Sending a customer's web-chat link by email or SMS through a configured channel account.

comms asks through its channel registry (filled in connectors' AppConfig.ready): `options` says,
per channel, where the link would go or why it cannot; `deliver` sends it once, now, through the
provider. The link's token is never stored (only its digest), so the text is sent at once rather
than queued: it never sits in a task queue.
"""

from __future__ import annotations

from dataclasses import replace
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.translation import gettext as _

from comms.models import Conversation
from config.errors import Invalid
from connectors import configs, crypto, mail
from connectors.models import ChannelAccount, ChannelKind
from connectors.providers import ProviderError
from connectors.providers.smtp import send_email
from connectors.providers.twilio import TwilioClient
from crm.models import ContactConsent

CHANNELS = (ChannelKind.EMAIL, ChannelKind.SMS)
SEND_TIMEOUT = 10.0


def _account(kind: str, conversation: Conversation) -> ChannelAccount | None:
    """The active account of `kind` of the conversation's team, else the oldest active one."""
    accounts = ChannelAccount.objects.filter(kind=kind, is_active=True).order_by("created_at", "pk")
    if conversation.team_id is not None:
        own = accounts.filter(team_id=conversation.team_id).first()
        if own is not None:
            return own
    return accounts.first()


def _address(kind: str, conversation: Conversation) -> str:
    contact = conversation.contact
    if kind == ChannelKind.EMAIL:
        rows = contact.emails.order_by("-is_primary", "pk").values_list("email", flat=True)
    else:
        rows = contact.phones.order_by("-is_primary", "pk").values_list("number", flat=True)
    return rows.first() or ""


def _refusal(kind: str, conversation: Conversation, account, to: str) -> str:
    label = ChannelKind(kind).label
    if account is None:
        return _("No active %(channel)s account is configured, so this cannot be sent.") % {
            "channel": label
        }
    if not to:
        if kind == ChannelKind.EMAIL:
            return _("The contact has no email address.")
        return _("The contact has no phone number.")
    consent = ContactConsent.objects.filter(
        contact_id=conversation.contact_id, channel=kind
    ).first()
    if consent is None or consent.status != ContactConsent.Status.GRANTED:
        return _(
            "The contact has not agreed to be contacted by %(channel)s: record their consent "
            "before writing to them."
        ) % {"channel": label}
    return ""


def options(conversation: Conversation) -> list[dict]:
    """Per channel (email, SMS): {"channel", "label", "to", "refusal"}; "" refusal: it can go."""
    found = []
    for kind in CHANNELS:
        account = _account(kind, conversation)
        to = _address(kind, conversation) if conversation.contact_id else ""
        found.append(
            {
                "channel": kind.value,
                "label": kind.label,
                "to": to,
                "refusal": _refusal(kind, conversation, account, to),
                "account": account.pk if account is not None else None,
            }
        )
    return found


def _text(conversation: Conversation, url: str, sender_name: str) -> str:
    return _(
        "%(name)s from %(organisation)s invites you to chat with them. Open this link: %(url)s"
    ) % {"name": sender_name, "organisation": settings.ORGANISATION_NAME, "url": url}


def deliver(conversation: Conversation, channel: str, url: str, sender) -> None:
    """Send the link now through the channel's account; Invalid with the reason when the
    provider refuses or cannot be reached (nothing was sent)."""
    option = next((o for o in options(conversation) if o["channel"] == channel), None)
    if option is None or option["refusal"]:
        raise Invalid(option["refusal"] if option else _("Choose email or SMS."))
    account = ChannelAccount.objects.get(pk=option["account"])
    name = sender.get_full_name() or sender.get_username()
    body = _text(conversation, url, name)
    try:
        if channel == ChannelKind.SMS:
            client = TwilioClient(replace(configs.twilio_config(account), timeout=SEND_TIMEOUT))
            client.send_sms(to=option["to"], body=body)
            return
        from_address = account.setting("from_address")
        email = EmailMultiAlternatives(
            subject=_("Chat with %(organisation)s") % {"organisation": settings.ORGANISATION_NAME},
            body=body,
            from_email=formataddr((name, from_address)) if name else from_address,
            to=[option["to"]],
            headers={"Message-ID": mail.new_message_id(from_address.rsplit("@", 1)[-1])},
        )
        config = replace(configs.smtp_config(account), timeout=SEND_TIMEOUT)
        send_email(config, email)
    except (ProviderError, crypto.SecretsUnreadable, mail.MailError, ValueError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "detail", None) or str(error)
        raise Invalid(
            _("The link could not be sent: %(reason)s") % {"reason": reason}, code="link_not_sent"
        ) from None
