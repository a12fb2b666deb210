"""Quick replies: a rep's own canned answers and their team's (kept by its managers and admins)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts.models import Team, User
from comms import errors, permissions
from comms.models import QuickReply

TITLE_MAX = 60
BODY_MAX = 2000


def _clean(title: str, body: str) -> tuple[str, str]:
    title = (title or "").strip().lstrip("/").strip()
    body = (body or "").strip()
    if not title:
        raise errors.Invalid(_("Give the quick reply a shortcut."))
    if len(title) > TITLE_MAX:
        raise errors.Invalid(
            _("A shortcut may have at most %(limit)s characters.") % {"limit": TITLE_MAX}
        )
    if not body:
        raise errors.Invalid(_("Write the text of the quick reply."))
    if len(body) > min(BODY_MAX, settings.COMMS_MAX_BODY):
        raise errors.Invalid(
            _("A quick reply may have at most %(limit)s characters.") % {"limit": BODY_MAX}
        )
    return title, body


@transaction.atomic
def quick_reply_create(
    *, actor: User, title: str, body: str, team: Team | None = None, request=None
) -> QuickReply:
    """The actor's own quick reply, or (team given) one for a team they keep replies of.
    Audited (comms.quick_reply.created)."""
    title, body = _clean(title, body)
    if team is not None and not permissions.can_keep_team_replies(actor, team):
        raise errors.Forbidden()
    if team is None and (permissions.is_read_only(actor) or not actor.is_active):
        raise errors.Forbidden()
    reply = QuickReply.objects.create(
        owner=None if team else actor, team=team, title=title, body=body
    )
    audit.record(
        actor=actor,
        action="comms.quick_reply.created",
        target=reply,
        data={"team": team.pk if team else None, "title": title},
        request=request,
    )
    return reply


@transaction.atomic
def quick_reply_update(
    *, actor: User, reply: QuickReply, title: str, body: str, request=None
) -> QuickReply:
    """Change the shortcut and text (the keeper stays). Audited (comms.quick_reply.changed)."""
    if not permissions.can_change_quick_reply(actor, reply):
        raise errors.NotFound()
    title, body = _clean(title, body)
    reply.title, reply.body, reply.updated_at = title, body, timezone.now()
    reply.save(update_fields=["title", "body", "updated_at"])
    audit.record(
        actor=actor,
        action="comms.quick_reply.changed",
        target=reply,
        data={"team": reply.team_id, "title": title},
        request=request,
    )
    return reply


@transaction.atomic
def quick_reply_delete(*, actor: User, reply: QuickReply, request=None) -> None:
    """Delete it. Audited (comms.quick_reply.deleted)."""
    if not permissions.can_change_quick_reply(actor, reply):
        raise errors.NotFound()
    audit.record(
        actor=actor,
        action="comms.quick_reply.deleted",
        target=reply,
        data={"team": reply.team_id, "title": reply.title},
        request=request,
    )
    reply.delete()
