"""Conversations with customers and among staff, their messages, edits, files and customer links.

Nothing here is deleted by users: a "deleted" message is retracted (kept, hidden from the customer),
an edit keeps the previous body as a MessageRevision, a participant who leaves keeps their row with
`left_at` set. Only retention and erasure purge (comms.services.purge): a purged message is a
tombstone keeping its id, time, author and the SHA-256 of its text.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Conversation(models.Model):
    class Kind(models.TextChoices):
        WEB = "web", _("Web chat")
        WHATSAPP = "whatsapp", _("WhatsApp")
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")
        INTERNAL = "internal", _("Internal")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        CLOSED = "closed", _("Closed")

    kind = models.CharField(_("channel"), max_length=16, choices=Kind.choices, default=Kind.WEB)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    contact = models.ForeignKey(
        "crm.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversations",
        db_index=False,  # comms_conv_contact_idx
    )
    deal = models.ForeignKey(
        "crm.Deal",
        verbose_name=_("deal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversations",
        db_index=False,  # comms_conv_deal_idx
    )
    company = models.ForeignKey(
        "crm.Company",
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversations",
    )
    # For internal conversations the assignee is the owner (who manages membership).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_conversations",
        db_index=False,  # comms_conv_inbox_idx (assignee, status, last_message_at)
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        db_index=False,  # comms_conv_team_idx (team, status, last_message_at)
    )
    # Set when out-of-office cover routed the conversation to its assignee instead of this person
    # (accounts.Cover): the inbox marks it "covering for".
    covering_for = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("covering for"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    # Never null: set to created_at at creation, so inbox ordering and cursors need no COALESCE.
    last_message_at = models.DateTimeField(_("last message"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # The last change number given to this conversation's messages (comms.services.sequence):
    # `seq` counts every change staff see, `customer_seq` those the customer sees (no notes).
    seq = models.BigIntegerField(default=0, editable=False)
    customer_seq = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            models.Index(
                fields=["assignee", "status", "-last_message_at"], name="comms_conv_inbox_idx"
            ),
            models.Index(fields=["team", "status", "-last_message_at"], name="comms_conv_team_idx"),
            models.Index(fields=["status", "-last_message_at"], name="comms_conv_status_idx"),
            models.Index(fields=["deal"], name="comms_conv_deal_idx"),
            models.Index(fields=["contact"], name="comms_conv_contact_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="internal") | Q(contact__isnull=False),
                name="comms_conv_customer_has_contact",
            ),
        ]

    def __str__(self):
        return self.subject or f"#{self.pk}"

    @property
    def is_internal(self) -> bool:
        return self.kind == self.Kind.INTERNAL


class Participant(models.Model):
    """A person in a conversation: a staff user or the customer contact.

    Roles owner/member (internal) and agent (customer conversations) grant access; a "viewer" row
    only keeps the read position of someone who sees the conversation for another reason.
    """

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MEMBER = "member", _("Member")
        AGENT = "agent", _("Agent")
        CUSTOMER = "customer", _("Customer")
        VIEWER = "viewer", _("Viewer")

    GRANTING = (Role.OWNER, Role.MEMBER, Role.AGENT)

    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="participants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversation_participations",
        db_index=False,  # comms_part_user_idx (user, conversation)
    )
    contact = models.ForeignKey(
        "crm.Contact",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversation_participations",
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    last_read_message_id = models.BigIntegerField(_("last read message"), default=0)
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)
    left_at = models.DateTimeField(_("left"), null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, contact__isnull=True)
                | Q(user__isnull=True, contact__isnull=False),
                name="comms_participant_user_xor_contact",
            ),
            models.UniqueConstraint(
                fields=["conversation", "user"],
                condition=Q(user__isnull=False),
                name="comms_participant_unique_user",
            ),
            models.UniqueConstraint(
                fields=["conversation", "contact"],
                condition=Q(contact__isnull=False),
                name="comms_participant_unique_contact",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "conversation"], name="comms_part_user_idx"),
        ]

    def __str__(self):
        return f"{self.role} in {self.conversation_id}"

    @property
    def is_active(self) -> bool:
        return self.left_at is None


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")
        NOTE = "note", _("Internal note")
        SYSTEM = "system", _("System")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="messages"
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    author_contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    direction = models.CharField(_("direction"), max_length=16, choices=Direction.choices)
    body = models.TextField(_("text"), blank=True)
    client_id = models.UUIDField(_("client id"), null=True, blank=True)
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    status = models.CharField(
        _("delivery status"), max_length=16, choices=Status.choices, default=Status.SENT
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # The provider's words when a channel delivery failed (shown to staff on the message).
    failed_reason = models.TextField(_("failure reason"), blank=True)
    external_id = models.CharField(_("external id"), max_length=200, blank=True)
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True)
    retracted = models.BooleanField(_("retracted"), default=False)
    retracted_at = models.DateTimeField(_("retracted at"), null=True, blank=True)
    retracted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The sender asked for colleagues to be notified now, even outside their working hours
    # (audited: comms.message.marked_urgent). Set at insert only.
    urgent = models.BooleanField(_("urgent"), default=False)
    # The conversation's change number of this message's latest change (created, edited,
    # retracted), so a client can see a hole in what it received and fetch exactly what it
    # missed (docs/realtime.md). `customer_seq`: the same in the customer's numbering (null for
    # notes, which customers never see).
    seq = models.BigIntegerField(editable=False)
    customer_seq = models.BigIntegerField(null=True, blank=True, editable=False)
    # A tombstone (retention or erasure, comms.services.purge): the body is emptied and its
    # SHA-256 kept here, so the audit events that hold it still verify. Never undone (comms/ddl).
    purged_at = models.DateTimeField(_("purged"), null=True, blank=True, editable=False)
    body_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    # What the customer gets instead of `body` (web chat, channel deliveries) when an outbound
    # check redacted it (comms.outbound_checks); null: the customer gets `body`. The record and
    # the staff keep `body`.
    customer_body = models.TextField(_("text for the customer"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.CheckConstraint(
                condition=~Q(author_user__isnull=False, author_contact__isnull=False),
                name="comms_message_one_author",
            ),
            models.UniqueConstraint(
                fields=["conversation", "author_user", "client_id"],
                condition=Q(author_user__isnull=False, client_id__isnull=False),
                name="comms_message_user_client_id",
            ),
            models.UniqueConstraint(
                fields=["conversation", "author_contact", "client_id"],
                condition=Q(author_contact__isnull=False, client_id__isnull=False),
                name="comms_message_contact_client_id",
            ),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=Q(direction="system", client_id__isnull=False),
                name="comms_message_system_client_id",
            ),
            models.UniqueConstraint(
                fields=["conversation", "seq"], name="comms_message_conversation_seq"
            ),
            models.UniqueConstraint(
                fields=["conversation", "customer_seq"],
                condition=Q(customer_seq__isnull=False),
                name="comms_message_conversation_customer_seq",
            ),
        ]
        indexes = [
            # History pages, catch-up after an id and unread counts are range scans on this.
            models.Index(fields=["conversation", "id"], name="comms_msg_conv_id_idx"),
            models.Index(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="comms_msg_external_idx",
            ),
        ]

    def __str__(self):
        return f"message {self.pk}"

    @property
    def customer_text(self) -> str:
        """The text the customer gets."""
        return self.body if self.customer_body is None else self.customer_body


class MessageRevision(models.Model):
    """The body a message had before one edit: who replaced it, and when."""

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="revisions")
    body = models.TextField(_("previous text"))
    editor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    edited_at = models.DateTimeField(_("edited"), default=timezone.now)
    # Purged with its message: the text emptied, its SHA-256 kept.
    purged_at = models.DateTimeField(_("purged"), null=True, blank=True, editable=False)
    body_sha256 = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("message revision")
        verbose_name_plural = _("message revisions")
        indexes = [models.Index(fields=["message", "id"], name="comms_rev_message_idx")]

    def __str__(self):
        return f"revision {self.pk} of message {self.message_id}"


def attachment_path(instance, filename: str) -> str:
    # The stored name is random: the original name lives in `name` and never touches the disk.
    import secrets

    now = timezone.now()
    return f"comms/{now:%Y/%m}/{secrets.token_hex(16)}"


class Attachment(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="attachments"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=255)
    name = models.CharField(_("file name"), max_length=255)
    # The name the customer sees when an outbound check redacted it; null: `name`.
    customer_name = models.CharField(
        _("file name for the customer"), max_length=255, null=True, blank=True
    )
    content_type = models.CharField(_("type"), max_length=127)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    # Null: the customer sent it through a channel (WhatsApp, SMS, email media).
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    # Purged (retention or erasure): the stored bytes are deleted, the row (name, size, SHA-256)
    # stays.
    purged_at = models.DateTimeField(_("purged"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [models.Index(fields=["message"], name="comms_att_message_idx")]

    def __str__(self):
        return self.name

    @property
    def name_for_customer(self) -> str:
        return self.name if self.customer_name is None else self.customer_name


class CustomerLink(models.Model):
    """A web-chat link sent to the customer. Only the token's SHA-256 is stored."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="customer_links"
    )
    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("issued"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("customer link")
        verbose_name_plural = _("customer links")
        indexes = [models.Index(fields=["conversation"], name="comms_link_conv_idx")]

    def __str__(self):
        return f"link {self.pk}"


class QuickReply(models.Model):
    """A canned answer a rep picks with `/` in the composer: their own (owner) or their team's
    (team, kept by the team's managers and admins). `{first_name}`, `{last_name}`, `{company}`,
    `{deal}` and `{my_name}` are filled in for the conversation (comms.quick_replies)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quick_replies",
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quick_replies",
    )
    title = models.CharField(_("shortcut"), max_length=60)
    body = models.TextField(_("text"), max_length=2000)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["title", "id"]
        verbose_name = _("quick reply")
        verbose_name_plural = _("quick replies")
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=False, team__isnull=True)
                | Q(owner__isnull=True, team__isnull=False),
                name="comms_quickreply_one_keeper",
            ),
        ]
        indexes = [
            models.Index(fields=["owner"], name="comms_qr_owner_idx"),
            models.Index(fields=["team"], name="comms_qr_team_idx"),
        ]

    def __str__(self):
        return self.title
