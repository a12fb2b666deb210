"""Database connections are bounded per process (issue 11): Django's ASGI handler runs every
request on a thread of its own, so with persistent connections a burst of N requests left N idle
server connections behind. With psycopg's pool (config/env.py) a burst uses at most
DATABASE_POOL_MAX, idle ones beyond the minimum are closed after max_idle, and a request that
cannot get one in time answers 503, to be retried, not 500."""

import asyncio
import time

import psycopg
import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.db import connection
from django.test import Client

from config import env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def server_connections() -> int:
    """Connections to the test database other than this probe's, seen by the server."""
    params = connection.get_connection_params()
    params.pop("pool", None)
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as probe:
        return probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        ).fetchone()[0]


@pytest.fixture
def pool(settings):
    """The pool of config/env.py for this test, made anew with `configure(**options)`."""
    options = connection.settings_dict["OPTIONS"]
    assert "pool" in options, "config/env.py gives PostgreSQL a pool by default"
    original = dict(options["pool"])

    def configure(**changes):
        connection.close()
        connection.close_pool()
        options["pool"] = {**original, **changes}
        return connection.pool

    yield configure
    connection.close()
    connection.close_pool()
    options["pool"] = original


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def asgi_get(path: str, cookie: bytes) -> tuple[int, dict, bytes]:
    from config.asgi import application

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"cookie", cookie)],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(30)
    body = await communicator.receive_output(30)
    await communicator.wait(30)
    return start["status"], {k.lower(): v for k, v in start["headers"]}, body["body"]


async def burst(n: int, path: str, cookie: bytes) -> list[int]:
    answers = await asyncio.gather(*(asgi_get(path, cookie) for _ in range(n)))
    return [status for status, _headers, _body in answers]


def test_the_settings_give_postgresql_a_bounded_pool(monkeypatch):
    monkeypatch.setenv("DATABASE_POOL_MAX", "6")
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "30")
    config = env.database("postgres://u:p@db:5432/keepline", "unused")
    assert config["CONN_MAX_AGE"] == 0  # the pool requires it
    pool = config["OPTIONS"]["pool"]
    assert pool["max_size"] == 6 and pool["min_size"] == 1
    # One idle connection closed per interval: all five extra ones within the 30 s lifetime.
    assert pool["max_idle"] == 6
    monkeypatch.setenv("DATABASE_POOL_MAX", "0")  # off: persistent connections as before
    config = env.database("postgres://u:p@db:5432/keepline", "unused")
    assert "pool" not in config["OPTIONS"] and config["CONN_MAX_AGE"] == 30


def test_a_burst_of_requests_holds_at_most_the_pool_and_idle_ones_close(pool, rep):
    pool(min_size=1, max_size=4, max_idle=0.5)
    cookie = session_cookie(rep)
    connection.close()
    statuses = async_to_sync(burst)(24, "/api/v1/conversations/", cookie)
    assert statuses == [200] * 24
    after_burst = server_connections()
    # Without the pool each of the 24 request threads kept its own connection (24 idle).
    assert 1 <= after_burst <= 4
    deadline = time.monotonic() + 6
    while server_connections() > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server_connections() == 1  # the pool's minimum, after max_idle per extra one


def test_a_request_that_gets_no_connection_in_time_is_a_503_to_retry(pool, rep):
    database_pool = pool(min_size=1, max_size=2, timeout=0.3)
    cookie = session_cookie(rep)
    client = Client(raise_request_exception=False)  # answer as a server would
    client.force_login(rep)
    connection.close()
    held = [database_pool.getconn(), database_pool.getconn()]  # the pool is used up
    try:
        api = client.get("/api/v1/conversations/")
        page = client.get("/inbox/")
        status, headers, body = async_to_sync(asgi_get)("/api/v1/conversations/", cookie)
    finally:
        for held_connection in held:
            database_pool.putconn(held_connection)
    assert api.status_code == 503 and api["Retry-After"] == "5"
    assert api.json() == {
        "error": "busy",
        "detail": "Keepline is busy right now. Try again in a few seconds.",
    }
    assert page.status_code == 503
    assert "Keepline is busy right now" in page.content.decode()
    assert status == 503, (status, body[:200])
    assert headers[b"retry-after"] == b"5" and b'"busy"' in body
    assert client.get("/api/v1/conversations/").status_code == 200  # the pool is back
