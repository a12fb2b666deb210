"""CRM records: companies, contacts, pipelines, deals, activities and tags.

Records are owned by a rep (`owner`, PROTECT: a departing rep's records are reassigned, never lost)
but belong to the organisation. Nothing is hard-deleted: `archived_at` hides a record.
Object-level sharing uses django-guardian's direct foreign-key tables (one pair per shared model)
so the visibility filter is an indexed EXISTS on an integer column, not a cast on a generic table.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase


class Channel(models.TextChoices):
    WEB = "web", _("Web chat")
    WHATSAPP = "whatsapp", _("WhatsApp")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")


class LifecycleStage(models.TextChoices):
    LEAD = "lead", _("Lead")
    QUALIFIED = "qualified", _("Qualified")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    CHURNED = "churned", _("Churned")


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


class OwnedRecord(models.Model):
    """Fields shared by every owned, shareable, archivable record."""

    # No index of its own: each record's (owner, archived_at) index serves it, one index fewer
    # to write when a book changes hands.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Company(OwnedRecord):
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("web domain"), max_length=253, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    address = models.TextField(_("address"), blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [
            models.Index(fields=["owner", "archived_at"], name="crm_company_owner_idx"),
            models.Index(fields=["name", "id"], name="crm_company_name_idx"),
            models.Index(fields=["domain"], name="crm_company_domain_idx"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("crm:company-detail", args=[self.pk])


class Contact(OwnedRecord):
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    title = models.CharField(_("job title"), max_length=120, blank=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contacts",
        db_index=False,  # crm_contact_company_idx
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=16, choices=Channel.choices, default=Channel.EMAIL
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=16,
        choices=LifecycleStage.choices,
        default=LifecycleStage.LEAD,
    )
    # Created by Keepline for an unknown sender of an inbound WhatsApp, SMS or email message; the
    # list marks it until someone saves the contact.
    is_new = models.BooleanField(_("new"), default=False)
    # Restriction of processing (GDPR art. 18, LGPD art. 18): set by a data-subject request the
    # compliance officer decides (governance). The record is kept, but nothing is sent to the
    # contact until it is lifted (crm.permissions.outreach_refusal).
    processing_restricted = models.BooleanField(_("processing restricted"), default=False)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["owner", "archived_at"], name="crm_contact_owner_idx"),
            models.Index(fields=["last_name", "first_name", "id"], name="crm_contact_name_idx"),
            models.Index(fields=["company"], name="crm_contact_company_idx"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("crm:contact-detail", args=[self.pk])

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ContactEmail(models.Model):
    """One address of a contact, stored lower-cased so duplicate detection is an index lookup."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    email = models.EmailField(_("email"), max_length=254)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        verbose_name = _("contact email")
        verbose_name_plural = _("contact emails")
        constraints = [
            models.UniqueConstraint(fields=["contact", "email"], name="crm_contactemail_unique"),
        ]
        indexes = [models.Index(fields=["email"], name="crm_contactemail_email_idx")]

    def __str__(self):
        return self.email


class ContactPhone(models.Model):
    """One phone number of a contact in E.164 (+5511987654321)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(_("phone"), max_length=20)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        verbose_name = _("contact phone")
        verbose_name_plural = _("contact phones")
        constraints = [
            models.UniqueConstraint(fields=["contact", "number"], name="crm_contactphone_unique"),
        ]
        indexes = [models.Index(fields=["number"], name="crm_contactphone_number_idx")]

    def __str__(self):
        return self.number


class ContactConsent(models.Model):
    """The current consent of a contact for one channel; its history is in the audit ledger."""

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    recorded_at = models.DateTimeField(_("recorded"))
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        ordering = ["channel"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(fields=["contact", "channel"], name="crm_consent_unique"),
        ]

    def __str__(self):
        return f"{self.channel}: {self.status}"

    @property
    def granted(self) -> bool:
        return self.status == self.Status.GRANTED


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="crm_one_default_pipeline"
            )
        ]

    def __str__(self):
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT, related_name="stages"
    )
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"))
    probability = models.PositiveSmallIntegerField(_("probability (%)"), default=0)
    is_won = models.BooleanField(_("won"), default=False)
    is_lost = models.BooleanField(_("lost"), default=False)

    class Meta:
        ordering = ["pipeline", "position"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "position"], name="crm_stage_position"),
            models.CheckConstraint(
                condition=Q(probability__lte=100), name="crm_stage_probability_range"
            ),
            models.CheckConstraint(
                condition=~Q(is_won=True, is_lost=True), name="crm_stage_not_won_and_lost"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def status(self) -> str:
        if self.is_won:
            return Deal.Status.WON
        if self.is_lost:
            return Deal.Status.LOST
        return Deal.Status.OPEN


class Deal(OwnedRecord):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    title = models.CharField(_("title"), max_length=200)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
    )
    contacts = models.ManyToManyField(
        Contact, verbose_name=_("contacts"), blank=True, related_name="deals"
    )
    primary_contact = models.ForeignKey(
        Contact,
        verbose_name=_("primary contact"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="primary_deals",
    )
    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT, related_name="deals"
    )
    stage = models.ForeignKey(
        Stage,
        verbose_name=_("stage"),
        on_delete=models.PROTECT,
        related_name="deals",
        db_index=False,  # crm_deal_stage_idx (stage, updated_at)
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            models.Index(fields=["owner", "archived_at"], name="crm_deal_owner_idx"),
            models.Index(fields=["stage", "updated_at"], name="crm_deal_stage_idx"),
            models.Index(fields=["updated_at", "id"], name="crm_deal_updated_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="crm_deal_amount_positive"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("crm:deal-detail", args=[self.pk])


class Activity(models.Model):
    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        TASK = "task", _("Task")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.NOTE)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
        db_index=False,  # crm_activity_company_idx (company, created_at)
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
        db_index=False,  # crm_activity_contact_idx (contact, created_at)
    )
    deal = models.ForeignKey(
        Deal,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
        db_index=False,  # crm_activity_deal_idx (deal, created_at)
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.CheckConstraint(
                condition=Q(company__isnull=False)
                | Q(contact__isnull=False)
                | Q(deal__isnull=False),
                name="crm_activity_has_subject",
            ),
        ]
        indexes = [
            models.Index(fields=["deal", "created_at"], name="crm_activity_deal_idx"),
            models.Index(fields=["contact", "created_at"], name="crm_activity_contact_idx"),
            models.Index(fields=["company", "created_at"], name="crm_activity_company_idx"),
        ]

    def __str__(self):
        return self.subject


# --- django-guardian direct foreign-key permission tables -----------------------------------
# The unique (user|group, permission, content_object) index guardian declares serves "what may
# this user see" scans; the (content_object, user|group) index serves the per-row EXISTS probe.


class CompanyUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Company, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["content_object", "user"], name="crm_company_uperm_idx")]


class CompanyGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Company, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["content_object", "group"], name="crm_company_gperm_idx")]


class ContactUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Contact, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["content_object", "user"], name="crm_contact_uperm_idx")]


class ContactGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Contact, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["content_object", "group"], name="crm_contact_gperm_idx")]


class DealUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Deal, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["content_object", "user"], name="crm_deal_uperm_idx")]


class DealGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Deal, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["content_object", "group"], name="crm_deal_gperm_idx")]
