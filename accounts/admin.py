from contextvars import ContextVar

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts import permissions, roles, services
from accounts.models import Team, User, UserSession

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
    change_password_form = AuditedPasswordChangeForm
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
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _password_request.reset(token)

    def delete_model(self, request, obj):
        services.user_delete(actor=request.user, user=obj, request=request)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            services.user_delete(actor=request.user, user=user, request=request)

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


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("tree_name", "lead", "parent", "member_count")
    list_select_related = ("lead", "parent")
    search_fields = ("name",)
    autocomplete_fields = ("lead", "parent")
    inlines = [TeamMemberInline]
    ordering = ("path",)

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_members=Count("members"))

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
