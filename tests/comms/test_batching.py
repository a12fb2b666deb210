"""Sends stored in batches (comms.services.messages_store, comms.batching): one transaction for
many sends, each answered on its own, in arrival order, never twice."""

import asyncio

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from comms import errors, services
from comms.models import Message
from comms.services import messages as message_services
from config import events
from tests.audit.ledger import verify
from tests.comms.conftest import cid
from tests.comms.sockets import customer_socket, frame, staff_socket

CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


def staff(author, conversation, body, client_id=None):
    return services.staff_draft(
        author=author, conversation=conversation, body=body, client_id=client_id or cid()
    )


@pytest.mark.django_db
def test_one_batch_answers_each_send_and_refuses_only_the_bad_one(
    rep, other_rep, conversation, link_and_token
):
    link, _token = link_and_token
    earlier = services.message_send(
        author=rep, conversation=conversation, body="0", client_id=cid()
    )
    events_before = AuditEvent.objects.count()
    first = staff(rep, conversation, "first")
    items = [
        first,
        services.customer_draft(link=link, body="from the customer", client_id=cid()),
        staff(other_rep, conversation, "not mine to write"),  # sees nothing of it
        staff(rep, conversation, "first", first.client_id),  # the same send twice in one batch
        staff(rep, conversation, "0", earlier.message.client_id),  # stored in an earlier batch
        staff(rep, conversation, "second"),
    ]
    results = services.messages_store(items)

    ok, inbound, refused, repeat, old, second = results
    assert isinstance(refused, errors.NotFound)
    assert ok.created and inbound.created and second.created
    assert ok.message.pk < inbound.message.pk < second.message.pk  # arrival order
    assert (repeat.created, repeat.message.pk) == (False, ok.message.pk)
    assert (old.created, old.message.pk) == (False, earlier.message.pk)
    bodies = list(
        Message.objects.filter(conversation=conversation)
        .order_by("id")
        .values_list("body", "direction")
    )
    assert bodies == [
        ("0", "outbound"),
        ("first", "outbound"),
        ("from the customer", "inbound"),
        ("second", "outbound"),
    ]
    new_events = list(
        AuditEvent.objects.filter(seq__gt=0).order_by("seq").values_list("action", "target_id")
    )[events_before:]
    assert new_events == [
        ("comms.message.sent", str(ok.message.pk)),
        ("comms.message.received", str(inbound.message.pk)),
        ("comms.message.sent", str(second.message.pk)),
    ]
    assert verify()[0] == 0


@pytest.mark.django_db
def test_a_batch_costs_a_constant_number_of_statements(rep, conversation):
    """Lock, verdict and one UPDATE moving last_message_at, then one INSERT and the audit
    append, however many sends (tests/comms/test_batch_stamp.py compares sizes)."""
    services.message_send(author=rep, conversation=conversation, body="warm", client_id=cid())
    items = [staff(rep, conversation, f"m{n}") for n in range(10)]
    with CaptureQueriesContext(connection) as ctx:
        results = services.messages_store(items)
    assert all(r.created for r in results)
    statements = [
        q["sql"] for q in ctx.captured_queries if not q["sql"].upper().startswith(CONTROL)
    ]
    stamps = [s for s in statements if s.upper().startswith("UPDATE") and "comms_conversation" in s]
    inserts = [s for s in statements if s.upper().startswith("INSERT") and "comms_message" in s]
    assert (len(stamps), len(inserts)) == (1, 1)
    if connection.vendor == "postgresql":
        # FOR UPDATE, verdict, stamp, INSERT, audit append
        assert len(statements) == 5, statements


