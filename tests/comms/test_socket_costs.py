"""Issue 16: what a staff socket's reads and typing cost the process's one database thread.
A read is one statement and a flood of them one write; typing is one statement, and an access
change stops it at the very next frame even when no event told the socket."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import remove_perm

from accounts.models import UserSession
from comms import errors, services
from comms.consumers import ConversationConsumer
from comms.models import Participant
from tests.comms.conftest import cid
from tests.comms.sockets import closed_with, customer_socket, frame, staff_socket
from tests.factories import PASSWORD

MARKER = pytest.mark.asyncio


def statements(ctx) -> list[str]:
    """What reached the database, without a test transaction's savepoints."""
    return [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]


def bound_socket(user, conversation) -> ConversationConsumer:
    """A staff socket's state as connect() leaves it, for the database-thread half of actions."""
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    user.refresh_from_db()
    socket = ConversationConsumer()
    socket.scope = {"session": client.session}
    assert socket.bind(user)
    socket.user, socket.conversation, socket.conversation_id = user, conversation, conversation.pk
    return socket


async def frames_within(ws, seconds: float) -> list[str]:
    """The types of the frames a socket gets within `seconds`."""
    loop = asyncio.get_running_loop()
    deadline, seen = loop.time() + seconds, []
    while (remaining := deadline - loop.time()) > 0:
        if await ws.receive_nothing(timeout=remaining):
            break
        output = await ws.receive_output()
        if output["type"] == "websocket.send":
            seen.append(json.loads(output["text"])["type"])
    return seen


def received(link, n: int) -> list[int]:
    return [
        services.message_receive(link=link, body=f"m{i}", client_id=cid()).message.pk
        for i in range(n)
    ]


@pytest.mark.django_db
def test_a_socket_read_is_one_statement_and_typing_one(rep, conversation, link_and_token):
    link, _token = link_and_token
    ids = received(link, 3)
    socket = bound_socket(rep, conversation)
    socket._read_call(socket.read_kwargs(ids[0]))  # compiles the check once per process
    with CaptureQueriesContext(connection) as ctx:
        socket._read_call(socket.read_kwargs(ids[2]))
    assert len(statements(ctx)) == 1, statements(ctx)
    with CaptureQueriesContext(connection) as ctx:
        socket._read_call(socket.read_kwargs(ids[1]))  # an older id never moves it back
    assert len(statements(ctx)) == 1
    assert (
        Participant.objects.get(conversation=conversation, user=rep).last_read_message_id
        == (ids[2])
    )
    with CaptureQueriesContext(connection) as ctx:
        assert socket._may_type() is True
    assert len(statements(ctx)) == 1


@pytest.mark.django_db
def test_the_read_service_still_refuses_what_it_refused(
    rep, other_rep, manager, conversation, link_and_token
):
    link, _token = link_and_token
    (mid,) = received(link, 1)
    other = services.internal_conversation_create(actor=other_rep, subject="elsewhere")
    # A message of another conversation, someone who cannot see it: 404 like a missing one.
    with pytest.raises(errors.NotFound):
        services.conversation_mark_read(user=rep, conversation=conversation, message_id=10**12)
    with pytest.raises(errors.NotFound):
        services.conversation_mark_read(user=other_rep, conversation=conversation, message_id=mid)
    with pytest.raises(errors.NotFound):
        services.conversation_mark_read(user=rep, conversation=other, message_id=mid)
    # The rep's manager sees it without a row of theirs: one is made, then moved.
    services.conversation_mark_read(user=manager, conversation=conversation, message_id=mid)
    viewer = Participant.objects.get(conversation=conversation, user=manager)
    assert viewer.role == Participant.Role.VIEWER and viewer.last_read_message_id == mid
    # A socket whose session ended is refused, and nothing moves.
    socket = bound_socket(rep, conversation)
    Participant.objects.filter(conversation=conversation, user=rep).update(last_read_message_id=0)
    UserSession.objects.filter(user=rep).update(ended_at="2026-01-01T00:00Z")
    with pytest.raises(errors.AccessChanged):
        socket._read_call(socket.read_kwargs(mid))
    assert Participant.objects.get(conversation=conversation, user=rep).last_read_message_id == 0
    assert socket._may_type() is None


@MARKER
@pytest.mark.django_db(transaction=True)
async def test_a_read_flood_is_one_write_the_first_at_once_the_highest_last(
    rep, conversation, link_and_token, settings, monkeypatch
):
    settings.COMMS_READ_EVERY_SECONDS = 0.5
    link, _token = link_and_token
    ids = await sync_to_async(received)(link, 30)
    written: list[int] = []
    real = services.conversation_mark_read

    def counted(**kwargs):
        written.append(kwargs["message_id"])
        return real(**kwargs)

    monkeypatch.setattr(ConversationConsumer, "read_service", staticmethod(counted))
    ws, connected, _ = await staff_socket(rep, conversation.pk)
    assert connected
    await frame(ws, "ready")

    await ws.send_json_to({"action": "read", "message_id": ids[0]})
    assert (await frame(ws, "read"))["message_id"] == ids[0]
    assert written == [ids[0]]  # the first read is written at once
    flood = ids[1:]
    for mid in [*flood[::2], *flood[1::2]]:  # out of order: the highest must still win
        await ws.send_json_to({"action": "read", "message_id": mid})
    assert (await frame(ws, "read", timeout=3))["message_id"] == ids[-1]
    await asyncio.sleep(0.8)
    assert written == [ids[0], ids[-1]]  # 29 frames in one window: one write
    read_upto = await sync_to_async(
        lambda: Participant.objects.get(conversation=conversation, user=rep).last_read_message_id
    )()
    assert read_upto == ids[-1]
    await ws.disconnect()


@MARKER
@pytest.mark.django_db(transaction=True)
async def test_typing_stops_at_once_when_a_share_ends_even_if_no_event_came(
    rep, other_rep, conversation, deal, link_and_token
):
    """The share is taken away behind the sockets' backs (no recheck event is sent): the very
    next typing frame is refused and reaches nobody."""
    from crm import services as crm_services

    _link, token = link_and_token
    await sync_to_async(crm_services.record_share)(
        actor=rep, record=deal, level="view", user=other_rep
    )
    ws, connected, _ = await staff_socket(other_rep, conversation.pk)
    assert connected
    await frame(ws, "ready")
    customer, connected, _ = await customer_socket(token)
    await frame(customer, "ready")
    await ws.send_json_to({"action": "typing"})
    assert (await frame(customer, "typing"))["actor"]["id"] == other_rep.pk

    await sync_to_async(remove_perm)("crm.view_deal", other_rep, deal)
    await asyncio.sleep(2.1)  # past the typing rate limit
    await ws.send_json_to({"action": "typing"})
    assert (await closed_with(ws, 4403)) == {"type": "closing", "reason": "access_revoked"}
    assert "typing" not in await frames_within(customer, 0.5)
    await customer.disconnect()


@MARKER
@pytest.mark.django_db(transaction=True)
async def test_typing_stops_at_once_after_a_role_change(manager, conversation):
    """A change of role moves access_version: the next typing frame is refused and rechecked."""
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts import services as account_services

    ws, connected, _ = await staff_socket(manager, conversation.pk)
    assert connected
    await frame(ws, "ready")

    def demote():
        manager.refresh_from_db()
        account_services.user_save(
            actor=None, user=manager, groups=[Group.objects.get(name=roles.REP)]
        )

    await sync_to_async(demote)()
    await ws.send_json_to({"action": "typing"})
    closing = await closed_with(ws, 4403)
    assert closing["reason"] == "access_revoked"
