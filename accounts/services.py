"""Every write to people, teams, sessions and API tokens."""

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

import audit
from accounts import hierarchy, permissions, push, realtime
from accounts.models import ApiToken, Team, User, UserSession
from config.errors import Conflict, Forbidden, Invalid, NotFound, invalid_from

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
    "language",
    "work_days",
    "work_start",
    "work_end",
    "is_staff",
    "is_superuser",
)
TEAM_FIELDS = ("name", "parent", "lead")


def _validate(check, *args) -> None:
    """Run one of accounts.hierarchy's checks (shared with the models' clean()), refusing as
    the services refuse: Invalid, with its fields."""
    try:
        check(*args)
    except ValidationError as exc:
        raise invalid_from(exc) from exc


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


def access_changed(users, *, also=(), reason: str = "access_changed") -> None:
    """Something that grants access changed for `users`: their access_version moves (so no open
    socket can write on the role facts it loaded before), and after commit every socket of theirs
    and of the people in `also` (managers who gained or lost them) rechecks its access."""
    ids = {u.pk if isinstance(u, User) else int(u) for u in users}
    User.objects.filter(pk__in=ids).update(access_version=F("access_version") + 1)
    realtime.recheck_users_on_commit(ids | {int(u) for u in also if u is not None}, reason)


def _manager_chain(manager_id: int | None) -> list[int]:
    if manager_id is None:
        return []
    return [manager_id, *hierarchy.ancestor_ids(manager_id)]


def _sessions_end(user: User, *, keep_key: str | None = None, reason: str) -> int:
    """End every open session of `user` but keep_key: the rows are marked ended, the session
    store forgets them after commit (so reactivation revives no old cookie) and their sockets
    close. Returns how many ended."""
    now = timezone.now()
    connection = connections[router.db_for_write(UserSession)]
    if connection.vendor == "postgresql":
        # One statement ends them and names them.
        table = connection.ops.quote_name(UserSession._meta.db_table)
        sql = f"UPDATE {table} SET ended_at = %s WHERE user_id = %s AND ended_at IS NULL"  # noqa: S608
        params: list = [now, user.pk]
        if keep_key:
            sql += " AND session_key <> %s"
            params.append(keep_key)
        with connection.cursor() as cursor:
            cursor.execute(sql + " RETURNING session_key", params)
            keys = [row[0] for row in cursor.fetchall()]
    else:
        open_sessions = UserSession.objects.filter(user=user, ended_at__isnull=True)
        if keep_key:
            open_sessions = open_sessions.exclude(session_key=keep_key)
        keys = list(open_sessions.values_list("session_key", flat=True))
        if keys:
            UserSession.objects.filter(session_key__in=keys).update(ended_at=now)
    _sessions_forget(keys, reason=reason)
    return len(keys)


def _sessions_forget(keys: list[str], *, reason: str) -> None:
    """Ended sessions: the store forgets them after commit and their sockets close."""
    if not keys:
        return
    push.subscriptions_end_for_sessions(keys)

    def forget():
        for key in keys:
            _session_store(key).delete()

    transaction.on_commit(forget)
    for key in keys:
        realtime.close_session_sockets_on_commit(key, reason=reason)


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
        raise Forbidden(_("Only an admin changes people."))
    _validate(hierarchy.validate_manager, user, user.manager)
    if user.team_id is not None:
        # Locked like team_archive locks it: a person is never moved into a team being archived.
        team = Team.objects.select_for_update().get(pk=user.team_id)
        _validate(hierarchy.validate_team_membership, user, team)
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
    granting = False
    for key, action in (
        ("groups", "accounts.user.groups_changed"),
        ("manager", "accounts.user.manager_changed"),
        ("team", "accounts.user.team_changed"),
    ):
        diff = audit.changes({key: before[key]}, {key: after[key]})
        if diff:
            granting = True
            audit.record(actor=actor, action=action, target=user, data=diff, request=request)
    granting = granting or before["is_superuser"] != after["is_superuser"]
    granting = granting or before["user_permissions"] != after["user_permissions"]
    if before["is_active"] and not after["is_active"]:
        from accounts import offboarding

        refusal = offboarding.holdings_refusal(user)
        if refusal:
            raise Invalid(fields={"is_active": refusal})
    if before["is_active"] != after["is_active"]:
        granting = True
        verb = "reactivated" if after["is_active"] else "deactivated"
        audit.record(actor=actor, action=f"accounts.user.{verb}", target=user, request=request)
        if not after["is_active"]:
            access_end(actor=actor, user=user, request=request)
    if granting:
        # The old and the new manager chains see the person's conversations or stop seeing them.
        chains = {*_manager_chain(before["manager"]), *_manager_chain(after["manager"])}
        access_changed([user], also=chains)
    return user


@transaction.atomic
def user_language_set(*, actor: User, user: User, language: str, request=None) -> User:
    """A person picks the language of their pages ("" = follow the browser). Audited:
    accounts.user.language_changed (nothing recorded when nothing changed)."""
    if not permissions.can_set_language(actor, user):
        raise NotFound()
    if language not in {"", *(code for code, _name in settings.LANGUAGES)}:
        raise Invalid(fields={"language": _("Choose one of the languages offered.")})
    stored = User.objects.select_for_update().get(pk=user.pk)
    if stored.language != language:
        diff = audit.changes({"language": stored.language}, {"language": language})
        stored.language = language
        stored.save(update_fields=["language"])
        audit.record(
            actor=actor,
            action="accounts.user.language_changed",
            target=stored,
            data=diff,
            request=request,
        )
    user.language = stored.language
    return stored


WORKING_HOURS_FIELDS = ("timezone", "work_days", "work_start", "work_end")


@transaction.atomic
def user_working_hours_set(
    *,
    actor: User,
    user: User,
    timezone_name: str,
    work_days: str,
    work_start: dt.time,
    work_end: dt.time,
    request=None,
) -> User:
    """A person sets their own working hours and time zone (an admin may set anyone's).
    Notifications already held keep their time. Audited: accounts.user.working_hours_changed
    with what changed (nothing recorded when nothing changed)."""
    from accounts import working_hours
    from accounts.models import validate_timezone, validate_work_days

    if not permissions.can_set_working_hours(actor, user):
        raise NotFound()
    work_days = working_hours.clean_days(work_days) if work_days else ""
    errors = {}
    for name, check, value in (
        ("timezone", validate_timezone, timezone_name),
        ("work_days", validate_work_days, work_days),
    ):
        try:
            check(value)
        except ValidationError as exc:
            errors[name] = exc.messages[0]
    if not isinstance(work_start, dt.time):
        errors["work_start"] = _("Give a time, e.g. 09:00.")
    if not isinstance(work_end, dt.time):
        errors["work_end"] = _("Give a time, e.g. 18:00.")
    if errors:
        raise Invalid(fields=errors)
    stored = User.objects.select_for_update().get(pk=user.pk)
    before = audit.snapshot(stored, WORKING_HOURS_FIELDS)
    stored.timezone, stored.work_days = timezone_name, work_days
    stored.work_start, stored.work_end = work_start, work_end
    stored.save(update_fields=list(WORKING_HOURS_FIELDS))
    diff = audit.changes(before, audit.snapshot(stored, WORKING_HOURS_FIELDS))
    if diff:
        audit.record(
            actor=actor,
            action="accounts.user.working_hours_changed",
            target=stored,
            data=diff,
            request=request,
        )
    for name in WORKING_HOURS_FIELDS:
        setattr(user, name, getattr(stored, name))
    return stored


def access_end(*, actor, user: User, request=None, events: list | None = None) -> None:
    """Deactivation: every session ends for good, every socket closes and every API token is
    revoked, so reactivating the person revives none of it. `events`: a list the caller appends
    to the ledger itself (with its own events, in one append); else recorded here."""
    now = timezone.now()
    connection = connections[router.db_for_write(UserSession)]
    if connection.vendor == "postgresql":
        # Sessions and tokens end in one statement, which names what it ended.
        sessions = connection.ops.quote_name(UserSession._meta.db_table)
        tokens = connection.ops.quote_name(ApiToken._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH s AS (UPDATE {sessions} SET ended_at = %s"  # noqa: S608 - model tables
                " WHERE user_id = %s AND ended_at IS NULL RETURNING session_key),"
                f" t AS (UPDATE {tokens} SET revoked_at = %s"
                " WHERE user_id = %s AND revoked_at IS NULL RETURNING prefix)"
                " SELECT 's', session_key FROM s UNION ALL SELECT 't', prefix FROM t",
                [now, user.pk, now, user.pk],
            )
            rows = cursor.fetchall()
        _sessions_forget([key for kind, key in rows if kind == "s"], reason="deactivated")
        prefixes = [prefix for kind, prefix in rows if kind == "t"]
    else:
        _sessions_end(user, reason="deactivated")
        prefixes = _tokens_end(user, now)
    realtime.close_user_sockets_on_commit(user.pk, reason="deactivated")
    push.subscriptions_end_for_user(user.pk)
    if prefixes:
        event = _tokens_revoked_event(user=user, actor=actor, prefixes=prefixes, request=request)
        if events is None:
            audit.record(**event)
        else:
            events.append(event)


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
        raise Forbidden(_("Only an admin changes roles."))
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
        if before["permissions"] != after["permissions"]:
            access_changed(list(User.objects.filter(groups=group).values_list("pk", flat=True)))
    return group


@transaction.atomic
def user_password_save(*, actor: User | None, user: User, request=None) -> User:
    """Store the password an admin set for a person (or its removal, which turns password
    sign-in off). Audited as accounts.user.password_changed: who, whom, when and whether a
    password is now usable, never the password or its hash. Every session of the person ends
    (their sockets close after commit); when they change their own, the browser they did it in
    stays signed in."""
    if not permissions.can_set_password(actor, user):
        raise Forbidden(_("Only an admin sets another person's password."))
    user.save(update_fields=["password"])
    audit.record(
        actor=actor,
        action="accounts.user.password_changed",
        target=user,
        data={"usable": user.has_usable_password()},
        request=request,
    )
    own = actor is not None and actor.pk == user.pk and request is not None
    keep = getattr(getattr(request, "session", None), "session_key", None) if own else None
    _sessions_end(user, keep_key=keep, reason="password_changed")
    access_changed([user], reason="password_changed")
    return user


@transaction.atomic
def user_session_rekey(*, old_key: str, new_key: str) -> None:
    """The browser's session got a new key (Django cycles it after a password change): the
    session record follows it, and sockets opened under the old key close (the page reconnects
    with the new cookie)."""
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)
        push.subscriptions_rekey(old_key=old_key, new_key=new_key)
        realtime.close_session_sockets_on_commit(old_key, reason="session_rotated")


