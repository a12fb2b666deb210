"""Draining inbound events: one queued drain for a burst of webhooks, batches, backoff, and one
bad event never holding up the others."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from comms.models import Message
from connectors import inbound, payloads, tasks
from connectors.models import InboundEvent
from tests.connectors.helpers import CUSTOMER, post_whatsapp, wa_message, whatsapp_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa(provider_simulator, team):
    return whatsapp_account(provider_simulator, team=team)


@pytest.fixture
def with_a_broker(monkeypatch):
    """As with Redis and a worker: queued drains are recorded, not run; the test runs them."""
    queued = []
    conf = tasks.inbound_events_process.app.conf
    eager = conf.task_always_eager
    conf.task_always_eager = False
    monkeypatch.setattr(tasks.inbound_events_process, "delay", lambda **kw: queued.append(kw))
    cache.delete(inbound.DRAIN_MARK)
    try:
        yield queued
    finally:
        conf.task_always_eager = eager
        cache.delete(inbound.DRAIN_MARK)


def _senders(count):
    return [f"+55119876{n:05d}" for n in range(count)]


def test_a_burst_of_webhooks_queues_one_drain_which_stores_them_all(
    wa,
    client,
    provider_simulator,
    customer_contact,
    with_a_broker,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            payload = wa_message(provider_simulator, text=f"burst {n}")
            assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    assert len(with_a_broker) == 1  # one drain queued for the five
    assert InboundEvent.objects.filter(processed_at__isnull=True).count() == 5
    assert tasks.inbound_events_process() == 5
    assert sorted(Message.objects.filter(direction="inbound").values_list("body", flat=True)) == [
        f"burst {n}" for n in range(5)
    ]
    # The drain cleared its mark: the next webhook queues the next drain.
    with django_capture_on_commit_callbacks(execute=True):
        post_whatsapp(client, provider_simulator, wa_message(provider_simulator, text="later"))
    assert len(with_a_broker) == 2


def test_a_status_before_its_send_waits_with_a_backoff_and_the_beat_finds_it_due(
    wa, client, provider_simulator, with_a_broker, django_capture_on_commit_callbacks
):
    payload = payloads.build_whatsapp_status(
        phone_number_id=provider_simulator.settings.phone_number_id,
        display_phone_number=provider_simulator.settings.whatsapp_number,
        message_id="wamid.NOTYET",
        status="delivered",
        recipient=CUSTOMER,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    tasks.inbound_events_process()
    event = InboundEvent.objects.get()
    assert event.processed_at is None and event.attempts == 1
    assert event.next_attempt_at > timezone.now() + timedelta(seconds=1)
    assert "no outbound message" in event.error
    assert tasks.inbound_events_due() is False  # not due yet: nothing queued
    InboundEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    queued_before = len(with_a_broker)
    assert tasks.inbound_events_due() is True
    assert len(with_a_broker) == queued_before + 1
    for _ in range(inbound.MAX_ATTEMPTS):  # each retry comes due; then it is given up
        InboundEvent.objects.update(next_attempt_at=None)
        tasks.inbound_events_process()
    event.refresh_from_db()
    assert event.processed_at is not None and event.attempts == inbound.MAX_ATTEMPTS - 1
    assert "no outbound message" in event.error


def test_one_event_that_breaks_is_recorded_and_the_others_are_stored(
    wa, client, provider_simulator, rep, monkeypatch, django_capture_on_commit_callbacks
):
    store = inbound._store_message

    def breaks_on_one(event, incoming, seen):
        if "poison" in event.payload.get("text", ""):
            raise RuntimeError("a bug")
        return store(event, incoming, seen)

    monkeypatch.setattr(inbound, "_store_message", breaks_on_one)
    with django_capture_on_commit_callbacks(execute=True):
        for n, sender in enumerate(_senders(3)):
            text = "poison" if n == 1 else f"fine {n}"
            payload = wa_message(provider_simulator, text=text, from_number=sender)
            post_whatsapp(client, provider_simulator, payload)
    bodies = set(Message.objects.filter(direction="inbound").values_list("body", flat=True))
    assert bodies == {"fine 0", "fine 2"}
    broken = InboundEvent.objects.get(payload__text="poison")
    assert broken.processed_at is not None and "RuntimeError: a bug" in broken.error
    assert not InboundEvent.objects.filter(processed_at__isnull=True).exists()


def _drain_queries(client, simulator, senders) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for sender in senders:
        post_whatsapp(client, simulator, wa_message(simulator, text="Oi", from_number=sender))
    with CaptureQueriesContext(connection) as queries:
        tasks.inbound_events_process()
    return len(queries)


def test_each_event_of_a_batch_costs_the_same_few_statements(
    wa, client, provider_simulator, with_a_broker, rep
):
    from tests.crm.factories import ContactFactory

    senders = _senders(25)
    for sender in senders:  # known contacts; their first message opens their conversation
        ContactFactory(first_name="Known", owner=rep, phone=sender)
    _drain_queries(client, provider_simulator, senders)
    small = _drain_queries(client, provider_simulator, senders[:5])
    large = _drain_queries(client, provider_simulator, senders[5:25])
    per_event = (large - small) / 15
    # Savepoints included; SQLite's ledger append is 4 statements (PostgreSQL's is 1); the
    # senders' contacts and conversations are read once per batch.
    assert per_event <= 14, f"{per_event:.1f} statements per event"
    assert Message.objects.filter(direction="inbound").count() == 50


def test_one_senders_messages_in_a_batch_cost_only_their_own_writes(
    wa, client, provider_simulator, with_a_broker, rep
):
    """Consent and the account replies leave from are recorded once per sender and batch."""
    sender = _senders(1)[0]
    _drain_queries(client, provider_simulator, [sender])  # their contact and conversation
    small = _drain_queries(client, provider_simulator, [sender] * 5)
    large = _drain_queries(client, provider_simulator, [sender] * 25)
    per_event = (large - small) / 20
    # savepoints, the conversation stamp, the INSERT, the ledger append (4 statements on SQLite)
    assert per_event <= 10, f"{per_event:.1f} statements per event"
    messages = Message.objects.filter(direction="inbound")
    assert messages.count() == 31 and len({m.conversation_id for m in messages}) == 1


def test_webhooks_while_a_drain_runs_queue_nothing_and_that_drain_stores_them(
    wa,
    client,
    provider_simulator,
    customer_contact,
    with_a_broker,
    django_capture_on_commit_callbacks,
):
    cache.set(inbound.DRAIN_MARK, 1, timeout=inbound.DRAIN_MARK_TTL_S)  # a drain is running
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            post_whatsapp(client, provider_simulator, wa_message(provider_simulator, text=f"m{n}"))
    assert with_a_broker == []
    assert tasks.inbound_events_process() == 3  # the running drain's next look finds them
    assert cache.get(inbound.DRAIN_MARK) is None  # done: the next webhook queues a drain


def test_a_sender_is_matched_to_the_active_contact_before_an_archived_one(
    wa, client, provider_simulator, rep, django_capture_on_commit_callbacks
):
    from tests.crm.factories import ContactFactory

    sender = _senders(1)[0]
    archived = ContactFactory(first_name="Old", owner=rep, phone=sender)
    archived.archived_at = timezone.now()
    archived.save(update_fields=["archived_at"])
    active = ContactFactory(first_name="Current", owner=rep, phone=sender)
    with django_capture_on_commit_callbacks(execute=True):
        payload = wa_message(provider_simulator, text="Olá", from_number=sender)
        assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    assert Message.objects.get(direction="inbound").author_contact == active
