# ruff: noqa: F811 - pytest fixtures imported from tests.comms.conftest and tests.redis_server
"""Redis is not needed to read or write over HTTP (issue 11): with the cache, the channel layer
and the broker's Redis gone, every page a person needs answers as usual, a send is stored and
answered 201, and a Redis that stops answering costs a request a fraction of a second, not a hang.

Most tests point CACHES and CHANNEL_LAYERS at a port nothing listens on, so they run on SQLite
too; those that pause or restart Redis use a redis-server of their own (tests/redis_server.py)."""

import time
import uuid

import pytest
from channels.layers import channel_layers
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from comms.models import Message
from config import cache as degrading
from tests.comms.conftest import conversation, deal, link_and_token  # noqa: F401 - fixtures
from tests.factories import PASSWORD
from tests.redis_server import closed_port_url, redis_server  # noqa: F401 - fixture


def point_redis_at(settings, url: str, *, layer_url: str | None = None) -> None:
    """The production configuration (config/settings.py with REDIS_URL) at `url`."""
    settings.CACHES = {
        **settings.CACHES,  # the per-process "fragments" cache stays
        "default": {
            "BACKEND": "config.cache.DegradingRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "keepline-test",
        },
    }
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [layer_url or url], "prefix": "keepline-test"},
        }
    }
    channel_layers.backends.clear()
    degrading._down_until.clear()


@pytest.fixture
def redis_down(settings):
    point_redis_at(settings, closed_port_url())
    yield
    channel_layers.backends.clear()
    degrading._down_until.clear()


def api_url(conversation, rest=""):
    return f"/api/v1/conversations/{conversation.pk}/{rest}"


@pytest.mark.django_db(transaction=True)
def test_staff_read_and_send_over_http_while_redis_is_down(
    redis_down, client, rep, conversation, link_and_token, settings, tmp_path
):
    """Before: the session middleware's cache.add and the after-commit publish had to fail in
    a way each caught; a Redis that did not answer hung every signed-in request."""
    settings.MEDIA_ROOT = tmp_path
    _link, token = link_and_token
    client.force_login(rep)
    started = time.monotonic()
    pages = [
        "/",
        "/inbox/",
        f"/deals/{conversation.deal_id}/",
        f"/conversations/{conversation.pk}/",
        "/api/v1/conversations/",
        api_url(conversation),
        api_url(conversation, "messages/?after=0"),
    ]
    assert {page: client.get(page).status_code for page in pages} == dict.fromkeys(pages, 200)

    client_id = str(uuid.uuid4())
    sent = client.post(
        api_url(conversation, "messages/"),
        {"body": "sent while Redis is down", "client_id": client_id},
        content_type="application/json",
    )
    assert sent.status_code == 201, sent.content
    # The client retries what it was not sure of: the same client_id is the same message.
    again = client.post(
        api_url(conversation, "messages/"),
        {"body": "sent while Redis is down", "client_id": client_id},
        content_type="application/json",
    )
    assert again.status_code == 200 and again.json()["id"] == sent.json()["id"]
    pdf = SimpleUploadedFile("quote.pdf", b"%PDF-1.4 quote", content_type="application/pdf")
    uploaded = client.post(api_url(conversation, "attachments/"), {"file": pdf, "body": "quote"})
    assert uploaded.status_code == 201, uploaded.content

    catch_up = client.get(api_url(conversation, "messages/?after=0")).json()
    bodies = [m["body"] for m in catch_up["results"]]
    assert bodies == ["sent while Redis is down", "quote"]
    assert Message.objects.filter(conversation=conversation).count() == 2

    customer = Client()
    assert customer.get(f"/c/{token}/").status_code == 200
    seen = customer.get(f"/c/{token}/messages/?after=0").json()["results"]
    assert [m["body"] for m in seen] == ["sent while Redis is down", "quote"]
    # A refused connection costs next to nothing; the whole visit is well under a second a page.
    assert time.monotonic() - started < 10