@pytest.mark.django_db
def test_a_lost_race_on_one_client_id_answers_with_the_stored_row(rep, conversation, monkeypatch):
    """Another process stored the same client_id after this batch's check: the INSERT fails,
    the batch runs again and answers with the stored row; nothing is written twice."""
    stored = services.message_send(
        author=rep, conversation=conversation, body="hi", client_id=cid()
    )
    real_stamp, calls = message_services._stamp, []

    def stamp_that_missed_the_winner(item, now, **kwargs):
        calls.append(item.client_id)
        # The first stamp says "stored nothing yet" and hands out change numbers.
        return (10**6, 10**6) if len(calls) == 1 else real_stamp(item, now, **kwargs)

    monkeypatch.setattr(message_services, "_stamp", stamp_that_missed_the_winner)
    [again] = services.messages_store([staff(rep, conversation, "hi", stored.message.client_id)])
    assert len(calls) == 2
    assert (again.created, again.message.pk) == (False, stored.message.pk)
    assert Message.objects.filter(client_id=stored.message.client_id).count() == 1


@pytest.mark.django_db
def test_revoked_access_refuses_the_next_send_although_the_check_was_compiled(
    rep, other_rep, conversation, deal
):
    from crm import services as crm_services

    crm_services.record_share(actor=rep, record=deal, level="view", user=other_rep)
    sent = services.message_send(
        author=other_rep, conversation=conversation, body="a", client_id=cid()
    )
    assert sent.created
    crm_services.record_unshare(actor=rep, record=deal, user=other_rep)
    with pytest.raises(errors.NotFound):
        services.message_send(
            author=other_rep, conversation=conversation, body="b", client_id=cid()
        )


@pytest.mark.django_db
def test_moving_to_another_team_ends_a_team_share_for_the_next_send(
    rep, other_rep, team, conversation, deal
):
    from accounts.models import User
    from crm import services as crm_services
    from tests.factories import TeamFactory

    crm_services.record_share(actor=rep, record=deal, level="view", team=team)
    sent = services.message_send(
        author=other_rep, conversation=conversation, body="a", client_id=cid()
    )
    assert sent.created
    User.objects.filter(pk=other_rep.pk).update(team=TeamFactory(name="Inside sales"))
    moved = User.objects.get(pk=other_rep.pk)  # as the next request loads them
    with pytest.raises(errors.NotFound):
        services.message_send(author=moved, conversation=conversation, body="b", client_id=cid())


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_socket_sends_without_waiting_and_gets_acks_in_order(
    rep, conversation, link_and_token
):
    _link, token = link_and_token
    ws, ok, _ = await staff_socket(rep, conversation.pk)
    assert ok
    await frame(ws, "ready")
    customer, ok, _ = await customer_socket(token)
    assert ok
    await frame(customer, "ready")

    sends = [cid() for _ in range(20)]
    for n, client_id in enumerate(sends):
        body = "" if n == 7 else f"burst {n}"  # one bad send in the middle of the burst
        await ws.send_json_to({"action": "send", "client_id": client_id, "body": body})
    answers = [
        await frame(ws, None, skip={"message.created", "presence", "conversation.updated"})
        for _ in sends
    ]
    # A refused input is answered at once; the stored sends are acknowledged in send order.
    errors_ = [a for a in answers if a["type"] == "error"]
    assert [(e["client_id"], e["error"]) for e in errors_] == [(sends[7], "invalid")]
    acked = [a for a in answers if a["type"] == "ack"]
    assert [a["client_id"] for a in acked] == sends[:7] + sends[8:]
    assert all(a["duplicate"] is False for a in acked)
    ids = [a["id"] for a in acked]
    assert ids == sorted(ids) and len(set(ids)) == 19
    # The customer hears every stored message once, in order.
    heard = [await frame(customer, "message.created") for _ in ids]
    assert [h["message"]["id"] for h in heard] == ids
    assert [h["message"]["body"] for h in heard] == [f"burst {n}" for n in range(20) if n != 7]
    stored = await sync_to_async(
        lambda: list(
            Message.objects.filter(conversation=conversation)
            .order_by("id")
            .values_list("body", flat=True)
        )
    )()
    assert stored == [f"burst {n}" for n in range(20) if n != 7]
    await asyncio.gather(ws.disconnect(), customer.disconnect())


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_one_batch_refreshes_an_open_inbox_once_per_conversation(rep, conversation):
    from channels.testing import WebsocketCommunicator

    from comms import batching
    from config.asgi import application
    from tests.comms.sockets import ORIGIN, _cookie

    cookie = await sync_to_async(_cookie)(rep)
    inbox = WebsocketCommunicator(application, "/ws/inbox/", [ORIGIN, (b"cookie", cookie)])
    assert (await inbox.connect())[0]
    items = await sync_to_async(lambda: [staff(rep, conversation, f"m{n}") for n in range(5)])()
    # Submitted together, before the batcher runs: one batch, one transaction.
    results = await asyncio.gather(*(batching.submit(item) for item in items))
    assert all(r.created for r in results)
    assert await inbox.receive_json_from(timeout=3) == {
        "type": "inbox.changed",
        "conversation_id": conversation.pk,
    }
    assert await inbox.receive_nothing(timeout=0.5)
    await inbox.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["closed", "pending"])
