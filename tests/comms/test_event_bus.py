"""One event bus (config.events): after commit, in order, from the event loop where there is one,
coalesced in one place, and the only publisher in the project."""

import pathlib
import uuid

import pytest
from django.db import transaction

from accounts import roles
from comms import realtime, services
from comms.models import Participant
from config import events
from tests.factories import make_user

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ("audit", "accounts", "crm", "comms", "config")
# The health probe pings the layer itself; it publishes nothing anyone hears.
# The bus, the health check, and the channel layer itself (which publishes to itself).
PUBLISHERS = {"config/events.py", "config/health.py", "config/channel_layer.py"}


def test_nothing_but_the_bus_sends_to_the_channel_layer():
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            name = str(path.relative_to(ROOT))
            if name in PUBLISHERS or "/migrations/" in name:
                continue
            text = path.read_text()
            for needle in ("group_send(", "async_to_sync("):
                if needle in text:
                    offenders.append(f"{name}: {needle}")
    assert offenders == []


@pytest.mark.django_db(transaction=True)
def test_a_batched_mention_is_collected_after_its_message_never_sent_from_the_database_thread(
    rep, conversation, monkeypatch
):
    colleague = make_user(roles.REP, username="bruno", team=rep.team)
    Participant.objects.create(
        conversation=conversation, user=colleague, role=Participant.Role.MEMBER
    )
    sent_from_thread = []
    monkeypatch.setattr(events, "async_to_sync", lambda fn: sent_from_thread.append(fn))
    draft = services.staff_draft(
        author=rep, conversation=conversation, body="@bruno can you look?", client_id=uuid.uuid4()
    )
    # As the batcher runs it: on the database thread, the store commits inside run_collecting.
    (result,), outbox = events.run_collecting(services.messages_store, {"items": [draft]})
    assert sent_from_thread == []  # the database thread never waited on Redis
    order = [(group, event["type"]) for group, event in outbox]
    assert order == [
        (realtime.staff_group(conversation.pk), "message.created"),
        (realtime.customer_group(conversation.pk), "message.created"),
        (realtime.INBOX_GROUP, "inbox.changed"),
        (f"user.{colleague.pk}", "notification.message"),
    ]
    assert outbox[-1][1]["payload"]["message_id"] == result.message.pk


@pytest.mark.django_db
def test_events_of_a_rolled_back_write_are_never_sent(django_capture_on_commit_callbacks):
    with events.collect() as outbox, django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                events.send_event_on_commit("g", {"type": "x"})
                raise RuntimeError
        except RuntimeError:
            pass
        events.send_event_on_commit("g", {"type": "y"})
    assert [event["type"] for _group, event in outbox] == ["y"]


@pytest.mark.django_db(transaction=True)
def test_events_share_a_commit_hook_yet_a_rolled_back_savepoint_drops_only_its_own():
    """Events queued one after another share one hook; those of a savepoint rolled back are
    not sent, those before and after it are, in order."""
    with events.collect() as outbox:
        with transaction.atomic():
            events.send_event_on_commit("g", {"type": "a"})
            events.send_event_on_commit("g", {"type": "b"})
            try:
                with transaction.atomic():
                    events.send_event_on_commit("g", {"type": "lost"})
                    raise RuntimeError
            except RuntimeError:
                pass
            with transaction.atomic():
                events.send_event_on_commit("g", {"type": "c"})
            events.send_event_on_commit("g", {"type": "d"})
            transaction.on_commit(lambda: outbox.append(("g", {"type": "hook"})))
            events.send_event_on_commit("g", {"type": "e"})
            hooks = len(transaction.get_connection().run_on_commit)
        assert [event["type"] for _group, event in outbox] == ["a", "b", "c", "d", "hook", "e"]
    assert hooks == 5  # a+b, c (its savepoint's), d, the hook, e


def test_look_again_events_are_coalesced_and_order_is_kept():
    batch = [
        (realtime.INBOX_GROUP, {"type": "inbox.changed", "conversation_id": 1}),
        ("conversation.1.staff", {"type": "message.created", "n": 1}),
        (realtime.INBOX_GROUP, {"type": "inbox.changed", "conversation_id": 1}),
        (realtime.INBOX_GROUP, {"type": "inbox.changed", "conversation_id": 2}),
        ("conversation.1.staff", {"type": "message.created", "n": 2}),
    ]
    assert events.coalesced(batch) == [batch[0], batch[1], batch[3], batch[4]]


@pytest.mark.asyncio
async def test_publish_sends_in_order_and_survives_a_failing_send():
    heard = []

    class Layer:
        async def group_send(self, group, event):
            if event.get("fail"):
                raise ConnectionError("redis is away")
            heard.append(event["n"])

    await events.publish(
        [
            ("g", {"type": "a", "n": 1}),
            ("g", {"type": "a", "fail": True}),
            ("g", {"type": "a", "n": 2}),
        ],
        Layer(),
    )
    assert heard == [1, 2]
