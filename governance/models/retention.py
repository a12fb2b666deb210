"""Retention periods per record class, set by admins (governance.retention purges by them)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["RetentionPolicy"]

# Messages are kept six years where no policy says otherwise.
DEFAULT_MESSAGE_DAYS = 6 * 365 + 2  # leap days


class RetentionPolicy(models.Model):
    """How long one class of record is kept: messages per channel, files, the messages of closed
    conversations (counted from their last message), audit events (reported, never deleted)."""

    class RecordClass(models.TextChoices):
        MESSAGES_WEB = "messages:web", _("Messages: web chat")
        MESSAGES_WHATSAPP = "messages:whatsapp", _("Messages: WhatsApp")
        MESSAGES_SMS = "messages:sms", _("Messages: SMS")
        MESSAGES_EMAIL = "messages:email", _("Messages: email")
        MESSAGES_INTERNAL = "messages:internal", _("Messages: internal")
        ATTACHMENTS = "attachments", _("Files")
        CLOSED_CONVERSATIONS = "closed_conversations", _("Closed conversations")
        AUDIT_EVENTS = "audit_events", _("Audit events")

    record_class = models.CharField(
        _("record class"), max_length=32, choices=RecordClass.choices, unique=True
    )
    period_days = models.PositiveIntegerField(_("kept for (days)"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        ordering = ["record_class"]
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")
        constraints = [
            models.CheckConstraint(
                name="gov_retention_period_positive", condition=Q(period_days__gte=1)
            ),
        ]

    def __str__(self):
        return f"{self.get_record_class_display()}: {self.period_days}"
