"""Channel accounts and what flows through them.

ChannelAccount: one company number or address (WhatsApp Business Cloud API, a Twilio-compatible SMS
account, an email mailbox). Non-secret configuration lives in `settings` (JSON); secrets in
`secrets`, one MultiFernet token of a JSON object (connectors.crypto), read through
`account.secret(name)` and never shown, logged or audited.
InboundEvent: one provider webhook item (a message or a status), unique per account, kind and
provider id: a repeat delivery inserts nothing.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from connectors import crypto


class ChannelKind(models.TextChoices):
    # The same values as comms.models.Conversation.Kind's channel kinds.
    WHATSAPP = "whatsapp", _("WhatsApp")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")


# Non-secret settings per kind, with their defaults ("" : no default).
SETTING_FIELDS: dict[str, dict[str, object]] = {
    ChannelKind.WHATSAPP: {
        "phone_number_id": "",
        "business_account_id": "",
        "api_base_url": "https://graph.facebook.com",
        "api_version": "v21.0",
    },
    ChannelKind.SMS: {
        "account_sid": "",
        "from_number": "",
        "base_url": "https://api.twilio.com",
    },
    ChannelKind.EMAIL: {
        "from_address": "",
        "smtp_host": "",
        "smtp_port": 587,
        "smtp_username": "",
        "smtp_use_tls": True,
        "imap_host": "",
        "imap_port": 993,
        "imap_username": "",
        "imap_use_ssl": True,
    },
}
# Settings an account of the kind cannot work without.
REQUIRED_SETTINGS: dict[str, tuple[str, ...]] = {
    ChannelKind.WHATSAPP: ("phone_number_id", "business_account_id"),
    ChannelKind.SMS: ("account_sid", "from_number"),
    ChannelKind.EMAIL: ("from_address",),
}
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    ChannelKind.WHATSAPP: ("access_token", "app_secret", "verify_token"),
    ChannelKind.SMS: ("auth_token",),
    ChannelKind.EMAIL: ("smtp_password", "imap_password", "inbound_secret"),
}


class ChannelAccount(models.Model):
    kind = models.CharField(_("channel"), max_length=16, choices=ChannelKind.choices)
    name = models.CharField(_("name"), max_length=120)
    # Round-robin routing of conversations with no assignee and no contact owner picks among
    # this team's active members.
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    secrets = models.TextField(_("secrets"), blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["kind", "name", "id"]
        verbose_name = _("channel account")
        verbose_name_plural = _("channel accounts")
        constraints = [
            models.UniqueConstraint(
                KT("settings__phone_number_id"),
                condition=Q(kind="whatsapp"),
                name="connectors_account_unique_wa_phone",
                violation_error_message=_("Another WhatsApp account has this phone number id."),
            ),
            models.UniqueConstraint(
                KT("settings__account_sid"),
                KT("settings__from_number"),
                condition=Q(kind="sms"),
                name="connectors_account_unique_sms_number",
                violation_error_message=_("Another SMS account sends from this number."),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.name}"

    # --- settings and secrets ---

    def setting(self, name: str):
        """A non-secret setting, or its kind's default."""
        value = (self.settings or {}).get(name)
        if value in (None, ""):
            return SETTING_FIELDS.get(self.kind, {}).get(name, "")
        return value

    def secret(self, name: str) -> str:
        """A decrypted secret ("" when not set). Never log or render the result."""
        return crypto.decrypt_json(self.secrets).get(name, "")

    def secret_names_set(self) -> set[str] | None:
        """Which secrets hold a value (for the admin's "set" / "not set"); None when no configured
        key opens them."""
        try:
            return {k for k, v in crypto.decrypt_json(self.secrets).items() if v}
        except crypto.SecretsUnreadable:
            return None

    def set_secrets(self, values: dict[str, str]) -> list[str]:
        """Merge `values` into the stored secrets (a value of None removes one; "" is ignored:
        left blank in a form means unchanged) and re-encrypt with the current key. Returns the
        names that changed. Secrets no configured key opens are lost already: the values given
        replace them (entering them again is how an account recovers)."""
        try:
            current = crypto.decrypt_json(self.secrets)
        except crypto.SecretsUnreadable:
            current = {}
        changed = []
        for name, value in values.items():
            if value is None:
                if name in current:
                    del current[name]
                    changed.append(name)
            elif value != "" and current.get(name) != value:
                current[name] = value
                changed.append(name)
        self.secrets = crypto.encrypt_json(current)
        return sorted(changed)


