from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import working_hours


def validate_work_days(value: str) -> None:
    if not value or set(value) - set(working_hours.DAYS) or len(set(value)) != len(value):
        raise ValidationError(
            _("Give the working days as digits, 1 = Monday to 7 = Sunday, each once (e.g. 12345).")
        )


def validate_timezone(value: str) -> None:
    if value and value not in working_hours.known_zones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class Team(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    lead = models.ForeignKey(
        "accounts.User",
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_teams",
    )
    # Materialised path ("00000001/00000004/") kept by accounts.services.team_save: a subtree is
    # one prefix query and ordering by it lists the tree depth-first.
    path = models.CharField(max_length=255, editable=False, default="", db_index=True)
    # The auth group django-guardian shares records with ("shared with the team"); kept by
    # accounts.services.team_save. Membership is User.team, not this group's user_set.
    group = models.OneToOneField(
        "auth.Group",
        verbose_name=_("permission group"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="team",
    )
    # Teams are archived, never deleted (accounts.services.team_archive): shares and history
    # keep pointing at them.
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)

    class Meta:
        ordering = ["path", "name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self):
        return self.name

    @property
    def depth(self) -> int:
        return max(self.path.count("/") - 1, 0)

    def clean(self):
        from accounts import hierarchy

        hierarchy.validate_team_parent(self, self.parent)


class User(AbstractUser):
    manager = models.ForeignKey(
        "self",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="direct_reports",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    title = models.CharField(_("job title"), max_length=120, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, blank=True, default="", validators=[validate_timezone]
    )
    # Blank: follow the browser's Accept-Language (accounts.middleware.UserLanguageMiddleware).
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        default="",
        choices=settings.LANGUAGES,
        help_text=_("Blank: the browser's language."),
    )
    # Working hours (accounts.working_hours): outside them notifications wait for the next start.
    work_days = models.CharField(
        _("working days"),
        max_length=7,
        default=working_hours.default_work_days,
        validators=[validate_work_days],
        help_text=_("1 = Monday to 7 = Sunday, e.g. 12345 for Monday to Friday."),
    )
    work_start = models.TimeField(_("working day starts"), default=working_hours.default_work_start)
    work_end = models.TimeField(
        _("working day ends"),
        default=working_hours.default_work_end,
        help_text=_(
            "In the person's time zone. Earlier than the start: the shift ends the next day. "
            "The same as the start: around the clock."
        ),
    )
    # Bumped by every change that can grant or end access (roles, team, manager, password,
    # activation). Long-lived interfaces (sockets) compare it with the value they loaded, inside
    # the same statement as each write, so nothing is authorised from stale cached role facts.
    access_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["first_name", "last_name", "username"]
        indexes = [models.Index(fields=["manager"], name="accounts_user_manager_idx")]

    def __str__(self):
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        # access_version only moves forward, by F() updates: an instance loaded before a bump must
        # not write its old value back (a stale socket's writes would pass again).
        if (
            not self._state.adding
            and not kwargs.get("force_insert")
            and kwargs.get("update_fields") is None
        ):
            kwargs["update_fields"] = [
                f.attname
                for f in self._meta.concrete_fields
                if not f.primary_key and f.attname != "access_version"
            ]
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        from accounts import hierarchy

        hierarchy.validate_manager(self, self.manager)
        hierarchy.validate_team_membership(self, self.team)


class UserSession(models.Model):
    """One signed-in browser: lets a person (and later an admin) see and end each session."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="user_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=512, blank=True)
    created_at = models.DateTimeField(_("signed in"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), auto_now_add=True)
    ended_at = models.DateTimeField(_("signed out"), null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        indexes = [models.Index(fields=["user", "ended_at"], name="accounts_usersession_open_idx")]

    def __str__(self):
        return f"{self.user} @ {self.ip or '?'}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None

    def get_end_url(self):
        return reverse("accounts:session-end", args=[self.pk])


class ApiToken(models.Model):
    """A personal API token: the secret is shown once; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class Offboarding(models.Model):
    """One handover of a person's whole book (accounts.handover.user_offboard): who left, who
    took what, how much moved, and whether it finished. At most one finished per departure: a
    second run finds this row and changes nothing."""

    class Mode(models.TextChoices):
        ONE = "one", _("One person takes everything")
        BY_COMPANY = "by_company", _("Split by company")
        BY_DEAL = "by_deal", _("Split by deal")
        ROUND_ROBIN = "round_robin", _("Round-robin across a team")
        QUEUE = "queue", _("The team's unassigned queue")

    class Status(models.TextChoices):
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(
        User, verbose_name=_("person"), on_delete=models.PROTECT, related_name="offboardings"
    )
    actor = models.ForeignKey(
        User,
        verbose_name=_("offboarded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    mode = models.CharField(_("successors"), max_length=16, choices=Mode.choices)
    successor = models.ForeignKey(
        User,
        verbose_name=_("successor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The split as chosen: {"companies": {"<id>": <user id>}, "deals": {...}}; successors by id.
    split = models.JSONField(default=dict, blank=True)
    successors = models.JSONField(_("successors"), default=list, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("offboarding")
        verbose_name_plural = _("offboardings")

    def __str__(self):
        return f"{self.user} ({self.get_status_display()})"


class Cover(models.Model):
    """Out of office: between starts_at and ends_at, `delegate` receives `user`'s new inbound
    conversations. Routing reverts by itself when the period ends; nothing needs undoing."""

    user = models.ForeignKey(
        User, verbose_name=_("person"), on_delete=models.PROTECT, related_name="covers"
    )
    delegate = models.ForeignKey(
        User, verbose_name=_("covered by"), on_delete=models.PROTECT, related_name="covering"
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("out-of-office cover")
        verbose_name_plural = _("out-of-office covers")
        indexes = [models.Index(fields=["user", "starts_at"], name="accounts_cover_user_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="accounts_cover_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~models.Q(delegate=models.F("user")),
                name="accounts_cover_not_self",
            ),
        ]

    def __str__(self):
        return f"{self.user} → {self.delegate}"


class PendingNotification(models.Model):
    """A notification held back until its person's next working start (accounts.notifications):
    released by the beat task accounts.tasks.notifications_release, once (sent_at)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    payload = models.JSONField()
    due_at = models.DateTimeField(_("deliver at"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("held notification")
        verbose_name_plural = _("held notifications")
        indexes = [
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(sent_at__isnull=True),
                name="accounts_notif_due_idx",
            ),
            models.Index(fields=["user", "due_at"], name="accounts_notif_user_idx"),
        ]

    def __str__(self):
        return f"{self.payload.get('type', 'notification')} for {self.user_id} at {self.due_at}"


class PushSubscription(models.Model):
    """One browser's Web Push subscription (accounts.push) for the person signed in there.

    An endpoint belongs to one browser profile: subscribing it again (another person signed in
    there) moves it, so nobody gets another's notifications. It is tied to the session that
    subscribed it and removed when that session ends (sign-out, password change, an admin
    ending it, deactivation) or when the push service answers 404/410.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(_("endpoint"), max_length=2048)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["endpoint"], name="accounts_push_endpoint_uniq"),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="accounts_push_user_idx")]

    def __str__(self):
        return f"push for {self.user_id}"
