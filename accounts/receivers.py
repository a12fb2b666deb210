"""Framework hooks only: sign-in and sign-out become UserSession rows through the services."""

from django.contrib.auth import signals


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def on_login(sender, request, user, **kwargs):
    from accounts import services

    if request is None or not hasattr(request, "session"):
        return
    if request.session.session_key is None:
        request.session.save()
    services.user_session_start(
        user=user,
        session_key=request.session.session_key,
        ip=_client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def on_logout(sender, request, user, **kwargs):
    from accounts import services

    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        services.user_session_mark_ended(session_key=key)


def connect():
    signals.user_logged_in.connect(on_login, dispatch_uid="accounts.on_login")
    signals.user_logged_out.connect(on_logout, dispatch_uid="accounts.on_logout")
