# ruff: noqa: F811 - pytest fixtures imported from tests.governance.retention_fixtures
"""Legal holds: what each scope covers, purges and erasures refusing it in their own transaction,
placing and releasing audited, and releasing deleting nothing."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from audit.models import AuditEvent
from comms.models import Message
from comms.services.purge import message_bodies_purge
from config.errors import Invalid
from governance.holds import (
    held_message_ids,
    holds_covering_contact,
    legal_hold_place,
    legal_hold_release,
)
from governance.models import LegalHold
from tests.governance.retention_fixtures import (  # noqa: F401
    company,
    conversation,
    deal,
    other_contact,
    other_conversation,
    record,
    send,
    verify,
)


def _place(actor, scope, target=None, **extra):
    return legal_hold_place(
        actor=actor,
        scope=scope,
        target_id=getattr(target, "pk", None),
        matter="Acme v. Keepline",
        reason="Litigation notice of 3 March",
        **extra,
    )


@pytest.fixture
def two_conversations(rep, other_rep, company, conversation, other_conversation):
    mine = send(rep, conversation, "renewal terms")
    theirs = send(other_rep, other_conversation, "other terms")
    return mine, theirs


@pytest.mark.parametrize("scope", ["contact", "company", "deal", "conversation", "user"])
def test_each_scope_holds_its_messages_and_no_others(
    scope, compliance, rep, customer_contact, conversation, deal, two_conversations
):
    mine, theirs = two_conversations
    if scope == "company":
        target = customer_contact.company
        assert target is not None, "the fixture contact has a company"
    else:
        target = {
            "contact": customer_contact,
            "deal": deal,
            "conversation": conversation,
            "user": rep,
        }[scope]
    _place(compliance, scope, target)
    assert held_message_ids([mine.pk, theirs.pk]) == {mine.pk}


def test_a_time_range_holds_what_was_sent_within_it(compliance, two_conversations):
    mine, theirs = two_conversations
    now = timezone.now()
    _place(compliance, "time_range", since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert held_message_ids([mine.pk, theirs.pk]) == {mine.pk, theirs.pk}
    LegalHold.objects.update(released_at=now)
    _place(compliance, "time_range", since=now - timedelta(days=9), until=now - timedelta(days=8))
    assert held_message_ids([mine.pk, theirs.pk]) == set()


def test_a_purge_skips_held_messages_and_purges_them_once_released(
    compliance, admin_user, customer_contact, two_conversations
):
    mine, theirs = two_conversations
    hold = _place(compliance, "contact", customer_contact)
    assert message_bodies_purge(message_ids=[mine.pk, theirs.pk], actor=admin_user, reason="x") == 1
    mine.refresh_from_db()
    assert mine.body == "renewal terms" and mine.purged_at is None
    event = AuditEvent.objects.get(action="comms.message.purged")
    assert event.data["held"] == [mine.pk] and event.data["messages"] == [theirs.pk]

    legal_hold_release(actor=compliance, hold=hold, reason="Case settled")
    assert Message.objects.get(pk=mine.pk).body == "renewal terms"  # releasing deletes nothing
    assert message_bodies_purge(message_ids=[mine.pk], actor=admin_user, reason="x") == 1
    assert Message.objects.get(pk=mine.pk).purged_at is not None
    assert verify()[0] == 0


def test_holds_covering_contact_names_every_way_a_hold_reaches_them(
    compliance, rep, other_rep, customer_contact, other_contact, conversation, deal,
    two_conversations,
):  # fmt: skip
    mine, _ = two_conversations
    now = timezone.now()
    covering = [
        _place(compliance, "contact", customer_contact),
        _place(compliance, "company", customer_contact.company),
        _place(compliance, "deal", deal),
        _place(compliance, "conversation", conversation),
        _place(compliance, "user", rep),
        _place(compliance, "time_range", since=mine.created_at, until=now + timedelta(hours=1)),
    ]
    # Not covering: another contact, another staff member, a range before any message.
    _place(compliance, "contact", other_contact)
    _place(compliance, "user", other_rep)
    _place(compliance, "time_range", since=now - timedelta(days=9), until=now - timedelta(days=8))
    found = holds_covering_contact(customer_contact)
    assert {h.pk for h in found} == {h.pk for h in covering}
    legal_hold_release(actor=compliance, hold=covering[0], reason="done")
    assert covering[0].pk not in {h.pk for h in holds_covering_contact(customer_contact)}


def test_holds_covering_contact_queries_are_constant(
    compliance, customer_contact, conversation, rep, django_assert_max_num_queries
):
    _place(compliance, "contact", customer_contact)
    with django_assert_max_num_queries(1):
        holds_covering_contact(customer_contact)
    with django_assert_max_num_queries(2):
        held_message_ids([1, 2, 3])


def test_placing_and_releasing_are_audited(compliance, customer_contact):
    hold = _place(compliance, "contact", customer_contact)
    placed = AuditEvent.objects.get(action="governance.hold.placed")
    assert placed.actor_id == compliance.pk and placed.target_id == str(hold.pk)
    assert placed.data["matter"] == "Acme v. Keepline" and placed.data["scope"] == "contact"
    assert placed.data["target"] == str(customer_contact.pk)
    legal_hold_release(actor=compliance, hold=hold, reason="Case settled")
    released = AuditEvent.objects.get(action="governance.hold.released")
    assert released.data["reason"] == "Case settled"
    hold.refresh_from_db()
    assert hold.released_by == compliance and hold.release_reason == "Case settled"
    with pytest.raises(Invalid):
        legal_hold_release(actor=compliance, hold=hold, reason="again")
    assert LegalHold.objects.count() == 1


@pytest.mark.parametrize("actor", ["rep", "manager"])
def test_reps_and_managers_cannot_place_holds(request, actor, customer_contact):
    with pytest.raises(Http404):
        _place(request.getfixturevalue(actor), "contact", customer_contact)
    assert not LegalHold.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="governance.hold").exists()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"scope": "planet", "target_id": 1}, "scope"),
        ({"scope": "contact", "target_id": 999999}, "target"),
        ({"scope": "contact", "target_id": "abc"}, "target"),
        ({"scope": "time_range"}, "since"),
        ({"scope": "contact", "matter": " "}, "matter"),
    ],
)
def test_bad_input_is_refused_with_the_field(admin_user, customer_contact, kwargs, field):
    values = {
        "scope": "contact",
        "target_id": customer_contact.pk,
        "matter": "M",
        "reason": "R",
        **kwargs,
    }
    with pytest.raises(Invalid) as refused:
        legal_hold_place(actor=admin_user, **values)
    assert field in refused.value.fields
    assert not LegalHold.objects.exists()


def test_a_range_ending_before_it_starts_is_refused(admin_user):
    now = timezone.now()
    with pytest.raises(Invalid) as refused:
        _place(admin_user, "time_range", since=now, until=now - timedelta(days=1))
    assert "until" in refused.value.fields


def test_under_a_hold_edits_and_retractions_keep_every_word(
    compliance, rep, customer_contact, conversation, record
):
    """Nothing in scope is edited away: an edit keeps the earlier text as a revision, and a
    retraction only hides the message (the record keeps its text)."""
    from comms import services
    from comms.models import MessageRevision

    edited, _, plain = record
    _place(compliance, "contact", customer_contact)
    services.message_edit(
        editor=rep, conversation=conversation, message_id=edited.pk, body="Preço: 130"
    )
    services.message_retract(actor=rep, conversation=conversation, message_id=plain.pk)
    texts = set(MessageRevision.objects.filter(message=edited).values_list("body", flat=True))
    assert texts == {"Preço: 100", "Preço: 120"}
    plain.refresh_from_db()
    assert plain.retracted and plain.body == "See you Monday"
    assert verify()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_placing_a_hold_waits_for_a_purge_in_progress(compliance, customer_contact, rep):
    """The hold check and the purge share one transaction: a hold placed meanwhile commits only
    after the purge did, so no purge can act on a hold it did not see (PostgreSQL; SQLite runs
    one writer at a time)."""
    import threading

    from django.db import connection, connections, transaction

    from comms import services
    from comms.services.purge import messages_purge
    from tests.governance.retention_fixtures import cid

    if connection.vendor != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite serialises every writer")
    conversation = services.conversation_start(actor=rep, contact=customer_contact, subject="S")
    message = services.message_send(
        author=rep, conversation=conversation, body="hello", client_id=cid()
    ).message
    placed = threading.Event()

    def place():
        try:
            _place(compliance, "contact", customer_contact)
            placed.set()
        finally:
            connections.close_all()

    with transaction.atomic():
        result = messages_purge(message_ids=[message.pk])
        worker = threading.Thread(target=place)
        worker.start()
        assert not placed.wait(0.5), "the hold was placed while the purge held its lock"
    worker.join(10)
    assert placed.is_set() and result.messages == [message.pk]
    assert holds_covering_contact(customer_contact)
