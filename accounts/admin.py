from contextvars import ContextVar

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts import book, offboarding, permissions, roles, selectors, services
from accounts.models import Team, User, UserSession
from config.errors import ServiceError

# The admin's password view builds its form without the request; the audit needs who and from where.
_password_request: ContextVar = ContextVar("password_request", default=None)


class AuditedPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change password" form, stored through the audited service."""

    def save(self, commit=True):
        user = super().save(commit=False)
        if commit:
            request = _password_request.get()
            services.user_password_save(
                actor=getattr(request, "user", None), user=user, request=request
            )
        return user


class LiveTeamChoices:
    """Archived teams take no new members or sub-teams: the form's team fields offer the live
    teams and the one already chosen (so an archived team's records stay editable)."""

    team_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.team_fields:
            field = self.fields.get(name)
            if field is not None:
                current = getattr(self.instance, f"{name}_id", None)
                field.queryset = Team.objects.filter(Q(archived_at__isnull=True) | Q(pk=current))


def _role_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("Role"),
        required=False,
        choices=[("", _("No role")), *((role, roles.LABELS[role]) for role in roles.ALL)],
        help_text=_("What the person may do in Keepline."),
    )


class OneRole:
    """A person holds one role, chosen among the role groups only. The other groups they hold
    (above all their team's internal permission group, which django-guardian shares records
    with) are never offered and are kept as they are when the role changes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "role" in self.fields and self.instance.pk is not None:
            held = {group.name for group in self.instance.groups.all()}
            self.initial.setdefault("role", next((r for r in roles.ALL if r in held), ""))

    def groups_to_save(self) -> list[Group] | None:
        """The person's complete new set of groups, or None when the form has no role."""
        if "role" not in self.cleaned_data:
            return None
        kept = []
        if self.instance.pk is not None:
            kept = [g for g in self.instance.groups.all() if g.name not in roles.ALL]
        role = self.cleaned_data["role"]
        if role:
            kept.append(Group.objects.get(name=role))
        return kept


class PersonChangeForm(OneRole, LiveTeamChoices, UserChangeForm):
    team_fields = ("team",)
    role = _role_field()

    def clean_is_active(self):
        """Deactivating someone who still holds records would strand them: offboard instead."""
        active = self.cleaned_data.get("is_active")
        if self.instance.pk and not active:
            stored = type(self.instance).objects.filter(pk=self.instance.pk, is_active=True)
            if stored.exists():
                refusal = offboarding.holdings_refusal(self.instance)
                if refusal:
                    raise forms.ValidationError(refusal)
        return active


class PersonCreationForm(OneRole, LiveTeamChoices, AdminUserCreationForm):
    team_fields = ("team",)
    role = _role_field()


class TeamForm(LiveTeamChoices, forms.ModelForm):
    team_fields = ("parent",)

    class Meta:
        model = Team
        fields = ("name", "parent", "lead")


class RoleFilter(admin.SimpleListFilter):
    title = _("role")
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [(role, roles.LABELS[role]) for role in roles.ALL]

    def queryset(self, request, queryset):
        if self.value() in roles.ALL:
            return queryset.filter(groups__name=self.value())
        return queryset


