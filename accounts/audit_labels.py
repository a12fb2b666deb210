"""The plain-language names of the actions accounts records (audit.labels)."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "accounts.api_token.created": _("API token created"),
    "accounts.api_token.revoked": _("API token revoked"),
    "accounts.api_token.revoked_all": _("All API tokens revoked"),
    "accounts.cover.set": _("Out-of-office cover set"),
    "accounts.cover.cancelled": _("Out-of-office cover cancelled"),
    "accounts.group.created": _("Role created"),
    "accounts.group.changed": _("Role changed"),
    "accounts.session.ended": _("Session ended"),
    "accounts.sign_in.failed": _("Sign-in failed"),
    "accounts.sign_in.locked": _("Sign-in locked after failed attempts"),
    "accounts.team.created": _("Team created"),
    "accounts.team.changed": _("Team changed"),
    "accounts.team.archived": _("Team archived"),
    "accounts.team.restored": _("Team restored"),
    "accounts.user.created": _("User created"),
    "accounts.user.changed": _("User details changed"),
    "accounts.user.groups_changed": _("User's roles changed"),
    "accounts.user.manager_changed": _("User's manager changed"),
    "accounts.user.team_changed": _("User's team changed"),
    "accounts.user.deactivated": _("User deactivated"),
    "accounts.user.reactivated": _("User reactivated"),
    "accounts.user.offboarded": _("User offboarded"),
    "accounts.user.password_changed": _("Password changed"),
    "accounts.user.signed_in": _("Signed in"),
    "accounts.user.signed_out": _("Signed out"),
    "accounts.user.language_changed": _("Language changed"),
    "accounts.user.working_hours_changed": _("Working hours changed"),
}