class InboundEvent(models.Model):
    """One item of a provider webhook, stored before it is processed (connectors.inbound).

    provider_id: the provider message id for messages (wamid, MessageSid, Message-ID); for status
    callbacks the message id and the status ("wamid...:delivered"), as one message has several.
    """

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Message")
        STATUS = "status", _("Status")

    account = models.ForeignKey(
        ChannelAccount, on_delete=models.PROTECT, related_name="inbound_events"
    )
    provider_id = models.CharField(_("provider id"), max_length=255)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    payload = models.JSONField(_("payload"), default=dict)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    # Tries that could not store it yet, and when the next may (None: due now).
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "provider_id"], name="connectors_inbound_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(processed_at__isnull=True),
                name="conn_inbound_todo_idx",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.provider_id}"


class MessageTemplate(models.Model):
    """A provider-approved message template (WhatsApp: the only thing that may be sent outside
    the 24-hour customer-service window). Variables are {{1}} .. {{n}} in `body`."""

    account = models.ForeignKey(ChannelAccount, on_delete=models.PROTECT, related_name="templates")
    name = models.CharField(_("name"), max_length=120)
    language = models.CharField(_("language"), max_length=16, default="en")
    body = models.TextField(_("text"))
    approved = models.BooleanField(_("approved"), default=False)

    class Meta:
        ordering = ["account", "name", "language"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name", "language"], name="connectors_template_unique"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.language})"

    @property
    def variable_count(self) -> int:
        import re

        numbers = [int(n) for n in re.findall(r"\{\{\s*(\d+)\s*\}\}", self.body)]
        return max(numbers, default=0)


class OutboundDelivery(models.Model):
    """The sending of one outbound message through a channel account; at most one provider send
    per message (state moves pending -> sending -> sent | failed under a row lock)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    message = models.OneToOneField(
        "comms.Message", on_delete=models.PROTECT, related_name="outbound_delivery"
    )
    account = models.ForeignKey(ChannelAccount, on_delete=models.PROTECT, related_name="deliveries")
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    provider_id = models.CharField(_("provider id"), max_length=255, blank=True)
    error = models.TextField(_("error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # A WhatsApp template send: {"name", "language", "variables"}; empty for free text.
    template = models.JSONField(_("template"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("outbound delivery")
        verbose_name_plural = _("outbound deliveries")
        indexes = [
            models.Index(fields=["provider_id"], name="conn_delivery_provider_idx"),
            models.Index(
                fields=["state", "next_attempt_at"],
                condition=Q(state__in=["pending", "sending"]),
                name="conn_delivery_todo_idx",
            ),
        ]

    def __str__(self):
        return f"delivery of message {self.message_id}"


class ConversationAccount(models.Model):
    """The company number or address a channel conversation last heard its customer on: replies
    go out from it (a company with two WhatsApp numbers answers from the one written to)."""

    conversation = models.OneToOneField(
        "comms.Conversation", on_delete=models.CASCADE, related_name="channel_account_link"
    )
    account = models.ForeignKey(
        ChannelAccount, on_delete=models.PROTECT, related_name="conversation_links"
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("conversation's channel account")
        verbose_name_plural = _("conversations' channel accounts")

    def __str__(self):
        return f"conversation {self.conversation_id} via account {self.account_id}"
