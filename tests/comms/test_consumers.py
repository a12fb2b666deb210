"""Live chat over the staff and customer sockets."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.utils import timezone

from comms import services
from comms.models import CustomerLink, Message, MessageRevision
from tests.comms.guards import record_guards_off
from tests.comms.sockets import (
    NOISE,
    closed_with,
    customer_socket,
    frame,
    nothing_but_noise,
    staff_socket,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def _backdate(message_id, by):
    """Time travel, which only the tables' owner could do (the record's guards refuse it)."""
    with record_guards_off():
        Message.objects.filter(pk=message_id).update(created_at=timezone.now() - by)


def cid() -> str:
    return str(uuid.uuid4())


async def test_send_ack_duplicate_and_customer_view(rep, conversation, link_and_token):
    _link, token = link_and_token
    staff, ok, _ = await staff_socket(rep, conversation.pk)
    assert ok
    ready = await frame(staff, "ready")
    assert ready["conversation_id"] == conversation.pk and ready["seq"] == 0
    assert ready["live"] is True
    customer, ok, _ = await customer_socket(token)
    assert ok
    await frame(customer, "ready")

    client_id = cid()
    await staff.send_json_to({"action": "send", "client_id": client_id, "body": "Hi <b>Clara</b>"})
    ack = await frame(staff, "ack")
    assert ack["client_id"] == client_id and ack["duplicate"] is False
    created = await frame(staff, "message.created")
    assert created["message"]["id"] == ack["id"]
    assert created["message"]["body"] == "Hi <b>Clara</b>"
    assert "&lt;b&gt;Clara&lt;/b&gt;" in created["message"]["body_html"]
    assert "original_body" not in created["message"]
    seen = await frame(customer, "message.created")
    assert seen["message"]["id"] == ack["id"] and seen["message"]["direction"] == "outbound"

    await staff.send_json_to({"action": "send", "client_id": client_id, "body": "Hi <b>Clara</b>"})
    again = await frame(staff, "ack")
    assert again == {"type": "ack", "client_id": client_id, "id": ack["id"], "duplicate": True}
    # The resend publishes the stored message again (its first publish may have died with its
    # process): the same id and change number, which a page already holding it drops.
    republished = await frame(customer, "message.created")
    assert (republished["message"]["id"], republished["message"]["seq"]) == (ack["id"], 1)
    assert (await frame(staff, "message.created"))["message"]["id"] == ack["id"]
    assert await nothing_but_noise(customer)
    assert await sync_to_async(Message.objects.count)() == 1

    # The customer answers: an inbound message of the same conversation.
    answer = cid()
    await customer.send_json_to({"action": "send", "client_id": answer, "body": "Hello!"})
    customer_ack = await frame(customer, "ack")
    inbound = await frame(staff, "message.created")
    assert inbound["message"]["id"] == customer_ack["id"]
    assert inbound["message"]["direction"] == "inbound"
    assert inbound["message"]["author"]["type"] == "contact"
    await staff.disconnect()
    await customer.disconnect()


async def test_notes_stay_with_staff(rep, conversation, link_and_token):
    _link, token = link_and_token
    staff, _, _ = await staff_socket(rep, conversation.pk)
    customer, _, _ = await customer_socket(token)
    await frame(staff, "ready")
    await frame(customer, "ready")
    await staff.send_json_to({"action": "send", "client_id": cid(), "body": "psst", "note": True})
    await frame(staff, "ack")
    note = await frame(staff, "message.created")
    assert note["message"]["direction"] == "note"
    await staff.send_json_to({"action": "typing", "note": True})
    assert await nothing_but_noise(customer, 0.5)
    await staff.disconnect()
    await customer.disconnect()


async def test_edit_inside_and_outside_the_window(rep, conversation, link_and_token):
    _link, token = link_and_token
    staff, _, _ = await staff_socket(rep, conversation.pk)
    customer, _, _ = await customer_socket(token)
    await frame(staff, "ready")
    await frame(customer, "ready")
    await staff.send_json_to({"action": "send", "client_id": cid(), "body": "price 100"})
    mid = (await frame(staff, "ack"))["id"]
    await frame(staff, "message.created")
    await frame(customer, "message.created")

    await staff.send_json_to({"action": "edit", "message_id": mid, "body": "price 90"})
    updated = await frame(staff, "message.updated")
    assert updated["message"]["body"] == "price 90" and updated["message"]["edited_at"]
    assert (await frame(customer, "message.updated"))["message"]["body"] == "price 90"
    assert await sync_to_async(MessageRevision.objects.filter(message_id=mid).count)() == 1

    await sync_to_async(_backdate)(mid, timedelta(minutes=16))
    await staff.send_json_to({"action": "edit", "message_id": mid, "body": "price 80"})
    error = await frame(staff, "error")
    assert error["error"] == "edit_window_closed" and "15" in error["detail"]
    await staff.disconnect()
    await customer.disconnect()


async def test_retract_hides_from_customer_keeps_for_compliance(
    rep, compliance, conversation, link_and_token, client
):
    _link, token = link_and_token
    staff, _, _ = await staff_socket(rep, conversation.pk)
    watcher, ok, _ = await staff_socket(compliance, conversation.pk)
    assert ok
    customer, _, _ = await customer_socket(token)
    for ws in (staff, watcher, customer):
        await frame(ws, "ready")
    await staff.send_json_to({"action": "send", "client_id": cid(), "body": "wrong number"})
    mid = (await frame(staff, "ack"))["id"]
    await staff.send_json_to({"action": "edit", "message_id": mid, "body": "wrong number!"})
    await staff.send_json_to({"action": "retract", "message_id": mid})
    earlier = NOISE | {"message.created", "message.updated"}
    retracted = await frame(staff, "message.retracted", skip=earlier)
    assert retracted["message"]["body"] is None and retracted["message"]["retracted"] is True
    assert "original_body" not in retracted["message"]
    seen = await frame(watcher, "message.retracted", skip=earlier)
    assert seen["message"]["original_body"] == "wrong number!"
    gone = await frame(customer, "message.retracted", skip=earlier)
    assert gone["message"]["body"] is None and gone["message"]["body_html"] == ""
    # The compliance officer never writes.
    await watcher.send_json_to({"action": "send", "client_id": cid(), "body": "x"})
    assert (await frame(watcher, "error"))["error"] == "forbidden"
    # ...but reads every revision.
    await sync_to_async(client.force_login)(compliance)
    response = await sync_to_async(client.get)(
        f"/api/v1/conversations/{conversation.pk}/messages/{mid}/revisions/"
    )
    assert [r["body"] for r in response.json()["results"]] == ["wrong number"]
    for ws in (staff, watcher, customer):
        await ws.disconnect()


async def test_typing_and_read_receipts(rep, conversation, link_and_token):
    _link, token = link_and_token
    staff, _, _ = await staff_socket(rep, conversation.pk)
    customer, _, _ = await customer_socket(token)
    await frame(staff, "ready")
    await frame(customer, "ready")
    await staff.send_json_to({"action": "typing"})
    typing = await frame(customer, "typing")
    assert typing["actor"]["type"] == "user" and typing["actor"]["id"] == rep.pk
    await customer.send_json_to({"action": "typing"})
    assert (await frame(staff, "typing"))["actor"]["type"] == "contact"

    await staff.send_json_to({"action": "send", "client_id": cid(), "body": "read me"})
    mid = (await frame(staff, "ack"))["id"]
    await frame(customer, "message.created")
    await customer.send_json_to({"action": "read", "message_id": mid})
    read = await frame(staff, "read")
    assert read["message_id"] == mid and read["actor"]["type"] == "contact"
    status = await sync_to_async(lambda: Message.objects.get(pk=mid).status)()
    assert status == "read"
    await staff.disconnect()
    await customer.disconnect()


async def test_refused_sockets(rep, other_rep, conversation):
    _ws, connected, code = await staff_socket(other_rep, conversation.pk)
    assert not connected and code == 4404
    _ws, connected, code = await staff_socket(rep, 999999)
    assert not connected and code == 4404
    _ws, connected, code = await staff_socket(None, conversation.pk)
    assert not connected and code == 4401


async def test_socket_closes_when_the_share_is_revoked(rep, other_rep, conversation, deal):
    from crm import services as crm_services

    await sync_to_async(crm_services.record_share)(
        actor=rep, record=deal, level="view", user=other_rep
    )
    ws, connected, _ = await staff_socket(other_rep, conversation.pk)
    assert connected
    await frame(ws, "ready")
    # The owner takes the share back through the CRM service the share page uses.
    await sync_to_async(crm_services.record_unshare)(actor=rep, record=deal, user=other_rep)
    closing = await closed_with(ws, 4403)
    assert closing == {"type": "closing", "reason": "access_revoked"}


async def test_socket_of_the_old_owner_closes_when_the_deal_is_reassigned(
    rep, other_rep, manager, admin_user, customer_contact, deal
):
    """A reassigned deal's old owner loses its conversations at once (the contact stays theirs
    only if they own it: here the contact belongs to someone else)."""
    from crm import services as crm_services

    def setup():
        conv = services.conversation_start(actor=rep, contact=customer_contact, deal=deal)
        crm_services.contact_update(actor=manager, contact=customer_contact, owner=manager)
        services.conversation_assign(actor=manager, conversation=conv, assignee=other_rep)
        return conv

    conv = await sync_to_async(setup)()
    ws, connected, _ = await staff_socket(rep, conv.pk)
    assert connected
    await frame(ws, "ready")
    await sync_to_async(crm_services.deal_update)(actor=admin_user, deal=deal, owner=other_rep)
    await closed_with(ws, 4403)


async def test_socket_closes_when_removed_from_an_internal_conversation(rep, other_rep):
    conv = await sync_to_async(services.internal_conversation_create)(
        actor=rep, subject="desk", members=[other_rep]
    )
    ws, connected, _ = await staff_socket(other_rep, conv.pk)
    assert connected
    await frame(ws, "ready")
    await sync_to_async(services.member_remove)(actor=rep, conversation=conv, user=other_rep)
    await closed_with(ws, 4403)


async def test_bad_frames_keep_the_socket_open(rep, conversation):
    ws, _, _ = await staff_socket(rep, conversation.pk)
    await frame(ws, "ready")
    await ws.send_to(text_data="{not json")
    assert (await frame(ws, "error"))["error"] == "malformed_json"
    await ws.send_json_to({"action": "dance"})
    assert (await frame(ws, "error"))["error"] == "unknown_action"
    await ws.send_json_to([1, 2])
    assert (await frame(ws, "error"))["error"] == "invalid"
    client_id = cid()
    await ws.send_json_to({"action": "send", "client_id": client_id, "body": "x" * 10_001})
    error = await frame(ws, "error")
    assert error["error"] == "too_long" and "10,000" in error["detail"]
    assert error["client_id"] == client_id
    await ws.send_json_to({"action": "send", "client_id": "nope", "body": "x"})
    assert (await frame(ws, "error"))["error"] == "invalid"
    await ws.send_json_to({"action": "edit", "message_id": 424242, "body": "x"})
    assert (await frame(ws, "error"))["error"] == "not_found"
    await ws.send_json_to({"action": "ping"})
    assert await frame(ws, "pong") == {"type": "pong"}
    await ws.disconnect()


async def test_catch_up_after_reconnect(rep, conversation, client):
    ws, _, _ = await staff_socket(rep, conversation.pk)
    await frame(ws, "ready")
    await ws.send_json_to({"action": "send", "client_id": cid(), "body": "one"})
    seen = (await frame(ws, "ack"))["id"]
    live = (await frame(ws, "message.created"))["message"]
    await ws.disconnect()
    # While offline, two more messages arrive.
    for body in ("two", "three"):
        await sync_to_async(services.message_send)(
            author=rep, conversation=conversation, body=body, client_id=cid()
        )
    ws, _, _ = await staff_socket(rep, conversation.pk)
    ready = await frame(ws, "ready")
    assert ready["seq"] == live["seq"] + 2  # two changes since: the page knows to catch up
    await sync_to_async(client.force_login)(rep)
    response = await sync_to_async(client.get)(
        f"/api/v1/conversations/{conversation.pk}/messages/?after={seen}"
    )
    assert [m["body"] for m in response.json()["results"]] == ["two", "three"]
    # Parity: the API's <message> is the socket's <message>.
    first = await sync_to_async(client.get)(
        f"/api/v1/conversations/{conversation.pk}/messages/?after=0"
    )
    assert first.json()["results"][0] == live
    await ws.disconnect()


async def test_customer_token_scope(rep, customer_contact, conversation, link_and_token):
    _link, token = link_and_token
    other = await sync_to_async(services.conversation_start)(actor=rep, contact=customer_contact)
    customer, _, _ = await customer_socket(token)
    await frame(customer, "ready")
    await sync_to_async(services.message_send)(
        author=rep, conversation=other, body="elsewhere", client_id=cid()
    )
    await sync_to_async(services.message_send)(
        author=rep, conversation=conversation, body="note", client_id=cid(), note=True
    )
    assert await nothing_but_noise(customer, 0.5)
    await customer.send_json_to({"action": "edit", "message_id": 1, "body": "x"})
    assert (await frame(customer, "error"))["error"] == "forbidden"
    await customer.disconnect()


async def test_expired_and_revoked_tokens(rep, conversation, link_and_token):
    link, token = link_and_token
    customer, connected, _ = await customer_socket(token)
    assert connected
    await frame(customer, "ready")
    await sync_to_async(services.customer_link_revoke)(actor=rep, link=link)
    await closed_with(customer, 4403)
    _ws, connected, code = await customer_socket(token)
    assert not connected and code == 4404

    link2, token2 = await sync_to_async(services.customer_link_issue)(
        actor=rep, conversation=conversation
    )
    await sync_to_async(CustomerLink.objects.filter(pk=link2.pk).update)(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    _ws, connected, code = await customer_socket(token2)
    assert not connected and code == 4404
    _ws, connected, code = await customer_socket("garbage")
    assert not connected and code == 4404


async def test_presence_spans_sockets_and_compliance_stays_silent(
    rep, manager, compliance, conversation, link_and_token
):
    _link, token = link_and_token
    first, _, _ = await staff_socket(rep, conversation.pk)
    ready = await frame(first, "ready")
    assert ready["presence"] == [{"type": "user", "id": rep.pk, "name": rep.get_full_name()}]
    second, _, _ = await staff_socket(manager, conversation.pk)
    await frame(second, "ready")
    online = await frame(second, "presence", timeout=3)
    assert {a["id"] for a in online["online"]} == {rep.pk, manager.pk}
    joined = await frame(first, "presence")
    assert {a["id"] for a in joined["online"]} == {rep.pk, manager.pk}
    customer, _, _ = await customer_socket(token)
    await frame(customer, "ready")
    # A presence frame of the manager's arrival can still be on its way: the customer shows in
    # the next lists (frame() fails if none comes in time).
    while ("contact", conversation.contact_id) not in {
        (a["type"], a["id"]) for a in (await frame(first, "presence"))["online"]
    }:
        pass
    watcher, _, _ = await staff_socket(compliance, conversation.pk)
    await frame(watcher, "ready")
    await second.disconnect()
    while True:  # the latest presence list drops the manager; compliance never appears
        left = await frame(first, "presence")
        assert compliance.pk not in {a["id"] for a in left["online"] if a["type"] == "user"}
        if manager.pk not in {a["id"] for a in left["online"] if a["type"] == "user"}:
            break
    for ws in (first, customer, watcher):
        await ws.disconnect()


async def test_a_socket_whose_process_died_drops_out_of_presence(
    rep, manager, conversation, settings
):
    """A daphne process that dies sends no presence.leave: its sockets stop refreshing and
    everyone else drops them, while live sockets stay listed."""
    from channels.layers import get_channel_layer

    from comms import realtime

    settings.COMMS_PRESENCE_REFRESH_SECONDS = 0.4  # dropped after 1 s of silence
    first, _, _ = await staff_socket(rep, conversation.pk)
    await frame(first, "ready")
    second, _, _ = await staff_socket(manager, conversation.pk)
    await frame(second, "ready")
    ghost = {"type": "user", "id": 10**9, "name": "Crashed process"}
    await get_channel_layer().group_send(
        realtime.staff_group(conversation.pk),
        {"type": "presence.join", "channel": "gone.process!socket", "actor": ghost},
    )
    listed = set()
    while ghost["id"] not in listed:
        listed = {a["id"] for a in (await frame(first, "presence"))["online"]}
    while ghost["id"] in listed:
        listed = {a["id"] for a in (await frame(first, "presence", timeout=5))["online"]}
    assert listed == {rep.pk, manager.pk}
    # Four more refresh periods: the live sockets keep each other listed.
    loop = asyncio.get_running_loop()
    until = loop.time() + 1.6
    while loop.time() < until:
        if await first.receive_nothing(timeout=0.1):  # (a timed-out receive ends the app)
            continue
        got = await first.receive_json_from()
        if got["type"] == "presence":
            assert {a["id"] for a in got["online"]} == {rep.pk, manager.pk}
    for ws in (first, second):
        await ws.disconnect()


async def test_offboarding_closes_conversation_sockets(rep, conversation):
    from channels.layers import get_channel_layer

    from accounts.realtime import user_group

    ws, _, _ = await staff_socket(rep, conversation.pk)
    await frame(ws, "ready")
    await get_channel_layer().group_send(
        user_group(rep.pk), {"type": "notification.message", "payload": {"type": "x"}}
    )
    await get_channel_layer().group_send(
        user_group(rep.pk), {"type": "connection.close", "reason": "offboarded"}
    )
    closing = await closed_with(ws, 4403)
    assert closing["reason"] == "offboarded"
