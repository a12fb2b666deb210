"""Framework hooks only: sign-in, sign-out and failed sign-in go through the services, which
keep UserSession rows and write the audit ledger."""

from django.contrib.auth import signals
from django.db.models.signals import m2m_changed

from audit.client_address import client_address, user_agent


def on_login(sender, request, user, **kwargs):
    from accounts import services

    if request is None or not hasattr(request, "session"):
        return
    if request.session.session_key is None:
        request.session.save()
    services.user_session_start(
        user=user,
        session_key=request.session.session_key,
        ip=client_address(request),
        user_agent=user_agent(request),
        request=request,
    )


def on_logout(sender, request, user, **kwargs):
    from accounts import services

    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        services.user_session_mark_ended(session_key=key, user=user, request=request)


def on_login_failed(sender, credentials, request=None, **kwargs):
    from accounts import services

    # credentials is already cleansed by Django; only the username is kept.
    services.user_sign_in_failed(username=str(credentials.get("username") or ""), request=request)


def on_groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """Cache invalidation only: whatever path changes someone's roles (the services, a shell, a
    fixture), their access_version moves, so an open socket cannot write on the roles it loaded
    (accounts.permissions.socket_binding_sql). The services also recheck the sockets."""
    from django.db.models import F

    from accounts.models import User

    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        people = User.objects.filter(pk=instance.pk)
    elif action == "pre_clear":  # group.user_set.clear(): every member, before they go
        people = User.objects.filter(groups=instance)
    else:
        people = User.objects.filter(pk__in=pk_set)
    people.update(access_version=F("access_version") + 1)


def connect():
    from accounts.models import User

    signals.user_logged_in.connect(on_login, dispatch_uid="accounts.on_login")
    m2m_changed.connect(
        on_groups_changed, sender=User.groups.through, dispatch_uid="accounts.groups_changed"
    )
    signals.user_logged_out.connect(on_logout, dispatch_uid="accounts.on_logout")
    signals.user_login_failed.connect(on_login_failed, dispatch_uid="accounts.on_login_failed")
