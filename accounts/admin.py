from contextvars import ContextVar

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import Count, Q
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import permissions, roles, services
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


class PersonChangeForm(LiveTeamChoices, UserChangeForm):
    team_fields = ("team",)


class PersonCreationForm(LiveTeamChoices, AdminUserCreationForm):
    team_fields = ("team",)


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
    actions = ["deactivate_people"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            _("Person"),
            {"fields": ("first_name", "last_name", "email", "title", "phone", "timezone")},
        ),
        (_("Organisation"), {"fields": ("manager", "team", "groups")}),
        (_("Access"), {"fields": ("is_active", "is_staff", "is_superuser", "user_permissions")}),
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
        (_("Organisation"), {"fields": ("manager", "team", "groups")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def save_model(self, request, obj, form, change):
        # Saved in save_related with its groups, by one audited service call.
        pass

    def save_related(self, request, form, formsets, change):
        data = form.cleaned_data
        services.user_save(
            actor=request.user,
            user=form.instance,
            groups=data.get("groups"),
            user_permissions=data.get("user_permissions"),
            request=request,
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

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

    @admin.action(description=_("Deactivate selected people"), permissions=["change"])
    def deactivate_people(self, request, queryset):
        done = 0
        for user in queryset.filter(is_active=True).exclude(pk=request.user.pk):
            user.is_active = False
            services.user_save(actor=request.user, user=user, request=request)
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

    @admin.display(description=_("name"))
    def full_name(self, obj):
        return obj.get_full_name()

    @admin.display(description=_("role"))
    def role(self, obj):
        held = {g.name for g in obj.groups.all()}
        return roles.label(next((r for r in roles.ALL if r in held), None))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["help_text"] = _(
                "The person's role: Admin, Manager, Sales rep, Compliance officer."
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


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
