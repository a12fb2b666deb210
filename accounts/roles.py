"""The organisation's roles, kept as Django groups, and the model permissions each one holds."""

from django.utils.translation import gettext_lazy as _

ADMIN = "Admin"
MANAGER = "Manager"
REP = "Sales rep"
COMPLIANCE = "Compliance officer"

# Highest first: a person holding two roles is shown with the first one found here.
ALL = (ADMIN, COMPLIANCE, MANAGER, REP)
LABELS = {
    ADMIN: _("Admin"),
    MANAGER: _("Manager"),
    REP: _("Sales rep"),
    COMPLIANCE: _("Compliance officer"),
}

# "app_label.codename", or "app_label.*" for every permission of an app. Permissions of apps
# that do not exist yet are skipped and granted by the post_migrate sync once they do.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    ADMIN: ("accounts.*", "auth.view_group", "auth.change_group", "audit.*", "crm.*", "comms.*"),
    MANAGER: (
        "accounts.view_user",
        "accounts.view_team",
        "crm.view_company",
        "crm.add_company",
        "crm.view_contact",
        "crm.add_contact",
        "crm.view_deal",
        "crm.add_deal",
        "crm.change_deal",
        "crm.change_contact",
        "crm.change_company",
        "crm.view_activity",
        "crm.add_activity",
        "comms.view_conversation",
    ),
    REP: (
        "accounts.view_user",
        "accounts.view_team",
        "crm.view_company",
        "crm.add_company",
        "crm.view_contact",
        "crm.add_contact",
        "crm.view_deal",
        "crm.add_deal",
        "crm.view_activity",
        "crm.add_activity",
        "comms.view_conversation",
        "comms.add_message",
    ),
    COMPLIANCE: (
        "accounts.view_user",
        "accounts.view_team",
        "accounts.view_usersession",
        "audit.view_auditevent",
        "crm.view_company",
        "crm.view_contact",
        "crm.view_deal",
        "comms.view_conversation",
        "comms.view_message",
    ),
}


def label(role: str | None) -> str:
    return str(LABELS.get(role, role or _("No role")))


def sync(apps) -> None:
    """Create the role groups and grant exactly the permissions declared above."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, specs in PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = Permission.objects.none()
        for spec in specs:
            app_label, codename = spec.split(".", 1)
            qs = Permission.objects.filter(content_type__app_label=app_label)
            if codename != "*":
                qs = qs.filter(codename=codename)
            wanted = wanted | qs
        group.permissions.set(wanted.distinct())


def sync_after_migrate(sender, app_config=None, using="default", apps=None, **kwargs):
    from django.apps import apps as global_apps

    # post_migrate fires once per app, after that app's permissions are made: sync after the last.
    with_models = [a for a in global_apps.get_app_configs() if a.models_module is not None]
    if sender.label != with_models[-1].label:
        return
    sync(apps or global_apps)
