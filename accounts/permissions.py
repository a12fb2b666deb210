"""Who may do what with people, teams and sessions: the one policy every interface uses."""

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


def can_use_admin(user) -> bool:
    """Django admin is for the Admin role (and superusers); a rep never gets in."""
    return bool(getattr(user, "is_active", False) and is_admin(user))


def can_end_session(actor, user_session) -> bool:
    return actor.is_active and (user_session.user_id == actor.pk or is_admin(actor))
