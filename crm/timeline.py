"""A deal's timeline: its activities and the audit ledger's record of what happened to it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from accounts.models import User
from audit import selectors as audit_selectors
from audit.models import AuditEvent
from crm import permissions
from crm.models import Activity, Deal

LIMIT = 100
# Who a deal is shared with is the share panel's business: shown only to those who see the panel.
SHARE_ACTIONS = ("crm.deal.shared", "crm.deal.unshared")


@dataclass
class Entry:
    at: dt.datetime
    kind: str  # "activity" or the audit action's verb
    actor: str
    text: str
    details: list[str] = field(default_factory=list)
    activity: Activity | None = None


def _field_label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except Exception:  # noqa: BLE001 - "tags", "emails" and other pseudo-fields
        return name


def _describe(event: AuditEvent, users: dict[int, str]) -> tuple[str, list[str]]:
    verb = event.action.rsplit(".", 1)[-1]
    data = event.data or {}
    changes = data.get("changes", {})
    if verb == "created":
        return _("created the deal at stage %(stage)s") % {"stage": data.get("stage_name", "?")}, []
    if verb == "stage_changed":
        names = data.get("stage_names", {})
        return _("moved the deal from %(before)s to %(after)s") % {
            "before": names.get("before", "?"),
            "after": names.get("after", "?"),
        }, []
    if verb == "reassigned":
        owner = changes.get("owner", {})
        return _("gave the deal from %(before)s to %(after)s") % {
            "before": users.get(owner.get("before"), "?"),
            "after": users.get(owner.get("after"), "?"),
        }, []
    if verb == "shared":
        level = _("can change") if data.get("level") == "change" else _("can view")
        return _("shared the deal with %(who)s (%(level)s)") % {
            "who": data.get("with_label", "?"),
            "level": level,
        }, []
    if verb == "unshared":
        return _("stopped sharing the deal with %(who)s") % {"who": data.get("with_label", "?")}, []
    if verb == "archived":
        return _("archived the deal"), []
    details = [
        f"{_field_label(Deal, name)}: {change.get('before')!s} → {change.get('after')!s}"
        for name, change in changes.items()
    ]
    return _("updated the deal"), details


def deal_timeline(
    deal: Deal, activities: list[Activity], *, viewer: User, can_share: bool | None = None
) -> list[Entry]:
    """Newest first, as `viewer` may read it: share and unshare entries only for those who may
    manage the deal's sharing (permissions.can_share, the share panel's own test). Two queries
    at any size: the deal's audit events, and the people named in owner changes."""
    if can_share is None:  # the deal page passes what its share panel already asked
        can_share = permissions.can_share(viewer, deal)
    hidden = () if can_share else SHARE_ACTIONS
    events = audit_selectors.events_for_target(deal, exclude_actions=hidden, limit=LIMIT)
    owner_ids = {
        value
        for event in events
        if event.action == "crm.deal.reassigned"
        for value in event.data.get("changes", {}).get("owner", {}).values()
        if isinstance(value, int)
    }
    users = {u.pk: str(u) for u in User.objects.filter(pk__in=owner_ids)} if owner_ids else {}
    entries = []
    for event in events:
        text, details = _describe(event, users)
        entries.append(
            Entry(
                at=event.created_at,
                kind=event.action.rsplit(".", 1)[-1],
                actor=event.actor_label,
                text=text,
                details=details,
            )
        )
    for activity in activities:
        entries.append(
            Entry(
                at=activity.created_at,
                kind="activity",
                actor=str(activity.author),
                text=activity.subject,
                activity=activity,
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries
