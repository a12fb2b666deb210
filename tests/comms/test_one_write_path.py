"""Every way a message enters Keepline goes through the one write path (comms.services.messages):
the same store, the same audit event, the same broadcast and the same statements."""

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import get_channel_layer
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from comms import realtime, services
from comms.models import Message
from comms.services import messages as message_services
from tests.comms.sockets import customer_socket, frame, staff_socket
from tests.factories import PASSWORD

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

STAFF_DATA = {"conversation", "client_id", "length", "body_sha256", "direction"}
CUSTOMER_DATA = {"conversation", "client_id", "length", "body_sha256", "channel"}


@pytest.fixture
def stores(monkeypatch):
    """Each batch the one store wrote: its drafts' sources and the statements it ran."""
    calls = []
    real = message_services._store_batch

    def spy(items):
        with CaptureQueriesContext(connection) as queries:
            result = real(items)
        calls.append(
            {
                "sources": [item.source for item in items],
                "queries": [q["sql"].split()[0].upper() for q in queries.captured_queries],
            }
        )
        return result

    monkeypatch.setattr(message_services, "_store_batch", spy)
    return calls


async def listen(conversation_id: int):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(realtime.staff_group(conversation_id), channel)
    await layer.group_add(realtime.INBOX_GROUP, channel)
    return layer, channel


async def heard(layer, channel, count: int = 2) -> list[str]:
    """The next `count` message and inbox events (presence and typing pass by)."""
    types = []
    while len(types) < count:
        event = await asyncio.wait_for(layer.receive(channel), 3)
        if event["type"].startswith(("presence.", "typing")):
            continue
        types.append(event["type"])
        if event["type"] == "message.created":
            assert set(event["frames"]) == {"everything", "staff"}
    return types


def _api_client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def api_send(user, conversation, body):
    response = _api_client(user).post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "body": body},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def api_upload(user, conversation, body):
    upload = SimpleUploadedFile("quote.txt", b"the quote", content_type="text/plain")
    response = _api_client(user).post(
        f"/api/v1/conversations/{conversation.pk}/attachments/",
        {"file": upload, "body": body, "client_id": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


async def socket_send(ws, body):
    await ws.send_json_to({"action": "send", "client_id": str(uuid.uuid4()), "body": body})
    return (await frame(ws, "ack"))["id"]


def latest_event():
    return AuditEvent.objects.order_by("-seq").first()


async def test_every_interface_stores_through_the_one_write_path(
    stores, rep, conversation, link_and_token
):
    _link, token = link_and_token
    staff, ok, _ = await staff_socket(rep, conversation.pk)
    assert ok
    await frame(staff, "ready")
    customer, ok, _ = await customer_socket(token)
    assert ok
    await frame(customer, "ready")
    layer, channel = await listen(conversation.pk)
    # A process's first staff send loads the outbound checks' policy (DLP) into the cache: warm
    # it, so every way in is compared on the same statements.
    await socket_send(staff, "warming up")
    assert await heard(layer, channel) == ["message.created", "inbox.changed"]

    ways = {
        "staff socket": lambda: socket_send(staff, "from the socket"),
        "REST API": lambda: sync_to_async(api_send)(rep, conversation, "from the API"),
        "customer socket": lambda: socket_send(customer, "from the customer"),
        "channel inbound": lambda: sync_to_async(services.message_inbound_record)(
            conversation=conversation, body="from WhatsApp", client_id=uuid.uuid4()
        ),
    }
    seen = {}
    for way, send in ways.items():
        result = await send()
        message_id = result if isinstance(result, int) else result.message.pk
        event = await sync_to_async(latest_event)()
        assert event.target_id == str(message_id), way
        assert await heard(layer, channel) == ["message.created", "inbox.changed"], way
        seen[way] = (stores[-1], event)

    reference = seen["staff socket"][0]["queries"]
    for way, (store, event) in seen.items():
        assert store["queries"] == reference, way  # the same statements, whichever way in
        staff_way = way in ("staff socket", "REST API")
        assert store["sources"] == [
            "staff" if staff_way else "customer" if "customer" in way else "channel"
        ]
        if staff_way:
            assert event.action == "comms.message.sent"
            assert set(event.data) == STAFF_DATA, way
        else:
            assert event.action == "comms.message.received"
            assert set(event.data) >= CUSTOMER_DATA, way
    await staff.disconnect()
    await customer.disconnect()
    assert await sync_to_async(Message.objects.count)() == len(ways) + 1  # and the warm-up


async def test_uploads_and_system_messages_use_the_same_store(stores, rep, conversation):
    layer, channel = await listen(conversation.pk)
    for body in ("warm", "plain"):  # the first send also reads the person's roles
        await sync_to_async(services.message_send)(
            author=rep, conversation=conversation, body=body, client_id=uuid.uuid4()
        )
        await heard(layer, channel)
    plain = stores[-1]["queries"]

    message_id = await sync_to_async(api_upload)(rep, conversation, "with a file")
    assert await heard(layer, channel) == ["message.created", "inbox.changed"]
    upload = stores[-1]
    assert upload["sources"] == ["staff"]
    # The plain send's stamp and INSERT, the attachment's INSERT, then the audit append of two
    # events (one statement on PostgreSQL, a few per event on SQLite).
    assert plain[:2] == ["UPDATE", "INSERT"]
    assert upload["queries"][:3] == ["UPDATE", "INSERT", "INSERT"]
    assert len(upload["queries"]) - 3 <= 2 * (len(plain) - 2)
    actions = await sync_to_async(
        lambda: list(AuditEvent.objects.order_by("-seq").values_list("action", "target_id")[:2])
    )()
    assert actions[1] == ("comms.message.sent", str(message_id))
    assert actions[0][0] == "comms.attachment.uploaded"

    client_id = uuid.uuid4()
    posted = await sync_to_async(services.message_post_system)(
        conversation=conversation, body="Ana took over.", client_id=client_id, reason="test"
    )
    assert await heard(layer, channel) == ["message.created", "inbox.changed"]
    assert stores[-1]["sources"] == ["system"] and stores[-1]["queries"] == plain
    event = await sync_to_async(latest_event)()
    assert (event.action, event.actor_type, event.data["reason"]) == (
        "comms.message.posted",
        "system",
        "test",
    )
    again = await sync_to_async(services.message_post_system)(
        conversation=conversation, body="Ana took over.", client_id=client_id, reason="test"
    )
    assert (again.created, again.message.pk) == (False, posted.message.pk)
    assert posted.message.direction == Message.Direction.SYSTEM
