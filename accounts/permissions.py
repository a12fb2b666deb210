"""Who may do what with people, teams and sessions: the one policy every interface uses."""

from dataclasses import dataclass

from accounts import roles


def role_names(user) -> frozenset[str]:
    """The role groups the user holds, read once per user object."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_keepline_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=roles.ALL).values_list("name", flat=True))
        if user.is_superuser:
            names.add(roles.ADMIN)
        cached = frozenset(names)
        user._keepline_roles = cached
    return cached


def model_permissions(user) -> frozenset[str]:
    """The "app_label.codename" model permissions the person holds, their own and their role
    groups', read once per user object like the roles, in one query (Django's ModelBackend reads
    them in two). Object-level questions go to each app's policy, never here."""
    if not is_active_user(user):
        return frozenset()
    cached = getattr(user, "_keepline_model_perms", None)
    if cached is None:
        from django.contrib.auth.models import Permission

        fields = ("content_type__app_label", "codename")
        if user.is_superuser:
            rows = Permission.objects.values_list(*fields)
        else:
            own = Permission.objects.filter(user=user).order_by().values_list(*fields)
            held = Permission.objects.filter(group__user=user).order_by().values_list(*fields)
            rows = own.union(held)
        cached = frozenset(f"{app}.{codename}" for app, codename in rows)
        user._keepline_model_perms = cached
    return cached


def primary_role(user) -> str | None:
    held = role_names(user)
    return next((role for role in roles.ALL if role in held), None)


def has_role(user, *wanted: str) -> bool:
    return bool(role_names(user) & set(wanted))


def is_active_user(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def is_manager(user) -> bool:
    return is_active_user(user) and has_role(user, roles.MANAGER)


def sees_everything(user) -> bool:
    """Admins and compliance officers see every record and conversation (compliance only reads)."""
    return is_active_user(user) and has_role(user, roles.ADMIN, roles.COMPLIANCE)


def is_admin(user) -> bool:
    return getattr(user, "is_active", False) and has_role(user, roles.ADMIN)


def is_compliance(user) -> bool:
    return getattr(user, "is_active", False) and has_role(user, roles.COMPLIANCE)


def can_read_audit_ledger(user) -> bool:
    """Admins and compliance officers read the audit ledger (registered with audit in ready())."""
    return bool(is_admin(user) or is_compliance(user))


def is_read_only(user) -> bool:
    """A compliance officer only (not also an admin): reads everything, holds and answers
    nothing."""
    return is_compliance(user) and not is_admin(user)


def is_above(actor, user_id: int) -> bool:
    """`actor` stands above `user_id` in the reporting line, at any distance (one query)."""
    from accounts import hierarchy

    return actor.pk in hierarchy.ancestor_ids(user_id)


def can_offboard(actor, user) -> bool:
    """Admins offboard anyone; a manager, the people in their reporting subtree; nobody
    themselves."""
    if not is_active_user(actor) or actor.pk == user.pk:
        return False
    if is_admin(actor):
        return True
    return is_manager(actor) and is_above(actor, user.pk)


def can_offboard_anyone(user) -> bool:
    """Admins and managers see the People page."""
    return is_active_user(user) and (is_admin(user) or is_manager(user))


def takes_records(user) -> bool:
    """May hold records and answer customers: active, and not a compliance officer only."""
    return bool(user is not None and user.is_active and not is_read_only(user))


def can_manage_cover(actor, user_id: int) -> bool:
    """Out-of-office cover: the person themselves, anyone above them, or an admin."""
    if not is_active_user(actor):
        return False
    if actor.pk == user_id or is_admin(actor):
        return True
    return is_above(actor, user_id)


def can_use_admin(user) -> bool:
    """Django admin is for the Admin role (and superusers); a rep never gets in."""
    return bool(getattr(user, "is_active", False) and is_admin(user))


def can_set_password(actor, user) -> bool:
    """One's own password, or anyone's for an admin (actor None: the system, e.g. a command)."""
    return actor is None or (actor.is_active and (actor.pk == user.pk or is_admin(actor)))


def can_set_working_hours(actor, user) -> bool:
    """One's own working hours and time zone, or anyone's for an admin."""
    return actor.is_active and (actor.pk == user.pk or is_admin(actor))


def can_set_language(actor, user) -> bool:
    """One's own page language, or anyone's for an admin."""
    return can_set_working_hours(actor, user)


def can_end_session(actor, user_session) -> bool:
    return actor.is_active and (user_session.user_id == actor.pk or is_admin(actor))


# --- sockets: every authenticated socket belongs to one live session -----------------------------


@dataclass(frozen=True)
class SocketBinding:
    """What an open socket was authorised with: its person, the browser session it was opened
    in and the person's access_version then. The socket acts only while all three still hold."""

    user_id: int
    session_key: str
    access_version: int


def socket_binding_for(user, session) -> SocketBinding | None:
    """The binding of a socket opened with this scope user and session (None: refuse it)."""
    key = getattr(session, "session_key", None)
    if not is_active_user(user) or not key:
        return None
    return SocketBinding(user.pk, key, user.access_version)


def socket_binding_sql(binding: SocketBinding, connection) -> tuple[str, list]:
    """An SQL condition true while the binding is live: the session is not signed out (sign-out,
    "sign out that session", password change, deactivation all end it) and the person is active
    with the access_version the socket loaded. Writes put it in their own statement, so nothing is
    authorised from role facts that a change has made stale."""
    from accounts.models import User, UserSession

    quote = connection.ops.quote_name
    sessions, users = quote(UserSession._meta.db_table), quote(User._meta.db_table)
    sql = (
        f"EXISTS (SELECT 1 FROM {sessions} s INNER JOIN {users} u ON u.id = s.user_id"  # noqa: S608
        " WHERE s.session_key = %s AND s.ended_at IS NULL AND u.id = %s"
        " AND u.is_active = %s AND u.access_version = %s)"
    )
    return sql, [binding.session_key, binding.user_id, True, binding.access_version]


def socket_binding_is_live(binding: SocketBinding | None) -> bool:
    """One query: the socket may still act (see socket_binding_sql)."""
    if binding is None:
        return False
    from django.db import connections, router

    from accounts.models import UserSession

    connection = connections[router.db_for_read(UserSession)]
    sql, params = socket_binding_sql(binding, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 WHERE {sql}", params)  # noqa: S608
        return cursor.fetchone() is not None