# Django's own switches, which grant access outside the roles: for superusers' eyes only.
SUPERUSER_FIELDS = ("is_staff", "is_superuser", "user_permissions")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "full_name", "email", "role", "team", "manager", "is_active")
    list_filter = (RoleFilter, "team", "is_active")
    list_select_related = ("team", "manager")
    search_fields = ("username", "first_name", "last_name", "email")
    autocomplete_fields = ("manager", "team")
    form = PersonChangeForm
    add_form = PersonCreationForm
    change_password_form = AuditedPasswordChangeForm
    actions = ["deactivate_people", "offboard_person"]
    readonly_fields = ("direct_reports", "holdings")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            _("Person"),
            {"fields": ("first_name", "last_name", "email", "title", "phone", "timezone")},
        ),
        (_("Organisation"), {"fields": ("role", "manager", "team")}),
        (_("Working hours"), {"fields": ("work_days", "work_start", "work_end")}),
        (_("Reports and book"), {"fields": ("direct_reports", "holdings")}),
        (_("Access"), {"fields": ("is_active", *SUPERUSER_FIELDS)}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "first_name",
                    "last_name",
                    "password1",
                    "password2",
                ),
            },
        ),
        (_("Organisation"), {"fields": ("role", "manager", "team")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_fieldsets(self, request, obj=None):
        # The form is built from these fieldsets, so what is left out here cannot be posted.
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in SUPERUSER_FIELDS]})
            for name, opts in fieldsets
        ]

    def save_model(self, request, obj, form, change):
        # Saved in save_related with its groups, by one audited service call.
        pass

    def save_related(self, request, form, formsets, change):
        services.user_save(
            actor=request.user,
            user=form.instance,
            groups=form.groups_to_save(),
            user_permissions=form.cleaned_data.get("user_permissions"),
            request=request,
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.is_active and self.has_offboard_permission(request):
            context["offboard_url"] = reverse("accounts:user-offboard", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def user_change_password(self, request, id, form_url=""):
        token = _password_request.set(request)
        old_key = request.session.session_key
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _password_request.reset(token)
            # Changing one's own password here cycles the session key: the record follows it.
            services.user_session_rekey(old_key=old_key, new_key=request.session.session_key)

    def has_delete_permission(self, request, obj=None):
        # People are never deleted (their records, messages and audit trail point at them):
        # they are deactivated, which signs them out and closes their sockets.
        return False

    def has_offboard_permission(self, request, obj=None):
        return bool(permissions.is_admin(request.user))

    @admin.action(description=_("Deactivate selected people"), permissions=["change"])
    def deactivate_people(self, request, queryset):
        done = 0
        for user in queryset.filter(is_active=True).exclude(pk=request.user.pk):
            user.is_active = False
            try:
                services.user_save(actor=request.user, user=user, request=request)
            except ServiceError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                continue
            done += 1
        if queryset.filter(pk=request.user.pk, is_active=True).exists():
            self.message_user(request, _("You cannot deactivate yourself."), messages.WARNING)
        if done:
            self.message_user(
                request,
                ngettext("Deactivated %(count)d person.", "Deactivated %(count)d people.", done)
                % {"count": done},
                messages.SUCCESS,
            )

    @admin.action(description=_("Offboard selected user…"), permissions=["offboard"])
    def offboard_person(self, request, queryset):
        # Offboarding hands one person's whole book over, chosen on its own page: one at a time.
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            messages.error(request, _("Select exactly one person to offboard."))
            return None
        person = chosen[0]
        if not person.is_active:
            messages.error(
                request,
                _("%(name)s is already inactive: offboard people while they are active.")
                % {"name": person.get_full_name() or person.get_username()},
            )
            return None
        return HttpResponseRedirect(reverse("accounts:user-offboard", args=[person.pk]))

    @admin.display(description=_("name"))
    def full_name(self, obj):
        return obj.get_full_name()

    @admin.display(description=_("role"))
    def role(self, obj):
        held = {g.name for g in obj.groups.all()}
        return roles.label(next((r for r in roles.ALL if r in held), None))

    @admin.display(description=_("direct reports"))
    def direct_reports(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        people = selectors.user_direct_reports(obj).order_by("first_name", "last_name", "username")
        rows = [
            (
                reverse("admin:accounts_user_change", args=[person.pk]),
                person.get_full_name() or person.get_username(),
                person.team.name if person.team_id else gettext("no team"),
            )
            for person in people
        ]
        if not rows:
            return gettext("Nobody reports to this person.")
        return format_html(
            "<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a> ({})</li>', rows)
        )

    @admin.display(description=_("holds"))
    def holdings(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        items = book.holdings(obj)
        if not items:
            return gettext("Nothing.")
        rows = []
        for item in items:
            text = gettext("%(label)s: %(count)d") % {"label": item.label, "count": item.count}
            if item.url:
                rows.append(format_html('<li><a href="{}">{}</a></li>', item.url, text))
            else:
                rows.append(format_html("<li>{}</li>", text))
        return format_html("<ul>{}</ul>", format_html_join("", "{}", ((row,) for row in rows)))


if admin.site.is_registered(Group):
    admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """Roles are groups: changing one's permissions is recorded in the audit ledger."""

    def save_model(self, request, obj, form, change):
        # Saved in save_related with its permissions, by one audited service call.
        pass

    def save_related(self, request, form, formsets, change):
        services.group_save(
            actor=request.user,
            group=form.instance,
            group_permissions=form.cleaned_data.get("permissions"),
            request=request,
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def has_delete_permission(self, request, obj=None):
        # Roles are made by data migrations and team groups carry the teams' shares: deleting one
        # would silently take access from everyone holding it.
        return False


class TeamMemberInline(admin.TabularInline):
    model = User
    fk_name = "team"
    fields = ("username", "first_name", "last_name", "title", "manager")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name = _("member")
    verbose_name_plural = _("members")

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # Each row shows the member's manager: one query for all of them.
        return super().get_queryset(request).select_related("manager").order_by("username")


class TeamStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", _("Live")), ("archived", _("Archived"))]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "archived":
            return queryset.filter(archived_at__isnull=False)
        return queryset


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamForm
    list_display = ("tree_name", "lead", "parent", "member_count", "archived_at")
    list_filter = (TeamStateFilter,)
    list_select_related = ("lead", "parent")
    search_fields = ("name",)
    autocomplete_fields = ("lead", "parent")
    # Changed only by the Archive / Restore actions, which check and audit it.
    readonly_fields = ("archived_at",)
    inlines = [TeamMemberInline]
    ordering = ("path",)
    actions = ["archive_teams", "restore_teams"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_members=Count("members"))

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            # Team pickers (a person's team, a team's parent) offer live teams only.
            queryset = queryset.filter(archived_at__isnull=True)
        return queryset, may_have_duplicates

    def has_delete_permission(self, request, obj=None):
        # Teams are archived, never deleted: deleting one dropped its shares without a trace.
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # A team not saved yet has no tree (its empty path would match every team).
        return (*fields, "tree") if obj is not None and obj.pk is not None else fields

    @admin.display(description=_("tree"))
    def tree(self, obj):
        teams = selectors.team_subtree(obj).annotate(n_members=Count("members"))
        rows = []
        for team in teams:
            indent = "\u2003\u2002" * (team.depth - obj.depth)
            name = (
                format_html("<strong>{}</strong>", team.name)
                if team.pk == obj.pk
                else format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:accounts_team_change", args=[team.pk]),
                    team.name,
                )
            )
            facts = ngettext("%(count)d member", "%(count)d members", team.n_members) % {
                "count": team.n_members
            }
            if team.archived_at is not None:
                facts = gettext("%(facts)s, archived") % {"facts": facts}
            rows.append((indent, "└ " if team.pk != obj.pk else "", name, facts))
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}{}{} ({})</li>", rows))

    @admin.display(description=_("team"), ordering="path")
    def tree_name(self, obj):
        return format_html(
            "{}{}{}",
            "\u2003\u2002" * obj.depth,  # 1.5em a level: spaces, as the CSP allows no style=""
            "└ " if obj.depth else "",
            obj.name,
        )

    @admin.display(description=_("members"), ordering="n_members")
    def member_count(self, obj):
        return obj.n_members

    def save_model(self, request, obj, form, change):
        services.team_save(
            team=obj, parent=form.cleaned_data.get("parent"), actor=request.user, request=request
        )

    def _apply(self, request, teams, service, done_message) -> None:
        done = 0
        for team in teams:
            try:
                service(actor=request.user, team=team, request=request)
            except ServiceError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message(done) % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Archive selected teams"), permissions=["change"])
    def archive_teams(self, request, queryset):
        # Deepest first, so a whole emptied subtree is archived in one go.
        teams = queryset.filter(archived_at__isnull=True).order_by("-path")
        self._apply(
            request,
            teams,
            services.team_archive,
            lambda n: ngettext("Archived %(count)d team.", "Archived %(count)d teams.", n),
        )

    @admin.action(description=_("Restore selected teams"), permissions=["change"])
    def restore_teams(self, request, queryset):
        # Parents first: a team inside an archived team is not restored.
        teams = queryset.filter(archived_at__isnull=False).order_by("path")
        self._apply(
            request,
            teams,
            services.team_restore,
            lambda n: ngettext("Restored %(count)d team.", "Restored %(count)d teams.", n),
        )


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ("user", "ip", "created_at", "last_seen_at", "ended_at")
    list_filter = ("ended_at",)
    search_fields = ("user__username", "ip")
    readonly_fields = (
        "user",
        "session_key",
        "ip",
        "user_agent",
        "created_at",
        "last_seen_at",
        "ended_at",
    )
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return permissions.can_use_admin(request.user)
