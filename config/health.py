"""GET /healthz: one line per component a request depends on, and whether the node can serve.

Served twice over: as a Django view (tests, WSGI) and, in front of Django's ASGI handler, by
`fast_path`, which answers a load balancer's probe without the middleware stack and its thread
hops (bench/healthz.py measures both). Both report through `report()`.
"""

import asyncio
import json
import logging
import uuid

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

TIMEOUT_S = 2.0
PATH = "/healthz"
# Down, these make the node useless (503); the others degrade it (200, "degraded").
REQUIRED = frozenset({"database"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    check = getattr(cache, "check", None)
    if check is not None:  # config.cache.DegradingRedisCache: its reads never raise
        check()
        return
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value it was given")
    cache.delete(key)


async def _channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    # Sending to an empty group makes a Redis-backed layer reach Redis and leaves no state.
    await layer.group_send("healthz", {"type": "healthz.ping"})


async def _check(name: str, coro) -> str:
    # The body says only which component is down: an exception's text can carry host names,
    # ports, user names or paths, and /healthz answers anyone. The log has the details.
    try:
        await asyncio.wait_for(coro, TIMEOUT_S)
    except Exception:  # noqa: BLE001 - a failure is reported, not raised
        logger.warning("healthz: %s is down", name, exc_info=True)
        return "down"
    return "ok"


async def report() -> tuple[dict, int]:
    """(body, status), naming each component "ok" or "down" (never with error text):
    - every component answers: 200, status "ok";
    - only Redis-backed ones are down (cache, channel_layer): 200, status "degraded". Pages,
      the API and sends work without Redis (docs/operations.md), and every node shares the same
      Redis: a 503 would make the balancer take every node out for what none of them can fix;
    - the database is down: 503, status "error". This node cannot serve anything.
    `failing` lists what is down. The checks run on the database thread, which closes
    connections a restarted server broke, so a recovered database reads healthy again at once."""
    database, cache_, layer = await asyncio.gather(
        _check("database", database_sync_to_async(_database)()),
        _check("cache", database_sync_to_async(_cache)()),
        _check("channel_layer", _channel_layer()),
    )
    results = {"database": database, "cache": cache_, "channel_layer": layer}
    failing = [name for name, state in results.items() if state != "ok"]
    if not failing:
        return {"status": "ok", **results}, 200
    fatal = [name for name in failing if name in REQUIRED]
    body = {"status": "error" if fatal else "degraded", **results, "failing": failing}
    return body, 503 if fatal else 200


@never_cache
@require_GET
async def healthz(request):
    body, status = await report()
    return JsonResponse(body, status=status)


def fast_path(app):
    """ASGI: GET /healthz answered here; every other request goes on to `app`."""

    async def application(scope, receive, send):
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await app(scope, receive, send)
            return
        body, status = await report()
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"cache-control", b"max-age=0, no-cache, no-store, must-revalidate, private"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return application
