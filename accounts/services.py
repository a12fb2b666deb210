"""Every write to people, teams and sessions."""

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

import audit
from accounts import hierarchy, permissions, realtime
from accounts.models import Team, User, UserSession

USER_AGENT_MAX = 512
USERNAME_MAX = 150
# Fields of a person the ledger follows. Never the password, last_login or session keys.
USER_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "title",
    "phone",
    "timezone",
    "is_staff",
    "is_superuser",
)
TEAM_FIELDS = ("name", "parent", "lead")


def _session_store(session_key: str) -> SessionBase:
    engine = import_string(settings.SESSION_ENGINE + ".SessionStore")
    return engine(session_key)


def _user_state(user: User, groups=None, user_permissions=None) -> dict:
    state = audit.snapshot(user, (*USER_FIELDS, "is_active", "manager", "team"))
    if groups is None:
        groups = user.groups.all()
    if user_permissions is None:
        user_permissions = user.user_permissions.select_related("content_type")
    state["groups"] = sorted(g.name for g in groups)
    state["user_permissions"] = sorted(
        f"{p.content_type.app_label}.{p.codename}" for p in user_permissions
    )
    return state


def _pick(state: dict, keys) -> dict:
    return {key: state[key] for key in keys}


@transaction.atomic
def user_save(
    *, actor: User | None, user: User, groups=None, user_permissions=None, request=None
) -> User:
    """Create or change a person and their groups (the Django admin and seed_demo path).

    groups / user_permissions: the complete new sets, or None to leave them alone.
    Side effects: audit events accounts.user.created, or for what differs .changed (fields,
    direct permissions), .groups_changed (roles), .manager_changed, .team_changed,
    .deactivated / .reactivated; a deactivated person's sockets close after commit.
    """
    if actor is not None and not permissions.is_admin(actor):
        raise PermissionDenied(_("Only an admin changes people."))
    hierarchy.validate_manager(user, user.manager)
    created = user._state.adding
    before = None
    if not created:
        stored = User.objects.get(pk=user.pk)
        before = _user_state(stored)
    user.save()
    if groups is not None:
        user.groups.set(groups)
    if user_permissions is not None:
        user.user_permissions.set(user_permissions)
    after = _user_state(user, groups=groups, user_permissions=user_permissions)
    if created:
        audit.record(
            actor=actor, action="accounts.user.created", target=user, data=after, request=request
        )
        return user
    fields = audit.changes(
        _pick(before, (*USER_FIELDS, "user_permissions")),
        _pick(after, (*USER_FIELDS, "user_permissions")),
    )
    if fields:
        audit.record(
            actor=actor, action="accounts.user.changed", target=user, data=fields, request=request
        )
    for key, action in (
        ("groups", "accounts.user.groups_changed"),
        ("manager", "accounts.user.manager_changed"),
        ("team", "accounts.user.team_changed"),
    ):
        diff = audit.changes({key: before[key]}, {key: after[key]})
        if diff:
            audit.record(actor=actor, action=action, target=user, data=diff, request=request)
    if before["is_active"] != after["is_active"]:
        verb = "reactivated" if after["is_active"] else "deactivated"
        audit.record(actor=actor, action=f"accounts.user.{verb}", target=user, request=request)
        if not after["is_active"]:
            realtime.close_user_sockets_on_commit(user.pk, reason="deactivated")
    return user


def _group_state(group, perms=None) -> dict:
    if perms is None:
        perms = group.permissions.select_related("content_type") if group.pk else []
    return {
        "name": group.name,
        "permissions": sorted(f"{p.content_type.app_label}.{p.codename}" for p in perms),
    }


@transaction.atomic
def group_save(*, actor: User | None, group, group_permissions=None, request=None):
    """Create or change a group (a role) and its permissions (the Django admin path).

    Side effect: audit event accounts.group.created, or accounts.group.changed with the name and
    permissions before and after.
    """
    if actor is not None and not permissions.is_admin(actor):
        raise PermissionDenied(_("Only an admin changes roles."))
    created = group._state.adding
    before = None if created else _group_state(type(group).objects.get(pk=group.pk))
    group.save()
    if group_permissions is not None:
        group.permissions.set(group_permissions)
    after = _group_state(group, group_permissions)
    if created:
        audit.record(
            actor=actor, action="accounts.group.created", target=group, data=after, request=request
        )
    elif diff := audit.changes(before, after):
        audit.record(
            actor=actor, action="accounts.group.changed", target=group, data=diff, request=request
        )
    return group


@transaction.atomic
def user_password_save(*, actor: User | None, user: User, request=None) -> User:
    """Store the password an admin set for a person (or its removal, which turns password
    sign-in off). Audited as accounts.user.password_changed: who, whom, when and whether a
    password is now usable, never the password or its hash. The person's other browsers are
    signed out by Django's session hash check on their next request."""
    user.save(update_fields=["password"])
    audit.record(
        actor=actor,
        action="accounts.user.password_changed",
        target=user,
        data={"usable": user.has_usable_password()},
        request=request,
    )
    return user


