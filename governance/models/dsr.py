"""Data-subject requests (GDPR, LGPD): a contact asks to see, erase or restrict their data.

A compliance officer logs the request as it arrived (the subject's own reference and channel,
when it was received); the answer is due a per-law number of days later (settings
DSR_RESPONSE_DAYS). Each decision (access export, erasure, restriction, refusal) is recorded on
the request with its legal basis, who decided and when, and audited (governance.services.dsr).
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["DataSubjectRequest"]


class DataSubjectRequest(models.Model):
    class Kind(models.TextChoices):
        ACCESS = "access", _("Access (a copy of their data)")
        ERASURE = "erasure", _("Erasure")
        RESTRICTION = "restriction", _("Restriction of processing")

    class Law(models.TextChoices):
        GDPR = "gdpr", _("GDPR (EU)")
        LGPD = "lgpd", _("LGPD (Brazil)")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        WEB_FORM = "web_form", _("Web form")
        LETTER = "letter", _("Letter")
        PHONE = "phone", _("Phone")
        IN_PERSON = "in_person", _("In person")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        COMPLETED = "completed", _("Completed")
        REFUSED = "refused", _("Refused")
        RESTRICTED = "restricted", _("Processing restricted")

    contact = models.ForeignKey(
        "crm.Contact",
        verbose_name=_("contact"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(_("request"), max_length=16, choices=Kind.choices)
    law = models.CharField(_("law"), max_length=8, choices=Law.choices, default=Law.GDPR)
    # The staff member who logged it (the subject is the contact).
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("logged by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    subject_reference = models.CharField(_("subject's reference"), max_length=200, blank=True)
    channel = models.CharField(
        _("received by"), max_length=16, choices=Channel.choices, default=Channel.EMAIL
    )
    details = models.TextField(_("details"), blank=True)
    received_at = models.DateTimeField(_("received"))
    due_at = models.DateTimeField(_("answer due"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    decision = models.TextField(_("decision"), blank=True)
    legal_basis = models.TextField(_("legal basis"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    created_at = models.DateTimeField(_("logged"), default=timezone.now)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        indexes = [
            models.Index(fields=["status", "due_at"], name="gov_dsr_status_due_idx"),
            models.Index(fields=["contact", "received_at"], name="gov_dsr_contact_idx"),
        ]

    def __str__(self):
        # Never the contact's name: this label is copied into the audit ledger, which an erasure
        # cannot change.
        return f"DSR #{self.pk} ({self.kind})"

    def get_absolute_url(self):
        return reverse("governance:dsr-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def is_overdue(self, now=None) -> bool:
        return self.is_open and self.due_at < (now or timezone.now())

    def is_due_soon(self, now=None) -> bool:
        now = now or timezone.now()
        soon = now + timedelta(days=settings.DSR_DUE_SOON_DAYS)
        return self.is_open and now <= self.due_at <= soon
