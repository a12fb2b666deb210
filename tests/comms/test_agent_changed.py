"""The customer's page hears who it is talking with (agent.changed), and offboarding closes the
leaver's staff sockets: on the socket, without a browser."""

import asyncio

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts import offboarding
from comms import services
from tests.comms.sockets import closed_with, customer_socket, frame, staff_socket
from tests.factories import ROLE, make_user

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

CLOSED = 4403
WITHIN = 5  # seconds: the bound for a socket to close once access ends


@pytest.fixture
def ana(db, manager, team):
    return make_user(
        ROLE.REP, username="ana", first_name="Ana", last_name="Lima", manager=manager, team=team
    )


async def frames_of(ws, wanted: set[str]) -> dict:
    """The first frame of each wanted type, in whatever order they come (within WITHIN)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WITHIN
    seen: dict = {}
    while set(seen) != wanted:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"within {WITHIN}s only {sorted(seen)} of {sorted(wanted)}")
        got = await ws.receive_json_from(timeout=remaining)
        if got.get("type") in wanted:
            seen.setdefault(got["type"], got)
    return seen


async def test_customer_socket_hears_the_new_agent_after_a_transfer(
    manager, conversation, link_and_token, ana
):
    _link, token = link_and_token
    customer, connected, code = await customer_socket(token)
    assert connected, code
    await frame(customer, "ready")

    await sync_to_async(services.conversation_assign)(
        actor=manager, conversation=conversation, assignee=ana
    )

    changed = await frame(customer, "agent.changed", timeout=WITHIN)
    assert changed == {"type": "agent.changed", "name": "Ana Lima"}
    await customer.disconnect()


async def test_offboarding_closes_the_leavers_staff_socket_and_tells_the_customer(
    manager, rep, conversation, link_and_token, ana
):
    _link, token = link_and_token
    chat, connected, code = await staff_socket(rep, conversation.pk)
    assert connected, code
    await frame(chat, "ready")
    customer, connected, code = await customer_socket(token)
    assert connected, code
    await frame(customer, "ready")

    def offboard():
        plan = offboarding.offboarding_plan(actor=manager, leaver=rep, successor=ana)
        return offboarding.user_offboard(plan)

    await sync_to_async(offboard)()

    closing = await closed_with(chat, CLOSED, timeout=WITHIN)
    assert closing["reason"] == "deactivated"
    seen = await frames_of(customer, {"message.created", "agent.changed"})
    assert seen["message.created"]["message"]["body"] == (
        "Ana Lima will continue this conversation."
    )
    assert seen["agent.changed"] == {"type": "agent.changed", "name": "Ana Lima"}
    await customer.disconnect()
