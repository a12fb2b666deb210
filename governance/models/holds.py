"""Legal holds: while one is active, nothing in its scope is purged, erased or edited away."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["LegalHold"]


class LegalHold(models.Model):
    """One hold for a matter (a lawsuit, an investigation) over one scope: a person, a customer
    contact, a company, a deal, a conversation, or a time range of every conversation. Released,
    it stays as the record of what was held; releasing deletes nothing."""

    class Scope(models.TextChoices):
        USER = "user", _("Staff member")
        CONTACT = "contact", _("Contact")
        COMPANY = "company", _("Company")
        DEAL = "deal", _("Deal")
        CONVERSATION = "conversation", _("Conversation")
        TIME_RANGE = "time_range", _("Time range")

    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    contact = models.ForeignKey(
        "crm.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    company = models.ForeignKey(
        "crm.Company",
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    deal = models.ForeignKey(
        "crm.Deal",
        verbose_name=_("deal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    conversation = models.ForeignKey(
        "comms.Conversation",
        verbose_name=_("conversation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    since = models.DateTimeField(_("from"), null=True, blank=True)
    until = models.DateTimeField(_("until"), null=True, blank=True)
    matter = models.CharField(_("matter"), max_length=200)
    reason = models.TextField(_("reason"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("placed by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("placed"), default=timezone.now)
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("released by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    release_reason = models.TextField(_("release reason"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        indexes = [
            models.Index(
                fields=["scope"], condition=Q(released_at__isnull=True), name="gov_hold_active_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="gov_hold_scope_target",
                condition=(
                    Q(scope="user", user__isnull=False)
                    | Q(scope="contact", contact__isnull=False)
                    | Q(scope="company", company__isnull=False)
                    | Q(scope="deal", deal__isnull=False)
                    | Q(scope="conversation", conversation__isnull=False)
                    | Q(scope="time_range", since__isnull=False, until__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="gov_hold_range_order",
                condition=Q(since__isnull=True)
                | Q(until__isnull=True)
                | Q(since__lte=models.F("until")),
            ),
        ]

    def __str__(self):
        return f"{self.matter} ({self.get_scope_display()})"

    @property
    def is_active(self) -> bool:
        return self.released_at is None

    @property
    def target(self):
        """What the hold covers: the held record, or (since, until)."""
        if self.scope == self.Scope.TIME_RANGE:
            return (self.since, self.until)
        return getattr(self, self.scope)
