"""Redis going away under the live chat (config.channel_layer): sockets still open and send, they
are told live updates paused, and told again when they are back, with every subscription restored;
read frames are coalesced."""

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import channel_layers
from django.test import override_settings

from comms.models import Conversation, Message
from config.channel_layer import ResilientPubSubChannelLayer
from tests.comms.sockets import customer_socket, frame, staff_socket
from tests.redis_server import closed_port_url, redis_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.asyncio


async def next_event(layer, channel, timeout=5.0):
    return await asyncio.wait_for(layer.receive(channel), timeout)


async def test_the_layer_says_down_keeps_what_was_asked_and_says_up_once_subscribed(
    redis_server,  # noqa: F811
):
    own_redis = redis_server
    layer = ResilientPubSubChannelLayer(hosts=[own_redis.url], prefix=f"t{uuid.uuid4().hex[:6]}")
    first = await layer.new_channel()
    await layer.group_add("room", first)
    await layer.group_send("room", {"type": "chat", "n": 1})
    assert (await next_event(layer, first))["n"] == 1

    own_redis.stop()
    assert (await next_event(layer, first))["type"] == "layer.down"
    assert layer.live is False
    # Nothing raises while Redis is away: a new socket's handshake goes on.
    second = await layer.new_channel()
    await layer.group_add("room", second)
    await layer.group_add("other", first)
    with pytest.raises(Exception):  # noqa: B017 - a publish fails, and the bus logs it
        await layer.group_send("room", {"type": "chat", "n": 2})

    own_redis.start()
    assert (await next_event(layer, first, 10))["type"] == "layer.up"
    assert (await next_event(layer, second, 10))["type"] == "layer.up"
    assert layer.live is True
    # Every subscription is live again, those asked for during the outage included.
    await layer.group_send("room", {"type": "chat", "n": 3})
    assert (await next_event(layer, first))["n"] == 3
    assert (await next_event(layer, second))["n"] == 3
    await layer.group_send("other", {"type": "chat", "n": 4})
    assert (await next_event(layer, first))["n"] == 4
    await layer.flush()


@pytest.fixture
def dead_redis_layer():
    """The project's channel layer pointed at a port nobody listens on."""
    dead = closed_port_url()
    layers = {
        "default": {
            "BACKEND": "config.channel_layer.ResilientPubSubChannelLayer",
            "CONFIG": {"hosts": [dead], "prefix": "dead"},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        channel_layers.backends.clear()
        yield
    channel_layers.backends.clear()


@pytest.mark.django_db(transaction=True)
async def test_with_redis_down_staff_and_customer_open_send_and_are_told_live_is_paused(
    dead_redis_layer, rep, conversation, link_and_token
):
    _link, token = link_and_token
    staff, ok, _ = await staff_socket(rep, conversation.pk)
    assert ok  # the handshake used to answer 500 (group_add raised)
    ready = await frame(staff, "ready")
    assert ready["live"] is False or (await frame(staff, "live"))["live"] is False
    customer, ok, _ = await customer_socket(token)
    assert ok
    await frame(customer, "ready")

    client_id = str(uuid.uuid4())
    await staff.send_json_to({"action": "send", "client_id": client_id, "body": "still here"})
    ack = await frame(staff, "ack", timeout=5)
    assert ack["duplicate"] is False
    stored = await sync_to_async(Message.objects.get)(pk=ack["id"])
    assert stored.body == "still here" and stored.seq == 1

    await customer.send_json_to({"action": "send", "client_id": str(uuid.uuid4()), "body": "hi"})
    assert (await frame(customer, "ack", timeout=5))["duplicate"] is False
    await staff.disconnect()
    await customer.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_read_flood_costs_about_one_write_a_second(rep, conversation, link_and_token):
    from comms import services

    link, token = link_and_token
    inbound = [
        await sync_to_async(services.message_receive)(
            link=link, body=f"m{n}", client_id=str(uuid.uuid4())
        )
        for n in range(3)
    ]
    staff, _, _ = await staff_socket(rep, conversation.pk)
    customer, _, _ = await customer_socket(token)
    await frame(staff, "ready")
    await frame(customer, "ready")
    for _ in range(300):
        for result in inbound:
            await staff.send_json_to({"action": "read", "message_id": result.message.pk})
    reads = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.5
    while loop.time() < deadline:
        if await customer.receive_nothing(timeout=0.1):
            continue
        got = await customer.receive_json_from()
        if got["type"] == "read":
            reads.append(got["message_id"])
    # 900 read frames: relayed at most once a second each, the highest id last.
    assert 1 <= len(reads) <= 3 and reads[-1] == inbound[-1].message.pk
    await staff.send_json_to({"action": "ping"})
    assert (await frame(staff, "pong", timeout=1))["type"] == "pong"
    participant_read = await sync_to_async(
        lambda: (
            Conversation.objects.get(pk=conversation.pk)
            .participants.get(user=rep)
            .last_read_message_id
        )
    )()
    assert participant_read == inbound[-1].message.pk
    await staff.disconnect()
    await customer.disconnect()