@transaction.atomic
def user_set_manager(*, actor: User | None, user: User, manager: User | None, request=None) -> User:
    """Change user's manager; a reporting loop is Invalid and nothing is written.

    Side effect: audit event accounts.user.manager_changed when the manager differs.
    """
    if actor is not None and not permissions.is_admin(actor):
        raise Forbidden(_("Only an admin changes reporting lines."))
    _validate(hierarchy.validate_manager, user, manager)
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
        access_changed([user], also={*_manager_chain(before), *_manager_chain(user.manager_id)})
    return user


@transaction.atomic
def team_save(*, team: Team, parent: Team | None, actor: User | None = None, request=None) -> Team:
    """Create or move a team; its sub-teams' paths follow in one UPDATE per descendant level.

    Side effect: audit event accounts.team.created, or accounts.team.changed with what differs.
    """
    _validate(hierarchy.validate_team_parent, team, parent)
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
def user_session_mark_ended(
    *, session_key: str, user: User | None = None, request=None, reason: str = "signed_out"
) -> None:
    """The browser signed itself out: record it; its sockets close after commit.

    Side effect: audit event accounts.user.signed_out when user is known.
    """
    session = UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).first()
    updated = UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )
    if updated:
        realtime.close_session_sockets_on_commit(session_key, reason=reason)
    push.subscriptions_end_for_sessions([session_key])
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
        raise Forbidden(_("You cannot sign out this session."))
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
    push.subscriptions_end_for_sessions([key])
    transaction.on_commit(lambda: _session_store(key).delete())
    realtime.close_session_sockets_on_commit(key)
    return user_session


# --- archiving teams ----------------------------------------------------------------------------
#
# A team is archived when it is dissolved, never deleted: its history, its auth group and the
# records shared with it stay. While archived it takes no new members, sub-teams or shares (the
# admin and CRM forms offer live teams only) and its shares grant nothing (crm.permissions reads
# team shares of live teams only); restoring it brings those shares back. People are moved out
# first: a team with active members or live sub-teams is not archived, so nobody loses access
# without an admin having decided it person by person.


def _team_recheck_on_commit(team: Team) -> None:
    """Members' access through the team changed (everyone who holds the team's shares is a
    member): see access_changed."""
    access_changed(list(User.objects.filter(team=team).values_list("pk", flat=True)))


@transaction.atomic
def team_archive(*, actor: User, team: Team, request=None) -> Team:
    """Archive a dissolved team (Admin only); archiving an archived team changes nothing.

    Refused (Conflict, code team_not_empty), writing nothing, while the team has active members or
    sub-teams that are not archived. Side effects: audit event accounts.team.archived; the
    members' (deactivated people's) access_version is bumped and their sockets rechecked after
    commit.
    """
    if not permissions.is_admin(actor):
        raise Forbidden(_("Only an admin archives teams."))
    # Locked: a move into the team committed before this is counted below; one that commits
    # after it waits for this commit and must then find the team archived (the admin form and
    # User.clean refuse an archived team for an active person; see validate_team_membership).
    team.archived_at = (
        Team.objects.select_for_update().values_list("archived_at", flat=True).get(pk=team.pk)
    )
    if team.archived_at is not None:
        return team
    active_members = team.members.filter(is_active=True).count()
    live_children = team.children.filter(archived_at__isnull=True).count()
    if active_members or live_children:
        raise Conflict(
            _(
                "%(team)s is still in use (active members: %(members)d; sub-teams not archived: "
                "%(children)d). Move the people to another team and archive or move the "
                "sub-teams first."
            )
            % {"team": team, "members": active_members, "children": live_children},
            code="team_not_empty",
        )
    team.archived_at = timezone.now()
    team.save(update_fields=["archived_at"])
    audit.record(
        actor=actor,
        action="accounts.team.archived",
        target=team,
        data=audit.changes({"archived_at": None}, {"archived_at": team.archived_at}),
        request=request,
    )
    _team_recheck_on_commit(team)
    return team


