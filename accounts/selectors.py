from django.db.models import QuerySet

from accounts import hierarchy
from accounts.models import ApiToken, Team, User, UserSession


def user_subtree_for(user: User, *, include_self: bool = False) -> QuerySet[User]:
    """Everyone in user's reporting subtree, however deep: one query when evaluated."""
    qs = User.objects.filter(id__in=hierarchy.subtree_ids_sql(user.pk))
    if include_self:
        qs = qs | User.objects.filter(pk=user.pk)
    return qs.select_related("team", "manager")


def user_direct_reports(user: User) -> QuerySet[User]:
    return user.direct_reports.filter(is_active=True).select_related("team")


def user_profile_get(user_id: int) -> User:
    return User.objects.select_related("team", "manager").get(pk=user_id)


def user_session_list_for(user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user, ended_at__isnull=True).order_by("-last_seen_at")


def user_session_get_for(user: User, session_id: int) -> UserSession:
    from django.http import Http404

    from accounts import permissions

    session = UserSession.objects.select_related("user").filter(pk=session_id).first()
    if session is None or not permissions.can_end_session(user, session):
        raise Http404
    return session


def team_subtree(team: Team) -> QuerySet[Team]:
    return Team.objects.filter(path__startswith=team.path)


def active_user_list() -> QuerySet[User]:
    """People who can be assigned, added or mentioned (one organisation per deployment)."""
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


def active_user_get(user_id) -> User | None:
    try:
        return active_user_list().filter(pk=int(user_id)).first()
    except (TypeError, ValueError):
        return None


def user_get(user_id) -> User | None:
    """Anyone, active or not, by id (services decide what an inactive person may do)."""
    try:
        return User.objects.filter(pk=int(user_id)).first()
    except (TypeError, ValueError):
        return None


def socket_session_expiry(*, session_key: str, user_id: int):
    """When the browser session a socket was opened in expires, or None when it is gone, has
    expired or belongs to someone else (read from the session store, the HTTP side's authority)."""
    from django.conf import settings
    from django.contrib.auth import SESSION_KEY
    from django.utils.module_loading import import_string

    store = import_string(settings.SESSION_ENGINE + ".SessionStore")(session_key)
    data = store.load()
    if str(data.get(SESSION_KEY, "")) != str(user_id):
        return None
    return store.get_expiry_date()


def socket_user_reload(*, user_id: int, session_key: str) -> User | None:
    """The person behind a socket read afresh (roles recomputed on use), or None when their
    session has ended or they are inactive."""
    open_session = UserSession.objects.filter(
        session_key=session_key, user_id=user_id, ended_at__isnull=True
    )
    return User.objects.filter(pk=user_id, is_active=True, user_sessions__in=open_session).first()


def api_token_list_for(user: User) -> QuerySet[ApiToken]:
    """The person's own API tokens, newest first (revoked ones too: the page shows them)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def api_token_get_for(user: User, token_id) -> ApiToken:
    """One of the person's own tokens; anyone else's is Http404, as a missing one."""
    from django.http import Http404

    try:
        token = api_token_list_for(user).filter(pk=int(token_id)).first()
    except (TypeError, ValueError):
        token = None
    if token is None:
        raise Http404
    return token


FINDER_LIMIT = 200


def audit_actors_named(text: str) -> list[tuple[str, int]]:
    """For the audit ledger's actor filter: staff whose name ("Rita Ramos", "ramos") or username
    holds the text, ignoring case (at most FINDER_LIMIT)."""
    from django.db.models import Q, Value
    from django.db.models.functions import Concat

    from audit.models import AuditEvent

    text = " ".join(text.split())
    if not text:
        return []
    ids = (
        User.objects.annotate(full_name=Concat("first_name", Value(" "), "last_name"))
        .filter(Q(full_name__icontains=text) | Q(username__icontains=text))
        .order_by("pk")
        .values_list("pk", flat=True)[:FINDER_LIMIT]
    )
    return [(AuditEvent.ActorType.USER, pk) for pk in ids]