@pytest.mark.django_db
def test_sign_in_and_out_while_redis_is_down(redis_down, rep):
    """The sign-in throttle fails open (accounts/sign_in_throttle.py): a Redis outage must not
    stop everyone from signing in. Wrong passwords are still refused."""
    client = Client()
    wrong = client.post("/login/", {"username": "rep", "password": "not-it"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    right = client.post("/login/", {"username": "rep", "password": PASSWORD})
    assert right.status_code == 302 and client.session["_auth_user_id"] == str(rep.pk)
    assert client.get("/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302  # signed out: to the sign-in page


@pytest.mark.django_db
def test_nothing_is_authorised_from_a_dead_cache(redis_down, other_rep, conversation):
    client = Client()
    assert client.get(api_url(conversation, "messages/?after=0")).status_code in (401, 403)
    client.force_login(other_rep)
    assert client.get(api_url(conversation, "messages/?after=0")).status_code == 404
    assert client.get(f"/conversations/{conversation.pk}/").status_code == 404


@pytest.mark.django_db
def test_csv_import_limit_fails_open_while_redis_is_down(redis_down, rep, settings):
    """crm.rate_limits: the hourly import limit bounds load, not access; it is skipped."""
    from crm import rate_limits

    for _ in range(3):
        rate_limits.hit("crm.import", rep.pk, limit=1, window=3600)


def test_a_dead_cache_reads_as_misses_and_refuses_to_decide(redis_down):
    assert cache.get("anything", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.has_key("a") is False
    cache.set("a", 1)  # dropped
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert cache.delete("a") is False
    assert cache.get_or_set("a", lambda: 7) == 7
    # add and incr decide something ("am I first?", "how many?"): the caller chooses.
    with pytest.raises(degrading.CacheUnavailable):
        cache.add("a", 1)
    with pytest.raises(degrading.CacheUnavailable):
        cache.incr("a")
    with pytest.raises(OSError):  # what `except (RedisError, OSError)` handlers catch
        cache.decr("a")


def test_a_redis_that_stops_answering_costs_milliseconds_then_nothing(redis_server, settings):
    """A paused Redis (a frozen host, a dropped route) accepts connections and never answers.
    Django's RedisCache waited for ever; this one gives up within its socket timeout once,
    then stops asking until `down_retry_s` has passed."""
    point_redis_at(settings, redis_server.url, layer_url=closed_port_url())
    cache.set("k", "v")
    assert cache.get("k") == "v"
    redis_server.pause()
    try:
        started = time.monotonic()
        assert cache.get("k") is None
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(100):
            assert cache.get("k") is None
        then = time.monotonic() - started
    finally:
        redis_server.resume()
    assert first < 1.5, first
    assert then < 0.05, then


def test_the_cache_comes_back_by_itself_when_redis_returns(redis_server, settings):
    point_redis_at(settings, redis_server.url, layer_url=closed_port_url())
    settings.CACHES["default"]["OPTIONS"] = {"down_retry_s": 0.2}
    cache.set("k", "v")
    port = redis_server.port
    redis_server.stop()
    assert cache.get("k") is None
    cache.set("k", "lost")  # dropped while down
    redis_server.port = port
    redis_server.start()  # an empty Redis on the same port
    time.sleep(0.3)
    cache.set("k", "again")
    assert cache.get("k") == "again"


@pytest.mark.django_db(transaction=True)
def test_a_send_over_http_while_redis_pauses_is_stored_and_answered(
    redis_server, settings, client, rep, conversation
):
    """The cache part of a paused Redis: the signed-in request's cache.add gives up within its
    timeout (the channel layer here is refused; its own timeouts are config/channel_layer.py's)."""
    point_redis_at(settings, redis_server.url, layer_url=closed_port_url())
    client.force_login(rep)
    redis_server.pause()
    try:
        started = time.monotonic()
        sent = client.post(
            api_url(conversation, "messages/"),
            {"body": "hello", "client_id": str(uuid.uuid4())},
            content_type="application/json",
        )
        listed = client.get(api_url(conversation, "messages/?after=0"))
        elapsed = time.monotonic() - started
    finally:
        redis_server.resume()
    assert sent.status_code == 201
    assert [m["body"] for m in listed.json()["results"]] == ["hello"]
    assert elapsed < 3, elapsed


def test_request_threads_share_one_redis_connection_pool(settings, redis_server):
    """Under daphne each request runs on a thread of its own, with its own cache backend
    instance: they share the process's connection pool instead of connecting anew each."""
    import threading

    import redis
    from django.core.cache import caches

    point_redis_at(settings, redis_server.url)
    caches["default"].set("warm", 1)  # the process's first connection
    stats = redis.Redis.from_url(redis_server.url)
    before = stats.info("stats")["total_connections_received"]

    def request_thread(n):
        caches["default"].set(f"k{n}", n)
        assert caches["default"].get(f"k{n}") == n

    for n in range(20):
        thread = threading.Thread(target=request_thread, args=(n,))
        thread.start()
        thread.join()
    opened = stats.info("stats")["total_connections_received"] - before
    assert opened <= 2, f"20 request threads opened {opened} Redis connections"
