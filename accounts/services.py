"""Every write to people, teams and sessions."""

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from accounts import hierarchy, permissions, realtime
from accounts.models import Team, User, UserSession

USER_AGENT_MAX = 512


def _session_store(session_key: str) -> SessionBase:
    engine = import_string(settings.SESSION_ENGINE + ".SessionStore")
    return engine(session_key)


@transaction.atomic
def user_set_manager(*, actor: User | None, user: User, manager: User | None) -> User:
    """Change user's manager; a reporting loop is a ValidationError and nothing is written."""
    if actor is not None and not permissions.is_admin(actor):
        raise PermissionDenied(_("Only an admin changes reporting lines."))
    hierarchy.validate_manager(user, manager)
    user.manager = manager
    user.save(update_fields=["manager"])
    return user


@transaction.atomic
def team_save(*, team: Team, parent: Team | None) -> Team:
    """Create or move a team; its sub-teams' paths follow in one UPDATE per descendant level."""
    hierarchy.validate_team_parent(team, parent)
    old_path = team.path
    team.parent = parent
    if team.pk is None:
        team.save()
    new_path = (parent.path if parent else "") + f"{team.pk:08d}/"
    team.path = new_path
    _team_group_sync(team)
    team.save()
    if old_path and old_path != new_path:
        for child in Team.objects.filter(path__startswith=old_path).exclude(pk=team.pk):
            child.path = new_path + child.path[len(old_path) :]
            child.save(update_fields=["path"])
    return team


TEAM_GROUP_PREFIX = "Team #"


def _team_group_sync(team: Team) -> None:
    """Give the team its own auth group, which object permissions share records with."""
    from django.contrib.auth.models import Group

    name = f"{TEAM_GROUP_PREFIX}{team.pk}"
    if team.group_id is None:
        team.group, _created = Group.objects.get_or_create(name=name)


@transaction.atomic
def user_session_start(
    *, user: User, session_key: str, ip: str | None, user_agent: str
) -> UserSession:
    session, _created = UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "ip": ip or None,
            "user_agent": (user_agent or "")[:USER_AGENT_MAX],
            "ended_at": None,
            "last_seen_at": timezone.now(),
        },
    )
    return session


def user_session_touch(*, session_key: str) -> int:
    return UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        last_seen_at=timezone.now()
    )


@transaction.atomic
def user_session_mark_ended(*, session_key: str) -> None:
    """The browser signed itself out: record it; its sockets close after commit."""
    updated = UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )
    if updated:
        realtime.close_session_sockets_on_commit(session_key)


@transaction.atomic
def user_session_end(*, actor: User, user_session: UserSession) -> UserSession:
    """Sign one session out: its cookie stops working at once and its open sockets close."""
    if not permissions.can_end_session(actor, user_session):
        raise PermissionDenied(_("You cannot sign out this session."))
    if user_session.ended_at is not None:
        return user_session
    user_session.ended_at = timezone.now()
    user_session.save(update_fields=["ended_at"])
    key = user_session.session_key
    transaction.on_commit(lambda: _session_store(key).delete())
    realtime.close_session_sockets_on_commit(key)
    return user_session