@transaction.atomic
def team_restore(*, actor: User, team: Team, request=None) -> Team:
    """Bring an archived team back (Admin only): it takes members and shares again, and the
    shares it held grant access again. Restoring a live team changes nothing.

    Refused (Conflict, code parent_archived) while its parent team is archived (restore that
    first).
    Side effects: audit event accounts.team.restored; the members' access_version is bumped and
    their sockets rechecked after commit.
    """
    if not permissions.is_admin(actor):
        raise Forbidden(_("Only an admin restores teams."))
    team.archived_at, team.parent_id = (
        Team.objects.select_for_update().values_list("archived_at", "parent_id").get(pk=team.pk)
    )
    if team.archived_at is None:
        return team
    parent = Team.objects.filter(pk=team.parent_id, archived_at__isnull=False).first()
    if parent is not None:
        raise Conflict(
            _("%(team)s sits inside %(parent)s, which is archived: restore %(parent)s first.")
            % {"team": team, "parent": parent},
            code="parent_archived",
        )
    archived_at, team.archived_at = team.archived_at, None
    team.save(update_fields=["archived_at"])
    audit.record(
        actor=actor,
        action="accounts.team.restored",
        target=team,
        data=audit.changes({"archived_at": archived_at}, {"archived_at": None}),
        request=request,
    )
    _team_recheck_on_commit(team)
    return team


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


# --- API tokens -----------------------------------------------------------------------------

TOKEN_PREFIX = "kl_"
TOKEN_DAYS_MAX = 366


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *, user: User, name: str, days: int = 90, request=None
) -> tuple[ApiToken, str]:
    """A new personal API token. Returns the token row and the secret, which is never stored
    (only its SHA-256) and cannot be shown again. Audited (accounts.api_token.created)."""
    if not user.is_active:
        raise Forbidden(_("An inactive person cannot make API tokens."))
    if not 1 <= int(days) <= TOKEN_DAYS_MAX:
        raise Invalid(fields={"days": _("Between 1 and %(max)s days.") % {"max": TOKEN_DAYS_MAX}})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=(name or "").strip()[:100] or _("API token"),
        prefix=secret[:10],
        key_hash=token_hash(secret),
        expires_at=timezone.now() + dt.timedelta(days=int(days)),
    )
    audit.record(
        actor=user,
        action="accounts.api_token.created",
        target=token,
        data={"name": token.name, "prefix": token.prefix, "expires_at": token.expires_at},
        request=request,
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, actor: User, token: ApiToken, request=None) -> ApiToken:
    """Stop a token working at once: its owner's, or any for an Admin (someone else's token is
    NotFound, as a missing one). Audited (accounts.api_token.revoked)."""
    if token.user_id != actor.pk and not permissions.is_admin(actor):
        raise NotFound
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor,
            action="accounts.api_token.revoked",
            target=token,
            data={"prefix": token.prefix},
            request=request,
        )
    return token


def _tokens_end(user: User, now) -> list[str]:
    """Revoke every live token of `user`; their prefixes (SQLite's road; PostgreSQL's is the
    CTE in access_end)."""
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    prefixes = list(live.values_list("prefix", flat=True))
    if prefixes:
        live.update(revoked_at=now)
    return prefixes


def _tokens_revoked_event(*, user: User, actor, prefixes, request) -> dict:
    return {
        "actor": actor,
        "action": "accounts.api_token.revoked_all",
        "target": user,
        "data": {"prefixes": sorted(prefixes), "reason": "access_ended"},
        "request": request,
    }


@transaction.atomic
def api_tokens_revoke_all(*, user: User, actor: User | None = None, request=None) -> int:
    """Revoke every live token of `user` for good (deactivation: reactivating them revives none).
    Audited once (accounts.api_token.revoked_all, with the prefixes)."""
    prefixes = _tokens_end(user, timezone.now())
    if prefixes:
        audit.record(
            **_tokens_revoked_event(user=user, actor=actor, prefixes=prefixes, request=request)
        )
    return len(prefixes)


def api_token_authenticate(secret: str) -> ApiToken | None:
    """The live token matching `secret`, its user loaded; None if unknown, expired or revoked.
    Marks it used at most once a minute so reads do not turn into writes on every call."""
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(secret), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or token.expires_at <= now or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
