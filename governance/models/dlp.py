"""Data-loss prevention: what to do when staff write a card number, an IBAN, a national ID or an
admin-defined pattern or keyword, per channel, and what was flagged for review.

The policy is the defaults in governance.dlp_policy.DEFAULTS overlaid by DlpRule rows (one per
detector and channel an admin changed). Built-in detectors are named as in governance.dlp
("card", "iban", ...); admin-defined ones "pattern:<name>" and "keyword:<name>" (DlpPattern).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["DlpAction", "DlpFlag", "DlpPattern", "DlpRule"]


class DlpAction(models.TextChoices):
    ALLOW = "allow", _("Allow")
    FLAG = "flag", _("Flag for review")
    WARN = "warn", _("Warn (send anyway after confirming)")
    REDACT = "redact", _("Redact for the customer")
    BLOCK = "block", _("Block")


class DlpPattern(models.Model):
    """An admin-defined detector: a regular expression, or a list of keywords (one a line,
    matched as whole words ignoring case)."""

    class Kind(models.TextChoices):
        PATTERN = "pattern", _("Regular expression")
        KEYWORD = "keyword", _("Keyword list")

    name = models.SlugField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    text = models.TextField(_("expression or keywords"))
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("DLP pattern")
        verbose_name_plural = _("DLP patterns")
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="gov_dlp_pattern_unique_name")
        ]

    def __str__(self):
        return self.detector

    @property
    def detector(self) -> str:
        return f"{self.kind}:{self.name}"


class DlpRule(models.Model):
    """The action for one detector on one channel kind (comms Conversation.Kind), where an admin
    chose other than the default."""

    detector = models.CharField(_("detector"), max_length=80)
    channel = models.CharField(_("channel"), max_length=16)
    action = models.CharField(_("action"), max_length=16, choices=DlpAction.choices)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["detector", "channel"]
        verbose_name = _("DLP rule")
        verbose_name_plural = _("DLP rules")
        constraints = [
            models.UniqueConstraint(fields=["detector", "channel"], name="gov_dlp_rule_unique")
        ]

    def __str__(self):
        return f"{self.detector} on {self.channel}: {self.action}"


class DlpFlag(models.Model):
    """A stored message DLP let through but wants reviewed: its policy said "flag", or its author
    confirmed past a warning. `findings` hold the detectors and the redacted matches, never the
    matched text."""

    conversation = models.ForeignKey(
        "comms.Conversation", on_delete=models.PROTECT, related_name="+"
    )
    message = models.ForeignKey("comms.Message", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(_("action"), max_length=16, choices=DlpAction.choices)
    channel = models.CharField(_("channel"), max_length=16)
    detectors = models.JSONField(_("detectors"), default=list)
    findings = models.JSONField(_("findings"), default=list)
    edit = models.BooleanField(_("on an edit"), default=False)
    created_at = models.DateTimeField(_("flagged"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("DLP flag")
        verbose_name_plural = _("DLP flags")
        indexes = [models.Index(fields=["-created_at", "-id"], name="gov_dlp_flag_time_idx")]

    def __str__(self):
        return f"DLP flag {self.pk} on message {self.message_id}"
