"""Supervision: the review queue of conversations a compliance officer reads each week (a random
sample of each rep's conversations, and every DLP flag) and their decisions."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["ReviewItem"]


class ReviewItem(models.Model):
    class Reason(models.TextChoices):
        SAMPLE = "sample", _("Weekly sample")
        DLP = "dlp", _("DLP flag")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        REVIEWED = "reviewed", _("Reviewed")
        ESCALATED = "escalated", _("Escalated")

    conversation = models.ForeignKey(
        "comms.Conversation", on_delete=models.PROTECT, related_name="+"
    )
    message = models.ForeignKey(
        "comms.Message", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    flag = models.OneToOneField(
        "governance.DlpFlag",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="review_item",
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    detectors = models.JSONField(_("detectors"), default=list, blank=True)
    # The person whose conversation it is: the sampled rep, or the flagged message's author.
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    week = models.DateField(_("week"), help_text=_("The Monday the week starts on."))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    comment = models.TextField(_("comment"), blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-week", "-id"]
        verbose_name = _("review item")
        verbose_name_plural = _("review items")
        constraints = [
            # A sample run again in the same week adds nothing.
            models.UniqueConstraint(
                fields=["conversation", "week", "reason"],
                condition=Q(reason="sample"),
                name="gov_review_sample_once_a_week",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-week", "-id"], name="gov_review_status_idx"),
            models.Index(fields=["rep", "-week"], name="gov_review_rep_idx"),
        ]

    def __str__(self):
        return f"review {self.pk} of conversation {self.conversation_id}"
