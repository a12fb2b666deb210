"""Django's object permission API answered by the CRM policy.

`user.has_perm("crm.view_deal", deal)` and `user.has_perm("crm.change_deal", deal)` (and the same
for companies, contacts and activities) give exactly `crm.permissions.can_view` / `can_change`:
ownership, the reporting line, shares with the person or their live team, roles, archiving.
guardian's own backend read only its share tables (no owner, no manager, no role, archived records
still shared), so it is not installed; guardian stays as the storage of shares.

Every other permission asked with an object is refused here; without an object this backend
grants nothing and the model permissions come from ModelBackend (the role groups).
"""

from django.contrib.auth.backends import BaseBackend
from django.db.models import Model

from crm import permissions
from crm.models import Activity

CHECKS = {"view": permissions.can_view, "change": permissions.can_change}
MODELS = (*permissions.SHAREABLE, Activity)


def _subject(obj) -> str | None:
    """ "app_label.model_name" when obj is a CRM record the policy rules on, else None."""
    if isinstance(obj, Model) and type(obj) in MODELS:
        return f"{obj._meta.app_label}.{obj._meta.model_name}"
    return None


class PolicyBackend(BaseBackend):
    """Authenticates nobody; answers object permissions on CRM records from the CRM policy."""

    def has_perm(self, user_obj, perm, obj=None):
        subject = _subject(obj)
        if subject is None:
            return False
        app_label, _dot, codename = perm.partition(".")
        action, _sep, model_name = codename.partition("_")
        if f"{app_label}.{model_name}" != subject or action not in CHECKS:
            return False
        return CHECKS[action](user_obj, obj)

    def get_user_permissions(self, user_obj, obj=None):
        subject = _subject(obj)
        if subject is None:
            return set()
        app_label, model_name = subject.split(".")
        return {
            f"{app_label}.{action}_{model_name}"
            for action, check in CHECKS.items()
            if check(user_obj, obj)
        }
