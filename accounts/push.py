"""Web Push to the installed staff app: subscriptions, and sending to them.

A browser subscribes (the "Turn on notifications" button, static/js/pwa.js) through
/api/v1/push/subscriptions/ for the person signed in there; the subscription is tied to that
session and removed when the session ends (sign-out, password change, an admin ending it,
deactivation: accounts.services), when the person unsubscribes, or when the push service answers
404/410 (the browser dropped it). A push is encrypted for the subscription (RFC 8291, aes128gcm)
and signed with the VAPID key from the environment (RFC 8292, settings.VAPID_*); without keys
push is off and nothing mentions it.

A push seeks a person's attention like any notification (accounts.notifications): outside their
working hours it is held as a PendingNotification of type "web_push" and sent at their next
working start by the beat task. Only active people with an open session are pushed to.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import notifications
from accounts.models import PendingNotification, PushSubscription, User, UserSession
from config.errors import Invalid

logger = logging.getLogger(__name__)

PUSH_TYPE = "web_push"
PREVIEW_CHARS = 120
# Push services answer these for a subscription the browser no longer has.
GONE = (404, 410)


def enabled() -> bool:
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY and settings.VAPID_SUBJECT)


def public_key() -> str:
    return settings.VAPID_PUBLIC_KEY if enabled() else ""


def _b64url_bytes(value, *, name: str, size: int | None = None) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise Invalid(fields={name: _("This key is missing or not valid.")})
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        raise Invalid(fields={name: _("This key is missing or not valid.")}) from None
    if size is not None and len(raw) != size:
        raise Invalid(fields={name: _("This key is missing or not valid.")})
    return value


def _clean_endpoint(value) -> str:
    """A push service's https URL (settings.PUSH_ENDPOINT_HOSTS): the server POSTs to it, so an
    arbitrary address would let anyone make it call inside the network."""
    message = _("This is not a push service address.")
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise Invalid(fields={"endpoint": message})
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    allowed = settings.PUSH_ENDPOINT_HOSTS
    if parts.scheme not in settings.PUSH_ENDPOINT_SCHEMES or not host:
        raise Invalid(fields={"endpoint": message})
    if not any(host == h or host.endswith("." + h) for h in allowed):
        raise Invalid(fields={"endpoint": message})
    return value


@transaction.atomic
def subscription_save(*, user: User, session_key: str, data) -> PushSubscription:
    """Store (or move to `user` and this session) the browser's subscription. `data` is the
    browser's PushSubscription JSON: {"endpoint", "keys": {"p256dh", "auth"}}."""
    if not enabled():
        raise Invalid(_("Push notifications are not available."))
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise Invalid(fields={"keys": _("This key is missing or not valid.")})
    endpoint = _clean_endpoint(data.get("endpoint"))
    p256dh = _b64url_bytes(data["keys"].get("p256dh"), name="p256dh", size=65)
    auth = _b64url_bytes(data["keys"].get("auth"), name="auth", size=16)
    subscription, _created = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "user": user,
            "p256dh": p256dh,
            "auth": auth,
            "session_key": session_key or "",
            "created_at": timezone.now(),
        },
    )
    return subscription


@transaction.atomic
def subscription_delete(*, user: User, endpoint) -> int:
    """The browser turned push off: its subscription goes (only the person's own)."""
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 2048:
        raise Invalid(fields={"endpoint": _("This is not a push service address.")})
    deleted, _detail = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return deleted


def subscriptions_end_for_sessions(session_keys: Iterable[str]) -> None:
    """Those sessions ended: their browsers get no more pushes."""
    keys = [k for k in session_keys if k]
    if keys:
        PushSubscription.objects.filter(session_key__in=keys).delete()


def subscriptions_end_for_user(user_id: int) -> None:
    """Deactivation: no browser of theirs gets pushes."""
    PushSubscription.objects.filter(user_id=user_id).delete()


def subscriptions_rekey(*, old_key: str, new_key: str) -> None:
    PushSubscription.objects.filter(session_key=old_key).update(session_key=new_key)


# --- sending --------------------------------------------------------------------------------


def notify(recipients: Iterable[tuple[User, dict]], *, now=None) -> None:
    """Inside the caller's transaction: push `payload` ({"title", "body", "url", "tag"}) to each
    person now (after commit) or, outside their working hours, at their next working start."""
    if not enabled():
        return
    now = now or timezone.now()
    held = []
    for notice in notifications.plan(list(recipients), now=now):
        if notice.due_at is None:
            user_id, payload = notice.user.pk, notice.payload
            transaction.on_commit(lambda u=user_id, p=payload: _queue(u, p))
        else:
            held.append(
                PendingNotification(
                    user_id=notice.user.pk,
                    payload={"type": PUSH_TYPE, "push": notice.payload},
                    due_at=notice.due_at,
                    created_at=now,
                )
            )
    if held:
        PendingNotification.objects.bulk_create(held)


def release(user_id: int, payload: dict) -> None:
    """A held push whose time came (accounts.notifications, inside its transaction)."""
    push = payload.get("push")
    if isinstance(push, dict):
        transaction.on_commit(lambda: _queue(user_id, push))


def _queue(user_id: int, payload: dict) -> None:
    from accounts import tasks

    tasks.push_send.delay(user_id=user_id, payload=payload)


def _vapid():
    from py_vapid import Vapid02

    key = settings.VAPID_PRIVATE_KEY
    if "BEGIN" in key:
        return Vapid02.from_pem(key.encode())
    return Vapid02.from_string(key)


def live_subscriptions(user_id: int):
    """The person's subscriptions that may be used: they are active and the session that
    subscribed is still signed in."""
    open_session = UserSession.objects.filter(
        session_key=OuterRef("session_key"), ended_at__isnull=True
    )
    return PushSubscription.objects.filter(user_id=user_id, user__is_active=True).filter(
        Exists(open_session)
    )


def send(*, user_id: int, payload: dict) -> int:
    """Push `payload` to every live subscription of the person; a subscription the push service
    says is gone (404/410) is removed. Returns how many were accepted."""
    if not enabled():
        return 0
    from pywebpush import WebPushException, webpush

    data = json.dumps(payload, separators=(",", ":"))
    vapid = _vapid()
    accepted = 0
    for subscription in live_subscriptions(user_id):
        info = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        try:
            webpush(
                info,
                data,
                vapid_private_key=vapid,
                vapid_claims={"sub": settings.VAPID_SUBJECT},
                ttl=settings.PUSH_TTL_SECONDS,
                timeout=10,
            )
        except WebPushException as error:
            status = getattr(error.response, "status_code", None)
            if status in GONE:
                PushSubscription.objects.filter(pk=subscription.pk).delete()
            else:
                logger.warning("push to subscription %s refused: %s", subscription.pk, status)
            continue
        except Exception as error:  # noqa: BLE001 - a push service down must not stop the others
            logger.warning("push to subscription %s failed: %s", subscription.pk, error)
            continue
        accepted += 1
    return accepted


def message_payload(*, title: str, body: str, url: str, tag: str) -> dict:
    body = " ".join(body.split())
    if len(body) > PREVIEW_CHARS:
        body = body[: PREVIEW_CHARS - 1] + "…"
    return {"title": title, "body": body, "url": url, "tag": tag}
