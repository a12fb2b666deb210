"""Channel accounts and templates, for the Admin role. Secrets are write-only: a password input
that never renders a value, labelled "set" or "not set"; left blank, a secret is unchanged."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from connectors import permissions, services
from connectors.models import (
    REQUIRED_SETTINGS,
    SECRET_FIELDS,
    SETTING_FIELDS,
    ChannelAccount,
    ChannelKind,
    InboundEvent,
    MessageTemplate,
)

SETTING_LABELS = {
    "phone_number_id": _("Phone number id"),
    "business_account_id": _("Business account id"),
    "api_base_url": _("API base URL"),
    "api_version": _("API version"),
    "account_sid": _("Account SID"),
    "from_number": _("From number"),
    "base_url": _("API base URL"),
    "from_address": _("From address"),
    "smtp_host": _("SMTP host"),
    "smtp_port": _("SMTP port"),
    "smtp_username": _("SMTP user name"),
    "smtp_use_tls": _("SMTP uses TLS"),
    "imap_host": _("IMAP host"),
    "imap_port": _("IMAP port"),
    "imap_username": _("IMAP user name"),
    "imap_use_ssl": _("IMAP uses SSL"),
}
SECRET_LABELS = {
    "access_token": _("Access token"),
    "app_secret": _("App secret"),
    "verify_token": _("Webhook verify token"),
    "auth_token": _("Auth token"),
    "smtp_password": _("SMTP password"),
    "imap_password": _("IMAP password"),
    "inbound_secret": _("Inbound email secret"),
}


def _setting_key(kind: str, name: str) -> str:
    return f"{kind}__{name}"


def _secret_key(kind: str, name: str) -> str:
    return f"{kind}__secret__{name}"


def _kind_fields() -> dict[str, forms.Field]:
    """The settings and secret fields of every kind, declared on the form class (the admin
    checks declared fields)."""
    fields: dict[str, forms.Field] = {}
    for kind, defaults in SETTING_FIELDS.items():
        for name, default in defaults.items():
            label = SETTING_LABELS.get(name, name)
            if isinstance(default, bool):
                field = forms.BooleanField(label=label, required=False, initial=default)
            elif isinstance(default, int):
                field = forms.IntegerField(
                    label=label, required=False, initial=default, min_value=1
                )
            else:
                field = forms.CharField(
                    label=label, required=False, max_length=255, initial=default
                )
            fields[_setting_key(kind, name)] = field
        for name in SECRET_FIELDS[kind]:
            fields[_secret_key(kind, name)] = forms.CharField(
                label=SECRET_LABELS.get(name, name),
                required=False,
                # render_value=False: the stored value never reaches the page.
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            )
    return fields


class ChannelAccountFormBase(forms.ModelForm):
    """One form for every kind: each kind's settings and secrets in its own fieldset; only the
    chosen kind's are kept."""

    class Meta:
        model = ChannelAccount
        fields = ["kind", "name", "team", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        is_set = instance.secret_names_set() if instance.pk else set()
        unreadable = is_set is None
        is_set = is_set or set()
        for kind, defaults in SETTING_FIELDS.items():
            if instance.pk and instance.kind == kind:
                for name in defaults:
                    if name in (instance.settings or {}):
                        self.initial[_setting_key(kind, name)] = instance.settings[name]
            for name in SECRET_FIELDS[kind]:
                if instance.pk and instance.kind == kind and unreadable:
                    state = gettext("unreadable with the configured keys: enter it again")
                elif instance.pk and instance.kind == kind and name in is_set:
                    state = gettext("set")
                else:
                    state = gettext("not set")
                self.fields[_secret_key(kind, name)].help_text = gettext(
                    "Currently: %(state)s. Leave blank to keep it."
                ) % {"state": state}

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind not in SETTING_FIELDS:
            return data
        settings = {}
        for name, default in SETTING_FIELDS[kind].items():
            value = data.get(_setting_key(kind, name))
            if isinstance(value, str):
                value = value.strip()
            settings[name] = default if value in (None, "") else value
        for name in REQUIRED_SETTINGS[kind]:
            if not settings.get(name):
                self.add_error(_setting_key(kind, name), _("Required for this channel."))
        self.instance.settings = settings
        self.secrets = {
            name: data.get(_secret_key(kind, name)) or "" for name in SECRET_FIELDS[kind]
        }
        return data


ChannelAccountForm = type("ChannelAccountForm", (ChannelAccountFormBase,), _kind_fields())


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    form = ChannelAccountForm
    list_display = ("name", "kind", "team", "is_active", "updated_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name",)

    def get_fieldsets(self, request, obj=None):
        sets = [(None, {"fields": ["kind", "name", "team", "is_active"]})]
        for kind in ChannelKind:
            fields = [_setting_key(kind, n) for n in SETTING_FIELDS[kind]]
            fields += [_secret_key(kind, n) for n in SECRET_FIELDS[kind]]
            sets.append((kind.label, {"fields": fields}))
        return sets

    def has_module_permission(self, request):
        return permissions.can_manage_accounts(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_manage_accounts(request.user)

    def has_add_permission(self, request):
        return permissions.can_manage_accounts(request.user)

    def has_change_permission(self, request, obj=None):
        return permissions.can_manage_accounts(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: messages and events keep pointing at it

    def save_model(self, request, obj, form, change):
        services.channel_account_save(
            actor=request.user, account=obj, secrets=getattr(form, "secrets", {}), request=request
        )


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "language", "account", "approved")
    list_filter = ("approved", "account")
    search_fields = ("name", "body")

    def has_module_permission(self, request):
        return permissions.can_manage_accounts(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_manage_accounts(request.user)

    def has_add_permission(self, request):
        return permissions.can_manage_accounts(request.user)

    def has_change_permission(self, request, obj=None):
        return permissions.can_manage_accounts(request.user)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.message_template_save(actor=request.user, template=obj, request=request)


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    """Read-only: what providers delivered, and any processing error."""

    list_display = ("id", "account", "kind", "provider_id", "received_at", "processed_at")
    list_filter = ("kind", "account")
    search_fields = ("provider_id",)

    def has_module_permission(self, request):
        return permissions.can_manage_accounts(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_manage_accounts(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
