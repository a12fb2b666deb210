"""Helpers for socket tests: signed-in communicators and frame filtering."""

import asyncio

from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from tests.factories import PASSWORD

ORIGIN = (b"origin", b"http://127.0.0.1")
NOISE = {"presence", "typing", "read", "conversation.updated", "members.updated"}


def _cookie(user) -> bytes:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def staff_socket(user, conversation_id) -> tuple[WebsocketCommunicator, bool, int | None]:
    headers = [ORIGIN]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(_cookie)(user)))
    ws = WebsocketCommunicator(application, f"/ws/conversations/{conversation_id}/", headers)
    connected, code = await ws.connect()
    if not connected:
        await ws.disconnect()
    return ws, connected, code


async def customer_socket(token) -> tuple[WebsocketCommunicator, bool, int | None]:
    ws = WebsocketCommunicator(application, f"/ws/chat/{token}/", [ORIGIN])
    connected, code = await ws.connect()
    if not connected:
        await ws.disconnect()
    return ws, connected, code


async def frame(ws, wanted: str | None = None, *, timeout: float = 3, skip=NOISE) -> dict:
    """The next frame of type `wanted` (skipping others, but not errors), or the next frame not
    in `skip`. An explicit `skip` makes anything else outside it a failure.

    A send's `message.created` broadcast reaches its sender before the `ack` (the ack waits for
    the broadcast to be handed to the channel layer): one seen while waiting for the ack is kept
    for the next `frame(ws, "message.created")`."""
    kept = ws.__dict__.setdefault("kept_created", [])
    if wanted == "message.created" and kept:
        return kept.pop(0)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {wanted or 'frame'} within {timeout}s")
        got = await ws.receive_json_from(timeout=remaining)
        if wanted is not None and got.get("type") == wanted:
            return got
        if wanted == "ack" and got.get("type") == "message.created":
            kept.append(got)
            continue
        if wanted is None and got.get("type") not in skip:
            return got
        if (
            wanted is not None
            and (got.get("type") == "error" or skip is not NOISE)
            and (got.get("type") not in skip)
        ):
            raise AssertionError(f"expected {wanted}, got {got}")


async def nothing_but_noise(ws, timeout: float = 0.4) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return True
        if await ws.receive_nothing(timeout=remaining):
            return True
        got = await ws.receive_json_from()
        if got.get("type") not in NOISE:
            raise AssertionError(f"unexpected frame {got}")


async def closed_with(ws, code: int, timeout: float = 3) -> dict:
    """Skip frames until the close; return the 'closing' frame seen."""
    closing = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        output = await ws.receive_output(timeout=max(deadline - loop.time(), 0.01))
        if output["type"] == "websocket.close":
            assert output.get("code") == code, output
            await ws.disconnect()
            return closing
        import json

        data = json.loads(output.get("text") or "{}")
        if data.get("type") == "closing":
            closing = data
