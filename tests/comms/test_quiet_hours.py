"""Quiet hours (issue 14, point 7): outside a person's working hours their notifications wait for
their next working start; customers' messages still reach the inbox at once; an internal message
sent after hours tells its sender when it will be delivered, unless it is urgent (audited)."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import notifications, roles
from accounts.models import PendingNotification
from accounts.realtime import user_group
from audit.models import AuditEvent
from comms import realtime, services
from comms.models import Participant
from config import events
from tests.comms.conftest import cid
from tests.comms.sockets import frame, staff_socket
from tests.factories import make_user

CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


def off_work(user, *, tz="UTC") -> dt.datetime:
    """Give `user` a daily shift starting two hours from now (one hour long): they are off work
    now; returns their next working start."""
    start = (timezone.now() + dt.timedelta(hours=2)).astimezone(ZoneInfo(tz))
    start = start.replace(second=0, microsecond=0)
    user.timezone = tz
    user.work_days = "1234567"
    user.work_start = start.time()
    user.work_end = (start + dt.timedelta(hours=1)).time()
    user.save(update_fields=["timezone", "work_days", "work_start", "work_end"])
    return start.astimezone(dt.UTC)


def notified(outbox, user) -> list[dict]:
    return [
        e["payload"]
        for group, e in outbox
        if group == user_group(user.pk) and e["type"] == "notification.message"
    ]


@pytest.fixture
def desk(rep, other_rep):
    return services.internal_conversation_create(actor=rep, subject="Desk", members=[other_rep])


def test_a_colleagues_notification_after_hours_waits_and_is_sent_at_their_start(
    rep, other_rep, desk, django_capture_on_commit_callbacks
):
    due = off_work(other_rep, tz="America/Sao_Paulo")
    with events.collect() as outbox, django_capture_on_commit_callbacks(execute=True):
        result = services.message_send(
            author=rep, conversation=desk, body="Numbers for Monday", client_id=cid()
        )
    # The message is stored and shown in the room at once; only the notification waits.
    assert (realtime.staff_group(desk.pk), "message.created") in [(g, e["type"]) for g, e in outbox]
    assert notified(outbox, other_rep) == []
    held = PendingNotification.objects.get(user=other_rep)
    assert held.due_at == due and held.sent_at is None
    assert held.payload["type"] == "message" and held.payload["message_id"] == result.message.pk
    assert result.held == [(other_rep, due)]

    # Not yet due: nothing goes; at the start it goes, once, whoever runs the release.
    with events.collect() as early, django_capture_on_commit_callbacks(execute=True):
        assert notifications.notifications_release(now=due - dt.timedelta(seconds=1)) == 0
    assert notified(early, other_rep) == []
    with events.collect() as later, django_capture_on_commit_callbacks(execute=True):
        assert notifications.notifications_release(now=due) == 1
        assert notifications.notifications_release(now=due + dt.timedelta(minutes=5)) == 0
    (payload,) = notified(later, other_rep)
    assert payload["message_id"] == result.message.pk and payload["held_since"]
    held.refresh_from_db()
    assert held.sent_at == due


def test_a_person_who_left_meanwhile_is_not_notified(rep, other_rep, desk):
    due = off_work(other_rep)
    services.message_send(author=rep, conversation=desk, body="Later", client_id=cid())
    type(other_rep).objects.filter(pk=other_rep.pk).update(is_active=False)
    with events.collect() as outbox:
        assert notifications.notifications_release(now=due) == 1
    assert notified(outbox, other_rep) == []


def test_the_beat_task_releases_what_is_due(rep, other_rep, desk, monkeypatch):
    from accounts import tasks

    due = off_work(other_rep)
    services.message_send(author=rep, conversation=desk, body="Later", client_id=cid())
    assert tasks.notifications_release() == 0
    monkeypatch.setattr(timezone, "now", lambda: due + dt.timedelta(seconds=30))
    assert tasks.notifications_release() == 1
    assert not notifications.pending_for(other_rep).exists()


def test_at_work_the_notification_goes_at_once(
    rep, other_rep, desk, django_capture_on_commit_callbacks
):
    with events.collect() as outbox, django_capture_on_commit_callbacks(execute=True):
        result = services.message_send(author=rep, conversation=desk, body="Now", client_id=cid())
    assert [p["type"] for p in notified(outbox, other_rep)] == ["message"]
    assert result.held == [] and not result.tells_delivery
    assert not PendingNotification.objects.exists()


def test_a_customers_message_reaches_the_inbox_at_once_while_the_assignment_waits(
    rep, customer_contact, django_capture_on_commit_callbacks
):
    due = off_work(rep)
    with events.collect() as outbox, django_capture_on_commit_callbacks(execute=True):
        conversation = services.conversation_open_inbound(
            contact=customer_contact, kind="whatsapp", subject="Night question"
        )
        services.message_inbound_record(
            conversation=conversation, body="Are you open tomorrow?", client_id=uuid.uuid4()
        )
    kinds = [(g, e["type"]) for g, e in outbox]
    assert (realtime.INBOX_GROUP, "inbox.changed") in kinds
    assert (realtime.staff_group(conversation.pk), "message.created") in kinds
    assert notified(outbox, rep) == []
    held = PendingNotification.objects.get(user=rep)
    assert held.payload["type"] == "conversation.assigned" and held.due_at == due
    assert conversation.assignee_id == rep.pk  # routed to its owner at once, as always


def test_an_internal_message_after_hours_shows_when_it_will_be_delivered(
    client, rep, other_rep, desk
):
    due = off_work(other_rep)
    rep.timezone = "Europe/Madrid"
    rep.save(update_fields=["timezone"])
    client.force_login(rep)
    response = client.post(
        f"/api/v1/conversations/{desk.pk}/messages/",
        {"client_id": cid(), "body": "For tomorrow"},
        content_type="application/json",
    )
    assert response.status_code == 201
    delivery = response.json()["delivery"]
    # In the sender's time zone.
    deliver_at = dt.datetime.fromisoformat(delivery["deliver_at"])
    assert deliver_at == due
    assert deliver_at.utcoffset() == due.astimezone(ZoneInfo("Europe/Madrid")).utcoffset()
    assert delivery["urgent"] is False
    assert [h["id"] for h in delivery["held"]] == [other_rep.pk]
    # The form spelling of the same send (multipart, as a file upload sends it) says the same.
    upload = client.post(
        f"/api/v1/conversations/{desk.pk}/messages/",
        {"client_id": cid(), "body": "Again", "urgent": "false"},
    )
    assert upload.status_code == 201 and upload.json()["delivery"]["deliver_at"]
    bad = client.post(
        f"/api/v1/conversations/{desk.pk}/messages/",
        {"client_id": cid(), "body": "x", "urgent": "maybe"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "urgent" in bad.json()["detail"]


def test_urgent_is_delivered_at_once_and_audited(
    client, rep, other_rep, desk, django_capture_on_commit_callbacks
):
    off_work(other_rep)
    client.force_login(rep)
    with events.collect() as outbox, django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/conversations/{desk.pk}/messages/",
            {"client_id": cid(), "body": "The client is on the phone", "urgent": True},
            content_type="application/json",
        )
    assert response.status_code == 201
    body = response.json()
    assert body["urgent"] is True
    assert body["delivery"] == {"urgent": True, "deliver_at": None, "held": []}
    (payload,) = notified(outbox, other_rep)
    assert payload["type"] == "message" and payload["urgent"] is True
    assert not PendingNotification.objects.exists()
    event = AuditEvent.objects.get(action="comms.message.marked_urgent")
    assert event.actor_id == rep.pk and event.target_id == str(body["id"])
    assert event.data["outside_working_hours"] == [other_rep.pk]


def test_a_mention_after_hours_waits_too(rep, other_rep, customer_contact):
    conversation = services.conversation_start(actor=rep, contact=customer_contact)
    Participant.objects.create(
        conversation=conversation, user=other_rep, role=Participant.Role.AGENT
    )
    due = off_work(other_rep)
    services.message_send(
        author=rep,
        conversation=conversation,
        body="@other_rep see this",
        client_id=cid(),
        note=True,
    )
    held = PendingNotification.objects.get(user=other_rep)
    assert held.payload["type"] == "mention" and held.due_at == due


def test_queries_of_an_internal_send_stay_constant_when_colleagues_are_off_work(rep):
    def room(size):
        members = [make_user(roles.REP) for _ in range(size - 1)]
        for member in members:
            off_work(member)
        return services.internal_conversation_create(actor=rep, subject="r", members=members)

    def statements(conversation):
        services.message_send(author=rep, conversation=conversation, body="warm", client_id=cid())
        with CaptureQueriesContext(connection) as ctx:
            result = services.message_send(
                author=rep, conversation=conversation, body="late", client_id=cid()
            )
        assert len(result.held) == conversation.participants.count() - 1
        return [q for q in ctx.captured_queries if not q["sql"].upper().startswith(CONTROL)]

    small, large = statements(room(2)), statements(room(30))
    assert len(small) == len(large)
    if connection.vendor == "postgresql":
        assert len(large) == 5  # stamp, INSERT, members, held notifications, audit append


# --- the socket -------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_socket_acks_with_the_delivery_time_and_takes_urgent(rep, other_rep):
    from channels.db import database_sync_to_async as sync_to_async

    def setup():
        conversation = services.internal_conversation_create(
            actor=rep, subject="Desk", members=[other_rep]
        )
        return conversation, off_work(other_rep)

    desk, due = await sync_to_async(setup)()
    ws, ok, _ = await staff_socket(rep, desk.pk)
    assert ok
    await frame(ws, "ready")
    await ws.send_json_to({"action": "send", "client_id": cid(), "body": "tomorrow"})
    ack = await frame(ws, "ack")
    assert dt.datetime.fromisoformat(ack["delivery"]["deliver_at"]) == due
    await ws.send_json_to({"action": "send", "client_id": cid(), "body": "now!", "urgent": True})
    ack = await frame(ws, "ack")
    assert ack["delivery"] == {"urgent": True, "deliver_at": None, "held": []}
    await ws.send_json_to({"action": "send", "client_id": cid(), "body": "x", "urgent": "yes"})
    error = await frame(ws, "error")
    assert error["error"] == "invalid"
    await ws.disconnect()

    def audited():
        return AuditEvent.objects.filter(action="comms.message.marked_urgent").count()

    assert await sync_to_async(audited)() == 1


def test_the_composer_says_before_sending_who_is_off_work_and_until_when(
    client, rep, other_rep, desk, conversation
):
    due = off_work(other_rep)
    rep.timezone = "Asia/Tokyo"
    rep.save(update_fields=["timezone"])
    client.force_login(rep)
    page = client.get(f"/conversations/{desk.pk}/").content.decode()
    local = due.astimezone(ZoneInfo("Asia/Tokyo"))
    assert 'data-testid="composer-off-work"' in page
    assert f"{other_rep.get_full_name()} is outside working hours" in page
    assert local.strftime("%H:%M") in page  # in the sender's time zone
    assert 'data-time-zone="Asia/Tokyo"' in page
    # At work again: no notice. A customer conversation never has one.
    other_rep.work_start = other_rep.work_end = dt.time(0)
    other_rep.save(update_fields=["work_start", "work_end"])
    assert "composer-off-work" not in client.get(f"/conversations/{desk.pk}/").content.decode()
    Participant.objects.create(
        conversation=conversation, user=other_rep, role=Participant.Role.AGENT
    )
    off_work(other_rep)
    assert "composer-off-work" in client.get(f"/conversations/{desk.pk}/").content.decode()
    customer_page = client.get(f"/conversations/{conversation.pk}/")
    assert customer_page.status_code == 200
    assert "composer-off-work" not in customer_page.content.decode()
