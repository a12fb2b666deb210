"""Out-of-office cover in comms: a customer who writes into a waiting conversation of an away
rep, or starts one, reaches the rep's delegate, marked "covering for" the rep, in the inbox, on
the page and in the API; once the cover is over the same goes to the rep again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import cover
from audit.models import AuditEvent
from comms import assignee_routing, errors, permissions, selectors, services
from comms.models import Conversation, Participant
from config import events
from tests.comms.conftest import cid
from tests.crm.factories import ContactFactory
from tests.factories import make_channel_account

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


@pytest.fixture
def away(rep, other_rep):
    """rep is out of office for the next two hours, other_rep covering."""
    now = timezone.now()
    return cover.cover_set(
        actor=rep, user=rep, delegate=other_rep, starts_at=now, ends_at=now + 2 * HOUR
    )


@pytest.fixture
def closed(rep, conversation):
    return services.conversation_set_status(actor=rep, conversation=conversation, status="closed")


def _reply(link, body="Anyone there?"):
    return services.message_receive(link=link, body=body, client_id=cid())


def _at(monkeypatch, instant):
    monkeypatch.setattr(timezone, "now", lambda: instant)


def test_route_assignee(rep, other_rep, away):
    inside = away.starts_at + HOUR
    assert assignee_routing.route_assignee(rep.pk, inside) == (other_rep.pk, rep.pk)
    assert assignee_routing.route_assignee(rep.pk, away.ends_at) == (rep.pk, None)
    assert assignee_routing.route_assignee(other_rep.pk, inside) == (other_rep.pk, None)
    assert assignee_routing.route_assignee(None, inside) == (None, None)


def test_a_reply_reopening_an_away_reps_conversation_goes_to_the_delegate(
    client,
    rep,
    other_rep,
    away,
    closed,
    link_and_token,
    django_capture_on_commit_callbacks,
):
    link, _token = link_and_token
    assert not permissions.can_view(other_rep, closed)
    with events.collect() as outbox, django_capture_on_commit_callbacks(execute=True):
        _reply(link)
    conversation = Conversation.objects.get(pk=closed.pk)
    assert conversation.status == "open"
    assert (conversation.assignee, conversation.covering_for) == (other_rep, rep)
    assert conversation.team_id == other_rep.team_id
    agents = Participant.objects.filter(
        conversation=conversation, role=Participant.Role.AGENT, left_at__isnull=True
    )
    assert set(agents.values_list("user_id", flat=True)) == {rep.pk, other_rep.pk}
    assigned = AuditEvent.objects.get(action="comms.conversation.assigned")
    assert assigned.actor_type == "system"
    assert assigned.data == {
        "from": rep.pk,
        "to": other_rep.pk,
        "covering_for": rep.pk,
        "reason": "cover",
    }
    updates = [e for _g, e in outbox if e["type"] == "conversation.updated"]
    assert len(updates) == 1
    assert updates[0]["conversation"]["assignee"]["id"] == other_rep.pk
    assert updates[0]["conversation"]["covering_for"] == {"id": rep.pk, "name": str(rep)}
    assert any(e["type"] == "inbox.changed" for _g, e in outbox)
    notes = [
        (g, e["payload"])
        for g, e in outbox
        if e["type"] == "notification.message" and e["payload"]["type"] == "conversation.assigned"
    ]
    assert [g for g, _p in notes] == [f"user.{other_rep.pk}"]
    assert notes[0][1]["covering_for"]["id"] == rep.pk

    # The delegate sees it, marked, in the inbox, on the page and in the API.
    listed = list(selectors.conversation_list_for(other_rep))
    assert [c.pk for c in listed] == [conversation.pk]
    client.force_login(other_rep)
    inbox = client.get("/inbox/").content.decode()
    assert 'data-testid="covering-for"' in inbox and f"covering for {rep}" in inbox
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert 'data-testid="conversation-covering-for"' in page and f"Covering for {rep}" in page
    api = client.get("/api/v1/conversations/").json()["results"]
    assert api[0]["covering_for"] == {"id": rep.pk, "name": str(rep)}
    detail = client.get(f"/api/v1/conversations/{conversation.pk}/").json()
    assert detail["covering_for"] == {"id": rep.pk, "name": str(rep)}
    assert detail["assignee"]["id"] == other_rep.pk


def test_after_the_cover_ends_the_same_reply_goes_to_the_rep(
    rep, other_rep, away, closed, link_and_token, monkeypatch
):
    link, _token = link_and_token
    _at(monkeypatch, away.ends_at + timedelta(seconds=1))
    _reply(link)
    conversation = Conversation.objects.get(pk=closed.pk)
    assert conversation.status == "open"
    assert (conversation.assignee_id, conversation.covering_for_id) == (rep.pk, None)
    assert not AuditEvent.objects.filter(action="comms.conversation.assigned").exists()
    assert not permissions.can_view(other_rep, conversation)


def test_a_covered_conversation_comes_back_to_the_rep_once_they_are_back(
    client, rep, other_rep, away, closed, link_and_token, monkeypatch
):
    link, _token = link_and_token
    _reply(link)  # while away: to other_rep
    services.conversation_set_status(actor=other_rep, conversation=closed, status="pending")
    _at(monkeypatch, away.ends_at)
    _reply(link, "Back again")
    conversation = Conversation.objects.get(pk=closed.pk)
    assert (conversation.assignee_id, conversation.covering_for_id) == (rep.pk, None)
    ended = AuditEvent.objects.filter(action="comms.conversation.assigned").latest("seq")
    assert ended.data["reason"] == "cover_ended" and ended.data["to"] == rep.pk
    # The delegate's cover of it is over: no longer an agent, no longer seeing it.
    assert Participant.objects.get(conversation=conversation, user=other_rep).left_at is not None
    assert not permissions.can_view(other_rep, conversation)
    client.force_login(rep)
    assert 'data-testid="covering-for"' not in client.get("/inbox/").content.decode()


def test_a_reply_into_an_open_conversation_stays_with_the_away_rep(
    rep, away, conversation, link_and_token
):
    link, _token = link_and_token
    _reply(link)
    conversation.refresh_from_db()
    assert (conversation.assignee_id, conversation.covering_for_id) == (rep.pk, None)


def test_a_cancelled_cover_routes_nothing(rep, other_rep, away, closed, link_and_token):
    link, _token = link_and_token
    cover.cover_cancel(actor=rep, cover=away)
    _reply(link)
    closed.refresh_from_db()
    assert (closed.assignee_id, closed.covering_for_id) == (rep.pk, None)


def test_reopening_when_nobody_is_away_costs_one_query_more(
    rep, closed, link_and_token, django_assert_max_num_queries
):
    """The routing question is asked only for conversations a reply reopens, once for all."""
    link, _token = link_and_token
    with django_assert_max_num_queries(18) as ctx:
        _reply(link)
    cover_queries = [q for q in ctx.captured_queries if "accounts_cover" in q["sql"]]
    assert len(cover_queries) == 1


def test_a_batch_of_replies_routes_every_reopened_conversation_asking_once(
    rep, other_rep, away, deal, customer_contact
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    links = []
    for n in range(3):
        conversation = services.conversation_start(
            actor=rep, contact=customer_contact, deal=deal, subject=f"c{n}"
        )
        services.conversation_set_status(actor=rep, conversation=conversation, status="closed")
        links.append(services.customer_link_issue(actor=rep, conversation=conversation)[0])
    drafts = [services.customer_draft(link=link, body="hello", client_id=cid()) for link in links]
    with CaptureQueriesContext(connection) as ctx:
        results = services.messages_store(drafts)
    assert all(r.created for r in results)
    # Once for the batch, and once more whether the delegate is away too: not per conversation.
    assert len([q for q in ctx.captured_queries if "accounts_cover" in q["sql"]]) == 2
    routed = Conversation.objects.filter(pk__in=[link.conversation_id for link in links])
    assert {(c.assignee_id, c.covering_for_id, c.status) for c in routed} == {
        (other_rep.pk, rep.pk, "open")
    }


def test_a_channel_reply_is_routed_too(rep, other_rep, away, customer_contact):
    make_channel_account("whatsapp")
    conversation = services.conversation_start(
        actor=rep, contact=customer_contact, kind="whatsapp", subject="wa"
    )
    services.conversation_set_status(actor=rep, conversation=conversation, status="pending")
    services.message_inbound_record(conversation=conversation, body="oi", client_id=cid())
    conversation.refresh_from_db()
    assert (conversation.assignee_id, conversation.covering_for_id) == (other_rep.pk, rep.pk)


def test_the_delegate_away_too_hands_on(rep, other_rep, manager, away, closed, link_and_token):
    now = timezone.now()
    cover.cover_set(
        actor=other_rep, user=other_rep, delegate=manager, starts_at=now, ends_at=now + HOUR
    )
    _reply(link_and_token[0])
    closed.refresh_from_db()
    assert (closed.assignee_id, closed.covering_for_id) == (manager.pk, rep.pk)


# --- a conversation the customer starts ---------------------------------------------------------


def test_open_inbound_goes_to_the_owner_or_their_delegate(
    rep, other_rep, customer_contact, monkeypatch, django_capture_on_commit_callbacks
):
    here = services.conversation_open_inbound(contact=customer_contact, kind="sms")
    assert (here.assignee_id, here.covering_for_id, here.team_id) == (rep.pk, None, rep.team_id)
    now = timezone.now()
    made = cover.cover_set(
        actor=rep, user=rep, delegate=other_rep, starts_at=now + HOUR, ends_at=now + 2 * HOUR
    )
    _at(monkeypatch, made.starts_at)
    with events.collect() as outbox, django_capture_on_commit_callbacks(execute=True):
        covered = services.conversation_open_inbound(
            contact=customer_contact, kind="whatsapp", subject="Hola"
        )
    assert (covered.assignee_id, covered.covering_for_id) == (other_rep.pk, rep.pk)
    roles = dict(Participant.objects.filter(conversation=covered).values_list("role", "user_id"))
    assert roles == {"agent": other_rep.pk, "customer": None}
    created = AuditEvent.objects.filter(action="comms.conversation.created").latest("seq")
    assert created.actor_type == "contact"
    assert created.data["covering_for"] == rep.pk and created.data["inbound"] is True
    assert (f"user.{other_rep.pk}", "notification.message") in [(g, e["type"]) for g, e in outbox]
    assert permissions.can_view(other_rep, covered)
    _at(monkeypatch, made.ends_at)
    after = services.conversation_open_inbound(contact=customer_contact, kind="email")
    assert (after.assignee_id, after.covering_for_id) == (rep.pk, None)


def test_open_inbound_to_a_named_owner_and_bad_input(rep, other_rep, manager, customer_contact):
    to_manager = services.conversation_open_inbound(
        contact=customer_contact, kind="web", owner=manager
    )
    assert to_manager.assignee_id == manager.pk
    gone = ContactFactory(owner=other_rep)
    other_rep.is_active = False
    other_rep.save(update_fields=["is_active"])
    nobody = services.conversation_open_inbound(contact=gone, kind="sms")
    assert nobody.assignee_id is None and nobody.covering_for_id is None
    count = Conversation.objects.count()
    for kind in ("internal", "fax"):
        with pytest.raises(errors.Invalid):
            services.conversation_open_inbound(contact=customer_contact, kind=kind)
    assert Conversation.objects.count() == count
