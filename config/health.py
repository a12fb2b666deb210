"""GET /healthz: one line per component a request depends on."""

import asyncio
import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

TIMEOUT_S = 2.0


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
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


async def _check(coro) -> str:
    try:
        await asyncio.wait_for(coro, TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - a failure is reported, not raised
        return f"error: {type(exc).__name__}: {exc}"[:200]
    return "ok"


@never_cache
@require_GET
async def healthz(request):
    results = {
        "database": await _check(sync_to_async(_database, thread_sensitive=True)()),
        "cache": await _check(sync_to_async(_cache, thread_sensitive=True)()),
        "channel_layer": await _check(_channel_layer()),
    }
    failing = [name for name, state in results.items() if state != "ok"]
    body = {"status": "ok" if not failing else "error", **results}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)
