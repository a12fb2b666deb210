"""Issue 15.6: the staff app installs (manifest, service worker at the root scope, offline page),
and a signed-in browser turns Web Push on and off (validated; session and CSRF)."""

import json

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from accounts.management.commands.vapid_keys import b64url, new_pair
from accounts.models import PushSubscription
from config import pwa
from tests.factories import PASSWORD

ENDPOINT = "https://fcm.googleapis.com/fcm/send/abc123"
P256DH = b64url(b"\x04" + bytes(range(64)))
AUTH = b64url(bytes(range(16)))


@pytest.fixture
def vapid(settings):
    public, private = new_pair()
    settings.VAPID_PUBLIC_KEY = public
    settings.VAPID_PRIVATE_KEY = private
    settings.VAPID_SUBJECT = "mailto:ops@example.com"
    return public


def signed_in(user, *, csrf=False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def subscribe(client, data, method="post"):
    return getattr(client, method)(
        "/push/subscription/", json.dumps(data), content_type="application/json"
    )


def body(endpoint=ENDPOINT, p256dh=P256DH, auth=AUTH):
    return {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}


def test_manifest_is_served_with_its_type_and_names_the_icons(client, db):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    data = json.loads(response.content)
    assert data["start_url"] == "/"
    assert data["display"] == "standalone"
    assert data["short_name"] == "Keepline"
    assert data["theme_color"] == pwa.THEME_COLOUR
    sizes = {icon["sizes"]: icon for icon in data["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= set(sizes)
    assert any(icon["type"] == "image/svg+xml" for icon in data["icons"])
    for icon in data["icons"]:  # each one is a file we ship
        assert finders.find(icon["src"].removeprefix("/static/")), icon["src"]
    with open(finders.find("img/app-icon-512.png"), "rb") as handle:
        png = handle.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 512


def test_service_worker_is_served_from_the_root_uncached_with_its_shell(client, db):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    text = response.content.decode()
    first_line = text.splitlines()[0]
    assert first_line.startswith("self.KEEPLINE_SW = ")
    config = json.loads(first_line.removeprefix("self.KEEPLINE_SW = ").rstrip(";"))
    assert config["version"] == pwa.cache_version()
    assert "/static/css/keepline.css" in config["shell"]
    assert "/static/js/outbox.js" in config["shell"]
    assert config["offline"] == "/offline/"
    assert "/c/" in config["passthrough"] and "/api/" in config["passthrough"]
    assert 'addEventListener("push"' in text and 'addEventListener("sync"' in text


def test_the_cache_version_follows_the_shell_files(settings, monkeypatch):
    pwa.cache_version.cache_clear()
    before = pwa.cache_version()
    real = pwa._read
    monkeypatch.setattr(
        pwa, "_read", lambda name: real(name) + (b"/* v2 */" if name == "js/chat.js" else b"")
    )
    pwa.cache_version.cache_clear()
    assert pwa.cache_version() != before
    settings.PWA_CACHE_VERSION = "deploy-42"
    pwa.cache_version.cache_clear()
    assert pwa.cache_version() == "deploy-42"
    pwa.cache_version.cache_clear()


def test_pages_link_the_manifest_and_the_offline_page_names_nobody(client, rep):
    client.force_login(rep)
    page = client.get("/").content.decode()
    assert 'rel="manifest" href="/manifest.webmanifest"' in page
    assert "/static/js/pwa.js" in page and "/static/js/outbox.js" in page
    offline = client.get("/offline/")
    assert offline.status_code == 200
    text = offline.content.decode()
    assert "You are offline" in text
    assert rep.username not in text and "csrfmiddlewaretoken" not in text


def test_no_push_button_when_push_is_not_configured(client, rep):
    client.force_login(rep)
    assert "data-push-toggle" not in client.get("/").content.decode()


def test_push_button_offered_when_configured(client, rep, vapid):
    client.force_login(rep)
    page = client.get("/").content.decode()
    assert "data-push-toggle" in page and vapid in page


def test_subscribe_stores_the_browser_for_its_session_and_unsubscribe_removes_it(rep, vapid):
    client = signed_in(rep)
    response = subscribe(client, body())
    assert response.status_code == 201
    stored = PushSubscription.objects.get()
    assert (stored.user, stored.endpoint, stored.p256dh, stored.auth) == (
        rep,
        ENDPOINT,
        P256DH,
        AUTH,
    )
    assert stored.session_key == client.session.session_key
    assert subscribe(client, body()).status_code == 201  # again: still one
    assert PushSubscription.objects.count() == 1
    response = subscribe(client, {"endpoint": ENDPOINT}, method="delete")
    assert response.status_code == 200
    assert not PushSubscription.objects.exists()


def test_the_same_browser_subscribed_by_another_person_moves_to_them(rep, other_rep, vapid):
    subscribe(signed_in(rep), body())
    assert subscribe(signed_in(other_rep), body()).status_code == 201
    assert PushSubscription.objects.get().user == other_rep


def test_one_cannot_unsubscribe_someone_elses_browser(rep, other_rep, vapid):
    subscribe(signed_in(rep), body())
    subscribe(signed_in(other_rep), {"endpoint": ENDPOINT}, method="delete")
    assert PushSubscription.objects.get().user == rep


@pytest.mark.parametrize(
    "data,field",
    [
        (body(endpoint="http://fcm.googleapis.com/fcm/send/x"), "endpoint"),
        (body(endpoint="https://127.0.0.1:8080/push"), "endpoint"),
        (body(endpoint="https://fcm.googleapis.com.evil.example/x"), "endpoint"),
        (body(endpoint="x" * 3000), "endpoint"),
        (body(endpoint=None), "endpoint"),
        (body(p256dh="not base64!"), "p256dh"),
        (body(p256dh=b64url(b"\x04" * 10)), "p256dh"),
        (body(auth=b64url(b"short")), "auth"),
        ({"endpoint": ENDPOINT, "keys": "nope"}, "keys"),
        ({"endpoint": ENDPOINT}, "keys"),
    ],
)
def test_bad_subscriptions_are_400_with_the_field(rep, vapid, data, field):
    response = subscribe(signed_in(rep), data)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not PushSubscription.objects.exists()


def test_malformed_bodies_are_400(rep, vapid):
    client = signed_in(rep)
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe", json.dumps({"a": "x" * 9000}).encode()):
        response = client.post("/push/subscription/", raw, content_type="application/json")
        assert response.status_code == 400, raw
        assert response.json()["detail"]


def test_subscribing_while_push_is_off_is_refused(rep):
    response = subscribe(signed_in(rep), body())
    assert response.status_code == 400
    assert not PushSubscription.objects.exists()


def test_anonymous_is_refused_and_csrf_is_checked(client, rep, vapid):
    response = subscribe(client, body())
    assert response.status_code == 403
    assert response.json()["error"] == "not_authenticated"
    strict = signed_in(rep, csrf=True)
    assert subscribe(strict, body()).status_code == 403  # no CSRF token
    assert strict.get("/push/subscription/").status_code == 405
    assert not PushSubscription.objects.exists()
