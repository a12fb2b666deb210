import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts import realtime
from config.asgi import application
from tests.factories import PASSWORD

ORIGIN = (b"origin", b"http://127.0.0.1")


def session_cookie(user) -> bytes:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(cookie: bytes | None = None, origin=ORIGIN) -> WebsocketCommunicator:
    headers = [origin] if origin else []
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/notifications/", headers=headers)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_signed_in_user_joins_their_group_and_receives_notifications(rep):
    cookie = await sync_to_async(session_cookie)(rep)
    ws = communicator(cookie)
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from() == {"type": "hello", "user": rep.pk}
    await get_channel_layer().group_send(
        realtime.user_group(rep.pk),
        {"type": "notification.message", "payload": {"type": "mention", "text": "hi"}},
    )
    assert await ws.receive_json_from(timeout=2) == {"type": "mention", "text": "hi"}
    await ws.send_to(text_data="{not json")
    assert (await ws.receive_json_from())["error"] == "malformed_json"
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    await ws.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_close_event_disconnects_the_socket(rep):
    cookie = await sync_to_async(session_cookie)(rep)
    ws = communicator(cookie)
    assert (await ws.connect())[0]
    await ws.receive_json_from()
    await get_channel_layer().group_send(
        realtime.user_group(rep.pk), {"type": "connection.close", "reason": "offboarded"}
    )
    assert await ws.receive_json_from(timeout=2) == {"type": "closing", "reason": "offboarded"}
    assert await ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_anonymous_socket_is_refused():
    ws = communicator(None)
    connected, code = await ws.connect()
    assert not connected and code == 4401


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_socket_from_an_unlisted_origin_is_refused(rep):
    cookie = await sync_to_async(session_cookie)(rep)
    for origin in [(b"origin", b"https://evil.example"), None]:
        ws = communicator(cookie, origin=origin)
        connected, _ = await ws.connect()
        assert not connected


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_ending_a_session_closes_only_that_sessions_sockets(rep):
    from accounts import services
    from accounts.models import UserSession

    cookie_a = await sync_to_async(session_cookie)(rep)
    cookie_b = await sync_to_async(session_cookie)(rep)
    ws_a, ws_b = communicator(cookie_a), communicator(cookie_b)
    assert (await ws_a.connect())[0] and (await ws_b.connect())[0]
    await ws_a.receive_json_from()
    await ws_b.receive_json_from()
    key_a = cookie_a.decode().split("=", 1)[1]

    def end_a():
        session = UserSession.objects.get(session_key=key_a)
        services.user_session_end(actor=rep, user_session=session)

    await sync_to_async(end_a)()
    assert (await ws_a.receive_json_from(timeout=2))["type"] == "closing"
    assert await ws_b.receive_nothing(timeout=0.3)
    await ws_b.disconnect()
