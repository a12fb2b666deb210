"""/healthz answers the same through Django (test client) and through the ASGI front a load
balancer reaches (config.asgi: answered before the middleware stack)."""

import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from tests.redis_server import redis_server  # noqa: F401 - fixture


class Answer:
    def __init__(self, status: int, body: bytes, headers: dict):
        self.status_code, self.body, self.headers = status, body, headers

    def json(self):
        return json.loads(self.body)


async def _asgi_get(path: str, host: bytes = b"127.0.0.1") -> Answer:
    from config.asgi import application

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", host)],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    body = await communicator.receive_output(5)
    await communicator.wait()
    return Answer(start["status"], body["body"], dict(start["headers"]))


@pytest.fixture(params=["django", "asgi_front"])
def get_healthz(request, client):
    if request.param == "django":
        return lambda: client.get("/healthz")
    return lambda: async_to_sync(_asgi_get)("/healthz")


@pytest.mark.django_db(transaction=True)
def test_healthz_reports_every_component_ok(get_healthz):
    response = get_healthz()
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "cache": "ok",
        "channel_layer": "ok",
    }


@pytest.mark.django_db(transaction=True)
def test_the_asgi_front_answers_only_healthz_and_is_never_cached():
    answer = async_to_sync(_asgi_get)("/healthz")
    assert answer.headers[b"content-type"] == b"application/json"
    assert b"no-store" in answer.headers[b"cache-control"]
    # Everything else still goes through Django: its own pages, its 404s.
    assert async_to_sync(_asgi_get)("/healthz/extra").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_load_balancer_probing_by_address_gets_an_answer(client, settings):
    """Load balancers probe each node by its address, a Host no deployment lists in
    ALLOWED_HOSTS: Django refuses it (400); the front answers before Django looks."""
    settings.ALLOWED_HOSTS = ["keepline.example.com"]
    assert client.get("/healthz", HTTP_HOST="10.1.2.3").status_code == 400
    answer = async_to_sync(_asgi_get)("/healthz", host=b"10.1.2.3:8000")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_healthz_names_a_dead_cache_and_stays_in_rotation(get_healthz, settings):
    """Redis down degrades every node alike and pages work without it (docs/operations.md):
    200, so the balancer keeps the node, and "degraded" naming what is down, for monitoring."""
    settings.CACHES = {
        **settings.CACHES,  # the per-process "fragments" cache stays
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        },
    }
    response = get_healthz()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["failing"] == ["cache"]
    assert body["cache"] == "down" and body["database"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_healthz_names_a_dead_channel_layer(get_healthz, settings):
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    channel_layers.backends.clear()
    try:
        response = get_healthz()
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["failing"] == ["channel_layer"]


@pytest.mark.django_db(transaction=True)
def test_healthz_with_redis_down_then_back(get_healthz, settings, redis_server):  # noqa: F811
    """The production settings (config.cache.DegradingRedisCache, the pub/sub layer) against a
    Redis of the test's own: stopped, /healthz names both Redis users; started again, it reads
    ok at once (the cache's breaker does not hide a recovered Redis from /healthz)."""
    from channels.layers import channel_layers

    from tests.test_redis_down_http import point_redis_at

    point_redis_at(settings, redis_server.url)
    settings.CACHES["default"]["OPTIONS"] = {"down_retry_s": 60}
    try:
        assert get_healthz().json()["status"] == "ok"
        port = redis_server.port
        redis_server.stop()
        response = get_healthz()
        assert response.status_code == 200
        assert response.json() == {
            "status": "degraded",
            "database": "ok",
            "cache": "down",
            "channel_layer": "down",
            "failing": ["cache", "channel_layer"],
        }
        redis_server.port = port
        redis_server.start()
        channel_layers.backends.clear()  # a fresh layer per test run (its loop is the test's)
        response = get_healthz()
        assert response.status_code == 200 and response.json()["status"] == "ok"
    finally:
        channel_layers.backends.clear()


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_the_database_is_down(get_healthz, monkeypatch):
    """Without its database a node can serve nothing: out of rotation."""
    from django.db import OperationalError

    from config import health

    def database_down():
        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "_database", database_down)
    response = get_healthz()
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["failing"] == ["database"]


@pytest.mark.django_db(transaction=True)
def test_healthz_names_a_failing_component_but_never_its_error_text(
    get_healthz, monkeypatch, caplog
):
    """/healthz answers anyone: exception text (hosts, ports, users, paths) stays in the log."""
    from config import health

    secret = "could not connect to db.internal:5432 as keepline_owner"

    def broken_database():
        raise RuntimeError(secret)

    monkeypatch.setattr(health, "_database", broken_database)
    with caplog.at_level("WARNING", logger="config.health"):
        response = get_healthz()
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "database": "down",
        "cache": "ok",
        "channel_layer": "ok",
        "failing": ["database"],
    }
    body = response.content if hasattr(response, "content") else response.body
    assert b"db.internal" not in body and b"RuntimeError" not in body
    assert secret in caplog.text