def test_a_customer_reply_reopens_a_waiting_conversation(
    rep, conversation, link_and_token, status, django_capture_on_commit_callbacks
):

    link, _token = link_and_token
    services.conversation_set_status(actor=rep, conversation=conversation, status=status)
    with events.collect() as outbox, django_capture_on_commit_callbacks(execute=True):
        services.message_receive(link=link, body="Are you still there?", client_id=cid())
    conversation.refresh_from_db()
    assert conversation.status == "open"
    reopened = AuditEvent.objects.filter(action="comms.conversation.status_changed").latest("seq")
    assert reopened.actor_type == "contact"
    assert reopened.data == {"from": status, "to": "open", "reason": "customer_reply"}
    updates = [e for _g, e in outbox if e["type"] == "conversation.updated"]
    assert [u["conversation"]["status"] for u in updates] == ["open"]
    # Already open: nothing more happens.
    count = AuditEvent.objects.filter(action="comms.conversation.status_changed").count()
    with events.collect() as outbox, django_capture_on_commit_callbacks(execute=True):
        services.message_receive(link=link, body="Thanks!", client_id=cid())
    assert AuditEvent.objects.filter(action="comms.conversation.status_changed").count() == count
    assert not [e for _g, e in outbox if e["type"] == "conversation.updated"]


@pytest.mark.django_db
def test_a_link_that_expires_refuses_the_next_customer_send_although_its_check_was_compiled(
    link_and_token,
):
    from datetime import timedelta

    from django.utils import timezone

    from comms.models import CustomerLink

    link, _token = link_and_token
    assert services.message_receive(link=link, body="first", client_id=cid()).created
    CustomerLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(errors.Forbidden):
        services.message_receive(link=link, body="too late", client_id=cid())
    CustomerLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    assert services.message_receive(link=link, body="renewed", client_id=cid()).created


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_send_is_answered_only_after_its_broadcast_was_handed_over(
    rep, conversation, monkeypatch
):
    """A process that dies between commit and publish must not have acknowledged anything: the
    page then sends again, and the resend publishes the stored message."""
    from comms import batching

    handed_over = asyncio.Event()
    release = asyncio.Event()
    real_publish = events.publish

    async def slow_publish(outbox, layer=None):
        handed_over.set()
        await release.wait()
        await real_publish(outbox, layer)

    monkeypatch.setattr(events, "publish", slow_publish)
    answer = batching.submit(staff(rep, conversation, "hello"))
    await asyncio.wait_for(handed_over.wait(), 5)
    await asyncio.sleep(0.2)
    assert not answer.done()  # stored and committed, but its broadcast is not out yet
    assert await sync_to_async(Message.objects.filter(body="hello").exists)()
    release.set()
    result = await asyncio.wait_for(answer, 5)
    assert result.created and result.message.body == "hello"
