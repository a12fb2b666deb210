"""Who may use the compliance console: the one policy its pages, API and navigation use.

Compliance officers and admins; everyone else (reps, managers, the signed-out) gets 404, so the
console's existence is not disclosed. Retention policies are admin-only (`can_set_retention`).
"""

from django.http import Http404

from accounts import permissions as people


def can_use_console(user) -> bool:
    return bool(people.is_compliance(user) or people.is_admin(user))


def require_console(user) -> None:
    if not can_use_console(user):
        raise Http404


def can_set_retention(user) -> bool:
    return bool(people.is_admin(user))


def require_set_retention(user) -> None:
    if not can_set_retention(user):
        raise Http404


# Data-subject requests: logged, exported and decided by whoever uses the console.
can_handle_dsr = can_use_console
require_handle_dsr = require_console


def can_set_dlp(user) -> bool:
    """The DLP policy (actions, admin-defined patterns): admins. Compliance officers read it."""
    return bool(people.is_admin(user))


def require_set_dlp(user) -> None:
    if not can_set_dlp(user):
        raise Http404


def can_review(user) -> bool:
    """The supervision review queue: whoever uses the console."""
    return can_use_console(user)


def require_review(user) -> None:
    if not can_review(user):
        raise Http404


def can_download_export(user, job) -> bool:
    """A finished export's zip: whoever uses the console (its requester is one of them)."""
    return can_use_console(user) and job.status == job.Status.DONE and bool(job.file_path)
