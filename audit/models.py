from django.db import models
from django.utils.translation import gettext_lazy as _

from audit.fields import CanonicalJSONField
from audit.serialization import GENESIS


class ImmutableError(Exception):
    """The audit ledger is append-only."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableError("audit events cannot be updated")

    def delete(self):
        raise ImmutableError("audit events cannot be deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise ImmutableError("audit events cannot be updated")

    def bulk_create(self, objs, *args, **kwargs):
        raise ImmutableError("audit events are appended through audit.record and audit.record_many")


class AuditEvent(models.Model):
    class ActorType(models.TextChoices):
        USER = "user", _("User")
        SYSTEM = "system", _("System")
        CONTACT = "contact", _("Customer contact")
        ANONYMOUS = "anonymous", _("Anonymous")

    seq = models.BigIntegerField(_("sequence"), primary_key=True)
    version = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(_("time"))
    actor_type = models.CharField(_("actor type"), max_length=16, choices=ActorType.choices)
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=100)
    target_type = models.CharField(_("target type"), max_length=100, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=200, blank=True)
    data = CanonicalJSONField(_("data"), default=dict, blank=True)
    ip = models.CharField(_("IP address"), max_length=45, null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    # Unique through a constraint, not unique=True: on PostgreSQL that would add a second,
    # varchar_pattern_ops index for LIKE queries nobody makes, one more random insert per event.
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            models.Index(fields=["action", "seq"], name="audit_action_seq_idx"),
            models.Index(fields=["actor_type", "actor_id", "seq"], name="audit_actor_seq_idx"),
            models.Index(fields=["target_type", "target_id", "seq"], name="audit_target_seq_idx"),
            models.Index(fields=["created_at"], name="audit_created_idx"),
            models.Index(fields=["actor_label", "seq"], name="audit_actor_label_seq_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["hash"], name="audit_event_hash_unique")]

    def __str__(self):
        return f"#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("audit events cannot be deleted")


class AuditCheckpointQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableError("audit checkpoints cannot be updated")

    def delete(self):
        raise ImmutableError("audit checkpoints cannot be deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise ImmutableError("audit checkpoints cannot be updated")


class AuditCheckpoint(models.Model):
    """A signed statement that the chain's event `seq` had hash `head_hash` at `created_at`."""

    version = models.PositiveSmallIntegerField(default=1)
    seq = models.BigIntegerField(_("sequence"), db_index=True)
    head_hash = models.CharField(_("head hash"), max_length=64)
    created_at = models.DateTimeField(_("time"))
    algorithm = models.CharField(max_length=16, default="ed25519")
    public_key = models.CharField(_("public key"), max_length=64)
    signature = models.CharField(_("signature"), max_length=128)

    objects = AuditCheckpointQuerySet.as_manager()

    class Meta:
        ordering = ["seq", "id"]
        # One statement per chain head and key: a requeued or concurrent beat task finds the
        # row there and reuses it (services.checkpoint_create). A new key signs the same head
        # anew, so rotating keys needs no new event.
        constraints = [
            models.UniqueConstraint(
                fields=["seq", "public_key"], name="audit_checkpoint_one_per_seq_and_key"
            )
        ]
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")

    def __str__(self):
        return f"checkpoint #{self.seq}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("audit checkpoints cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("audit checkpoints cannot be deleted")


class AuditChainHead(models.Model):
    """One row: the last sequence number and hash. Locked for the length of each append.

    A convenience for appending, never evidence: verification recomputes everything from the
    events and the signed checkpoints, so editing this row only breaks the next append's link.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single")]

    def __str__(self):
        return f"head #{self.seq}"


class Verification(models.Model):
    """One run of the ledger's verification (`verify_audit`, the nightly task): what it checked
    and the first problem it found. A status for the compliance console, never evidence: the
    evidence is the chain, the signed checkpoints and the witnesses, which each run recomputes."""

    class Witness(models.TextChoices):
        NONE = "none", _("no witness configured")
        EMPTY = "empty", _("the witnesses hold no checkpoint yet")
        COMPARED = "compared", _("compared with the witnesses")
        UNREADABLE = "unreadable", _("a witness could not be read")

    class Check(models.TextChoices):
        WITNESS = "witness", _("witnesses")
        LEDGER = "ledger", _("ledger")
        RECORD = "record", _("record")
        ERROR = "error", _("error")

    class Source(models.TextChoices):
        COMMAND = "command", _("verify_audit command")
        TASK = "task", _("nightly task")

    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # None while it runs, and for a run stopped without an outcome (the process killed).
    ok = models.BooleanField(_("intact"), null=True, blank=True)
    source = models.CharField(_("run by"), max_length=16, choices=Source.choices)
    from_seq = models.BigIntegerField(_("from sequence"), default=1)
    events_checked = models.BigIntegerField(_("events checked"), default=0)
    last_seq = models.BigIntegerField(_("up to sequence"), default=0)
    head_hash = models.CharField(_("head hash"), max_length=64, blank=True)
    checkpoints_checked = models.PositiveIntegerField(_("checkpoints checked"), default=0)
    witness_status = models.CharField(
        _("witnesses"), max_length=16, choices=Witness.choices, default=Witness.NONE
    )
    witness_documents = models.PositiveIntegerField(_("witnessed checkpoints read"), default=0)
    checkpoint_files = models.PositiveIntegerField(_("checkpoint files' checkpoints"), default=0)
    records_checked = models.JSONField(_("records checked"), default=dict, blank=True)
    records_skipped = models.BooleanField(_("records not checked"), default=False)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    failed_check = models.CharField(
        _("failed check"), max_length=16, choices=Check.choices, blank=True
    )
    first_problem = models.TextField(_("first problem"), blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("audit verification")
        verbose_name_plural = _("audit verifications")

    def __str__(self):
        state = {True: "ok", False: "failed", None: "unfinished"}[self.ok]
        return f"verification {self.pk} ({state})"
