"""Admins edit the DLP policy: the action per detector and channel, and their own patterns."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

import audit
from accounts.models import User
from config.errors import Invalid, NotFound
from governance import dlp, dlp_policy, permissions
from governance.models import DlpAction, DlpPattern, DlpRule


def detectors_known() -> list[str]:
    """Every detector an action may be set for: the built-ins, then admin-defined ones."""
    custom = [p.detector for p in DlpPattern.objects.all()]
    return [d.name for d in dlp.DETECTORS] + custom


@transaction.atomic
def dlp_policy_set(*, actor: User, actions: dict[tuple[str, str], str], request=None) -> int:
    """Set the action of each (detector, channel) given; those equal to what is in force are
    left alone. Admins only (404 for others). Audited (governance.dlp.policy_changed, one event
    with every change). Returns how many changed."""
    permissions.require_set_dlp(actor)
    known = set(detectors_known())
    policy = dlp_policy.Policy(
        rules={
            (d, c): a for d, c, a in DlpRule.objects.values_list("detector", "channel", "action")
        }
    )
    changes = []
    for (detector, channel), action in sorted(actions.items()):
        if detector not in known or channel not in dlp_policy.CHANNELS:
            raise Invalid(_("Unknown detector or channel."))
        if action not in dlp_policy.allowed_actions(channel):
            raise Invalid(
                _("%(action)s is not possible on %(channel)s.")
                % {"action": action, "channel": channel}
            )
        before = policy.action(detector, channel)
        if before == action:
            continue
        DlpRule.objects.update_or_create(
            detector=detector,
            channel=channel,
            defaults={"action": action, "updated_by": actor, "updated_at": timezone.now()},
        )
        changes.append({"detector": detector, "channel": channel, "from": before, "to": action})
    if changes:
        audit.record(
            actor=actor,
            action="governance.dlp.policy_changed",
            data={"changes": changes},
            request=request,
        )
        dlp_policy.forget_policy()
    return len(changes)


@transaction.atomic
def dlp_pattern_create(*, actor: User, name: str, kind: str, text: str, request=None) -> DlpPattern:
    """An admin-defined detector: a regular expression or keywords (one a line). It flags
    everywhere until an action is chosen. Audited (governance.dlp.pattern_created)."""
    permissions.require_set_dlp(actor)
    slug = slugify(name or "")[:60]
    if not slug:
        raise Invalid(fields={"name": [_("Give it a name.")]})
    if kind not in DlpPattern.Kind.values:
        raise Invalid(fields={"kind": [_("Choose a regular expression or a keyword list.")]})
    text = (text or "").strip()
    if not text:
        raise Invalid(fields={"text": [_("Write the expression or the keywords.")]})
    if kind == DlpPattern.Kind.PATTERN:
        try:
            compiled = re.compile(text)
        except re.error as error:
            raise Invalid(
                fields={"text": [_("Not a valid regular expression: %(error)s") % {"error": error}]}
            ) from None
        if compiled.match(""):
            raise Invalid(fields={"text": [_("This expression matches empty text.")]})
    elif dlp.keyword_pattern(text.splitlines()) is None:
        raise Invalid(fields={"text": [_("Write at least one keyword.")]})
    if DlpPattern.objects.filter(kind=kind, name=slug).exists():
        raise Invalid(fields={"name": [_("A detector with this name exists.")]})
    pattern = DlpPattern.objects.create(name=slug, kind=kind, text=text, created_by=actor)
    audit.record(
        actor=actor,
        action="governance.dlp.pattern_created",
        target=pattern,
        data={"detector": pattern.detector, "kind": kind},
        request=request,
    )
    dlp_policy.forget_policy()
    return pattern


@transaction.atomic
def dlp_pattern_set_active(*, actor: User, pattern_id, active: bool, request=None) -> DlpPattern:
    """Switch an admin-defined detector on or off. Audited (governance.dlp.pattern_changed)."""
    permissions.require_set_dlp(actor)
    try:
        pattern = DlpPattern.objects.select_for_update().get(pk=int(pattern_id))
    except (DlpPattern.DoesNotExist, TypeError, ValueError, OverflowError):
        raise NotFound() from None
    if pattern.active != active:
        pattern.active = active
        pattern.save(update_fields=["active"])
        audit.record(
            actor=actor,
            action="governance.dlp.pattern_changed",
            target=pattern,
            data={"detector": pattern.detector, "active": active},
            request=request,
        )
        dlp_policy.forget_policy()
    return pattern


__all__ = ["DlpAction", "dlp_pattern_create", "dlp_pattern_set_active", "dlp_policy_set"]
