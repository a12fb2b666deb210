"""Who may read the audit ledger: the one policy every interface (pages, API, nav) uses."""

from django.http import Http404

from accounts import permissions


def can_view_ledger(user) -> bool:
    """Admins and compliance officers; nobody else learns the ledger exists (404)."""
    return permissions.is_admin(user) or permissions.is_compliance(user)


def require_view_ledger(user) -> None:
    if not can_view_ledger(user):
        raise Http404
