# ruff: noqa: F811 - pytest fixtures imported from tests.comms.conftest
"""Issue 15.6: a new customer message is pushed to the installed app of the conversation's staff,
encrypted for the subscription (aes128gcm) and signed with the VAPID key, against a push service
on loopback; a 410 removes the subscription; quiet hours hold the push; access that ends stops
it (sign-out, password change, deactivation)."""

import base64
import datetime as dt
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.test import Client

from accounts import notifications, services
from accounts.management.commands.vapid_keys import b64url, new_pair
from accounts.models import PendingNotification, PushSubscription
from comms import services as comms_services
from tests.comms.conftest import cid, conversation, deal, link_and_token  # noqa: F401
from tests.comms.test_quiet_hours import off_work
from tests.factories import PASSWORD

SUBJECT = "mailto:ops@example.com"


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push service on loopback: records every POST and answers `status`."""

    def __init__(self):
        self.received: list[dict] = []
        self.status = 201
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                service.received.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """A subscribing browser: its ECDH key pair and auth secret (RFC 8291)."""

    def __init__(self, endpoint: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = endpoint

    def subscription(self) -> dict:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


@pytest.fixture
def push_service(settings):
    public, private = new_pair()
    settings.VAPID_PUBLIC_KEY = public
    settings.VAPID_PRIVATE_KEY = private
    settings.VAPID_SUBJECT = SUBJECT
    settings.PUSH_ENDPOINT_HOSTS = ["127.0.0.1"]
    settings.PUSH_ENDPOINT_SCHEMES = ["http"]
    service = PushService()
    yield service
    service.close()


def subscribed(user, push_service, name="rep") -> tuple[Client, Browser]:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    browser = Browser(f"{push_service.origin}/push/{name}")
    response = client.post(
        "/push/subscription/", json.dumps(browser.subscription()), content_type="application/json"
    )
    assert response.status_code == 201
    return client, browser


def customer_writes(link, capture, body="Hello, is the quote for the vans ready?"):
    with capture(execute=True):
        comms_services.message_receive(link=link, body=body, client_id=cid())


def assert_vapid_signed(headers: dict, origin: str, public_key: str):
    scheme, _sp, params = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    header, claims, signature = fields["t"].split(".")
    data = json.loads(b64decode(claims))
    assert data["aud"] == origin and data["sub"] == SUBJECT
    assert data["exp"] > dt.datetime.now(dt.UTC).timestamp()
    raw = b64decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64decode(public_key))
    key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged


def test_a_customer_message_is_pushed_encrypted_and_signed_to_the_reps_browser(
    rep,
    other_rep,
    link_and_token,
    conversation,
    push_service,
    settings,
    django_capture_on_commit_callbacks,
):
    link, _token = link_and_token
    _client, browser = subscribed(rep, push_service)
    subscribed(other_rep, push_service, name="other")  # not in this conversation
    customer_writes(link, django_capture_on_commit_callbacks)
    assert [r["path"] for r in push_service.received] == ["/push/rep"]
    request = push_service.received[0]
    assert request["headers"]["content-encoding"] == "aes128gcm"
    assert int(request["headers"]["ttl"]) == settings.PUSH_TTL_SECONDS
    assert_vapid_signed(request["headers"], push_service.origin, settings.VAPID_PUBLIC_KEY)
    assert b"quote" not in request["body"]  # encrypted
    payload = browser.decrypt(request["body"])
    assert payload["title"] == conversation.contact.name
    assert payload["body"] == "Hello, is the quote for the vans ready?"
    assert payload["url"] == f"/conversations/{conversation.pk}/"
    assert payload["tag"] == f"conversation-{conversation.pk}"


def test_staff_messages_are_not_pushed(
    rep, conversation, push_service, django_capture_on_commit_callbacks
):
    subscribed(rep, push_service)
    with django_capture_on_commit_callbacks(execute=True):
        comms_services.message_send(
            author=rep, conversation=conversation, body="Here it is", client_id=cid()
        )
    assert push_service.received == []


def test_gone_subscription_is_removed(
    rep, link_and_token, push_service, django_capture_on_commit_callbacks
):
    link, _token = link_and_token
    subscribed(rep, push_service)
    push_service.status = 410
    customer_writes(link, django_capture_on_commit_callbacks)
    assert len(push_service.received) == 1
    assert not PushSubscription.objects.exists()


def test_a_refusing_push_service_keeps_the_subscription(
    rep, link_and_token, push_service, django_capture_on_commit_callbacks
):
    link, _token = link_and_token
    subscribed(rep, push_service)
    push_service.status = 500
    customer_writes(link, django_capture_on_commit_callbacks)
    assert PushSubscription.objects.count() == 1


def test_quiet_hours_hold_the_push_until_the_reps_working_start(
    rep, link_and_token, conversation, push_service, django_capture_on_commit_callbacks
):
    link, _token = link_and_token
    _client, browser = subscribed(rep, push_service)
    due = off_work(rep, tz="America/Sao_Paulo")
    customer_writes(link, django_capture_on_commit_callbacks)
    assert push_service.received == []
    held = PendingNotification.objects.get(user=rep, sent_at__isnull=True)
    assert held.due_at == due and held.payload["type"] == "web_push"
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.notifications_release(now=due - dt.timedelta(minutes=1)) == 0
    assert push_service.received == []
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.notifications_release(now=due) == 1
    assert len(push_service.received) == 1
    payload = browser.decrypt(push_service.received[0]["body"])
    assert payload["url"] == f"/conversations/{conversation.pk}/"


def test_signing_out_of_that_browser_ends_its_pushes(
    rep, link_and_token, push_service, django_capture_on_commit_callbacks
):
    link, _token = link_and_token
    client, _browser = subscribed(rep, push_service)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/logout/")
    assert not PushSubscription.objects.exists()
    customer_writes(link, django_capture_on_commit_callbacks)
    assert push_service.received == []


def test_a_password_change_ends_the_other_browsers_pushes(
    rep, admin_user, push_service, django_capture_on_commit_callbacks
):
    subscribed(rep, push_service)
    rep.set_password("another-long-passphrase-9")
    with django_capture_on_commit_callbacks(execute=True):
        services.user_password_save(actor=admin_user, user=rep)
    assert not PushSubscription.objects.exists()


def test_deactivation_ends_every_push(rep, admin_user, push_service):
    subscribed(rep, push_service)
    subscribed(rep, push_service, name="phone")
    services.access_end(actor=admin_user, user=rep)
    assert not PushSubscription.objects.exists()


def test_a_subscription_whose_session_ended_elsewhere_is_not_used(
    rep, link_and_token, push_service, django_capture_on_commit_callbacks
):
    """Belt and braces: a session ended without the hooks (a shell, a bug) sends nothing."""
    from accounts.models import UserSession

    link, _token = link_and_token
    subscribed(rep, push_service)
    UserSession.objects.update(ended_at=dt.datetime.now(dt.UTC))
    customer_writes(link, django_capture_on_commit_callbacks)
    assert push_service.received == []


def test_nothing_is_pushed_or_queued_when_push_is_off(
    rep, link_and_token, django_capture_on_commit_callbacks
):
    link, _token = link_and_token
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        comms_services.message_receive(link=link, body="Hi", client_id=cid())
    names = [getattr(c, "__qualname__", "") for c in callbacks]
    assert not any("message_push" in n for n in names)
    assert not PendingNotification.objects.exists()