@transaction.atomic
def user_delete(*, actor: User, user: User, request=None) -> None:
    """Delete a person (Django admin). Side effect: audit event accounts.user.deleted."""
    if not permissions.is_admin(actor):
        raise PermissionDenied(_("Only an admin deletes people."))
    audit.record(
        actor=actor,
        action="accounts.user.deleted",
        target=user,
        data=_pick(_user_state(user), (*USER_FIELDS, "groups", "manager", "team")),
        request=request,
    )
    user.delete()


@transaction.atomic
def user_set_manager(*, actor: User | None, user: User, manager: User | None, request=None) -> User:
    """Change user's manager; a reporting loop is a ValidationError and nothing is written.

    Side effect: audit event accounts.user.manager_changed when the manager differs.
    """
    if actor is not None and not permissions.is_admin(actor):
        raise PermissionDenied(_("Only an admin changes reporting lines."))
    hierarchy.validate_manager(user, manager)
    before = user.manager_id
    user.manager = manager
    user.save(update_fields=["manager"])
    if before != user.manager_id:
        audit.record(
            actor=actor,
            action="accounts.user.manager_changed",
            target=user,
            data=audit.changes({"manager": before}, {"manager": user.manager_id}),
            request=request,
        )
    return user


@transaction.atomic
def team_save(*, team: Team, parent: Team | None, actor: User | None = None, request=None) -> Team:
    """Create or move a team; its sub-teams' paths follow in one UPDATE per descendant level.

    Side effect: audit event accounts.team.created, or accounts.team.changed with what differs.
    """
    hierarchy.validate_team_parent(team, parent)
    created = team._state.adding
    before = None if created else audit.snapshot(Team.objects.get(pk=team.pk), TEAM_FIELDS)
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
    after = audit.snapshot(team, TEAM_FIELDS)
    if created:
        audit.record(
            actor=actor, action="accounts.team.created", target=team, data=after, request=request
        )
    elif diff := audit.changes(before, after):
        audit.record(
            actor=actor, action="accounts.team.changed", target=team, data=diff, request=request
        )
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
    *, user: User, session_key: str, ip: str | None, user_agent: str, request=None
) -> UserSession:
    """A browser signed in. Side effect: audit event accounts.user.signed_in (no session key)."""
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
    audit.record(
        actor=user,
        action="accounts.user.signed_in",
        target=user,
        data={"user_session": session.pk},
        request=request,
    )
    return session


@transaction.atomic
def user_sign_in_failed(*, username: str, request=None) -> None:
    """Someone failed to sign in. Side effect: audit event accounts.sign_in.failed with the
    username tried and the request's IP; never the password."""
    username = (username or "")[:USERNAME_MAX]
    known = User.objects.filter(username=username).first() if username else None
    audit.record(
        actor=audit.ANONYMOUS,
        action="accounts.sign_in.failed",
        target=known,
        data={"username": username},
        request=request,
    )


def user_session_touch(*, session_key: str) -> int:
    return UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        last_seen_at=timezone.now()
    )


@transaction.atomic
def user_session_mark_ended(*, session_key: str, user: User | None = None, request=None) -> None:
    """The browser signed itself out: record it; its sockets close after commit.

    Side effect: audit event accounts.user.signed_out when user is known.
    """
    session = UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).first()
    updated = UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )
    if updated:
        realtime.close_session_sockets_on_commit(session_key)
    if updated and user is not None and getattr(user, "is_authenticated", False):
        audit.record(
            actor=user,
            action="accounts.user.signed_out",
            target=user,
            data={"user_session": session.pk if session else None},
            request=request,
        )


@transaction.atomic
def user_session_end(*, actor: User, user_session: UserSession, request=None) -> UserSession:
    """Sign one session out: its cookie stops working at once and its open sockets close.

    Side effect: audit event accounts.session.ended (the session's id, never its key).
    """
    if not permissions.can_end_session(actor, user_session):
        raise PermissionDenied(_("You cannot sign out this session."))
    if user_session.ended_at is not None:
        return user_session
    user_session.ended_at = timezone.now()
    user_session.save(update_fields=["ended_at"])
    audit.record(
        actor=actor,
        action="accounts.session.ended",
        target=user_session,
        data={"user": user_session.user_id},
        request=request,
    )
    key = user_session.session_key
    transaction.on_commit(lambda: _session_store(key).delete())
    realtime.close_session_sockets_on_commit(key)
    return user_session


@transaction.atomic
def user_sign_in_locked(
    *, username: str, address: str | None, locked: str, via: str, seconds: int, request=None
) -> None:
    """Repeated failures locked a username or a client address (accounts/sign_in_throttle.py).

    locked: "username" or "address"; via: "password" or "api_token".
    Side effect: audit event accounts.sign_in.locked with the username tried (if any), the
    address, what was locked, how and for how many seconds; never a password or token.
    """
    username = (username or "")[:USERNAME_MAX]
    known = User.objects.filter(username=username).first() if username else None
    audit.record(
        actor=audit.ANONYMOUS,
        action="accounts.sign_in.locked",
        target=known,
        data={
            "username": username,
            "address": address,
            "locked": locked,
            "via": via,
            "seconds": seconds,
        },
        request=request,
    )
