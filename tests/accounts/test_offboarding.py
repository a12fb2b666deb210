"""Offboarding: a person's whole book moves in one step (accounts.offboarding)."""

import pytest
from django.contrib.auth import get_user_model

from accounts import offboarding
from accounts import services as account_services
from accounts.models import ApiToken, Offboarding, UserSession
from audit.models import AuditEvent
from comms import services
from comms.models import Conversation, Message, Participant
from config.errors import Invalid, NotFound
from crm.models import Company, Contact, Deal
from tests.comms.conftest import ensure_default_pipeline
from tests.crm.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory
from tests.factories import ROLE, make_user

User = get_user_model()


@pytest.fixture
def successor(db, manager, team):
    return make_user(
        ROLE.REP, username="ana", first_name="Ana", last_name="Lima", manager=manager, team=team
    )


@pytest.fixture
def book(db, rep, customer_contact):
    """rep's book: a company with two contacts, an open and a won deal, an open customer
    conversation with a link, a closed one, an open task and a share."""
    ensure_default_pipeline()
    company = CompanyFactory(name="Acme", owner=rep)
    customer_contact.company = company
    customer_contact.save()
    second = ContactFactory(first_name="Beto", owner=rep, company=company)
    open_deal = DealFactory(
        title="Fleet", owner=rep, company=company, primary_contact=customer_contact
    )
    won = DealFactory(title="Old fleet", owner=rep, company=company, status=Deal.Status.WON)
    conversation = services.conversation_start(actor=rep, contact=customer_contact, deal=open_deal)
    services.message_send(
        author=rep,
        conversation=conversation,
        body="Hello Clara",
        client_id="00000000-0000-4000-8000-000000000001",
    )
    link, _secret = services.customer_link_issue(actor=rep, conversation=conversation)
    closed = services.conversation_start(actor=rep, contact=second)
    services.conversation_set_status(actor=rep, conversation=closed, status="closed")
    task = ActivityFactory(kind="task", subject="Call back", author=rep, deal=open_deal)
    return {
        "company": company,
        "contacts": [customer_contact, second],
        "open_deal": open_deal,
        "won": won,
        "conversation": conversation,
        "closed": closed,
        "task": task,
        "link": link,
    }


def plan(actor, leaver, **kwargs):
    return offboarding.offboarding_plan(actor=actor, leaver=leaver, **kwargs)


def test_manager_offboards_a_rep_to_one_successor(manager, rep, successor, book):
    token, _secret = account_services.api_token_create(user=rep, name="laptop")
    UserSession.objects.create(user=rep, session_key="k" * 32)
    result = offboarding.user_offboard(plan(manager, rep, successor=successor))

    assert result.status == Offboarding.Status.DONE
    assert result.counts["companies"] == 1
    assert result.counts["contacts"] == 2
    assert result.counts["deals_open"] == 1 and result.counts["deals_closed"] == 1
    assert result.counts["conversations_open"] == 1
    assert "conversations_closed" not in result.counts
    assert result.counts["activities_open"] == 1
    assert result.counts["continuity_messages"] == 1
    for model in (Company, Contact, Deal):
        assert not model.objects.filter(owner=rep).exists()
    conversation = Conversation.objects.get(pk=book["conversation"].pk)
    assert conversation.assignee_id == successor.pk
    # a closed conversation keeps its history with the leaver ...
    assert Conversation.objects.get(pk=book["closed"].pk).assignee_id == rep.pk
    assert not Participant.objects.filter(user=rep, left_at__isnull=True).exists()
    assert Participant.objects.filter(
        conversation=conversation, user=successor, left_at__isnull=True, role="agent"
    ).exists()
    last = Message.objects.filter(conversation=conversation).order_by("-seq").first()
    assert last.direction == Message.Direction.SYSTEM
    assert last.body == "Ana Lima will continue this conversation."
    # history stays attributed to the leaver
    assert Message.objects.filter(conversation=conversation, author_user=rep).count() == 1
    book["task"].refresh_from_db()
    assert book["task"].author_id == successor.pk
    rep.refresh_from_db()
    assert not rep.is_active
    assert not UserSession.objects.filter(user=rep, ended_at__isnull=True).exists()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("accounts.user.offboarded") == 1
    assert actions.count("crm.contact.reassigned") == 2
    assert actions.count("crm.deal.reassigned") == 2
    assert actions.count("comms.conversation.assigned") == 1
    assert "accounts.user.deactivated" in actions


def test_dry_run_changes_nothing(manager, rep, successor, book):
    before = AuditEvent.objects.count()
    preview = offboarding.user_offboard_preview(plan(manager, rep, successor=successor))
    assert preview.counts["contacts"] == 2
    assert preview.continuity == [
        {
            "conversation": book["conversation"].pk,
            "customer": "Clara Cliente",
            "successor": "Ana Lima",
        }
    ]
    assert AuditEvent.objects.count() == before
    rep.refresh_from_db()
    assert rep.is_active
    assert Contact.objects.filter(owner=rep).count() == 2
    assert not Offboarding.objects.exists()


def test_running_a_finished_offboarding_again_changes_nothing(manager, rep, successor, book):
    first = offboarding.user_offboard(plan(manager, rep, successor=successor))
    events = AuditEvent.objects.count()
    messages = Message.objects.count()
    again = offboarding.user_offboard(plan(manager, rep, successor=successor))
    assert again.pk == first.pk
    assert AuditEvent.objects.count() == events
    assert Message.objects.count() == messages


def test_who_may_offboard(rep, other_rep, manager, admin_user, successor, book):
    with pytest.raises(NotFound):
        plan(rep, other_rep, successor=successor)
    with pytest.raises(NotFound):  # other_rep reports to nobody: outside the manager's subtree
        plan(manager, other_rep, successor=successor)
    with pytest.raises(NotFound):
        plan(manager, manager, successor=successor)
    assert offboarding.user_offboard(plan(admin_user, rep, successor=successor)).status == "done"


def test_a_failure_midway_changes_nothing_and_is_recorded(
    manager, rep, successor, book, monkeypatch
):
    from comms.book import CommsBook

    def broken(self, handover):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(CommsBook, "hand_over", broken)
    with pytest.raises(offboarding.OffboardingFailed):
        offboarding.user_offboard(plan(manager, rep, successor=successor))
    assert Contact.objects.filter(owner=rep).count() == 2
    rep.refresh_from_db()
    assert rep.is_active
    failed = Offboarding.objects.get()
    assert failed.status == "failed" and "disk on fire" in failed.error


def test_deactivation_is_refused_while_the_person_holds_records(admin_user, rep, book):
    rep.is_active = False
    with pytest.raises(Invalid) as refused:
        account_services.user_save(actor=admin_user, user=rep)
    assert "still holds records" in str(refused.value.as_dict())
    rep.refresh_from_db()
    assert rep.is_active


def test_successor_must_be_able_to_take_it(manager, rep, other_rep, compliance, book):
    with pytest.raises(Invalid):
        plan(manager, rep, successor=compliance)
    with pytest.raises(Invalid):  # other_rep does not report to the manager
        plan(manager, rep, successor=other_rep)
    with pytest.raises(Invalid):
        plan(manager, rep, successor=rep)


def test_the_page_previews_then_offboards(client, manager, rep, successor, book):
    client.force_login(manager)
    url = f"/people/{rep.pk}/offboard/"
    page = client.get(url)
    assert page.status_code == 200
    # The successor is searched for, not listed (accounts.people_search "successor").
    assert "Ana Lima" not in page.content.decode()
    found = client.get(f"/api/v1/people/?purpose=successor&target={rep.pk}&q=lima").json()
    assert [row["id"] for row in found["results"]] == [successor.pk]
    preview = client.post(url, {"mode": "one", "successor": successor.pk, "action": "preview"})
    body = preview.content.decode()
    assert preview.status_code == 200 and 'data-testid="preview"' in body
    assert "Clara Cliente" in body
    rep.refresh_from_db()
    assert rep.is_active
    done = client.post(url, {"mode": "one", "successor": successor.pk, "action": "confirm"})
    assert done.status_code == 302
    rep.refresh_from_db()
    assert not rep.is_active
    assert client.get("/people/").status_code == 200


def test_the_page_is_missing_for_people_outside_reach(client, rep, other_rep, manager):
    client.force_login(rep)
    assert client.get(f"/people/{other_rep.pk}/offboard/").status_code == 404
    assert client.get("/people/").status_code == 404
    client.force_login(manager)
    assert client.get(f"/people/{other_rep.pk}/offboard/").status_code == 404


def test_the_api_previews_and_offboards(client, manager, rep, other_rep, successor, book):
    client.force_login(manager)
    url = f"/api/v1/users/{rep.pk}/offboard/"
    dry = client.post(
        url, {"successor": successor.pk, "dry_run": True}, content_type="application/json"
    )
    assert dry.status_code == 200 and dry.json()["counts"]["contacts"] == 2
    assert dry.json()["offboarding"] is None
    bad = client.post(url, {"successor": rep.pk}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["fields"]["successor"]
    done = client.post(url, {"successor": successor.pk}, content_type="application/json")
    assert done.status_code == 200 and done.json()["offboarding"]["status"] == "done"
    client.force_login(other_rep)
    assert (
        client.post(
            f"/api/v1/users/{manager.pk}/offboard/",
            {"successor": other_rep.pk},
            content_type="application/json",
        ).status_code
        == 404
    )


def test_the_command_offboards_and_dry_runs(admin_user, rep, successor, book):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "offboard_user",
        rep.username,
        "--to",
        successor.username,
        "--dry-run",
        "--actor",
        admin_user.username,
        stdout=out,
    )
    assert "contacts: 2" in out.getvalue()
    rep.refresh_from_db()
    assert rep.is_active
    call_command(
        "offboard_user",
        rep.username,
        "--to",
        successor.username,
        "--actor",
        admin_user.username,
        stdout=out,
    )
    rep.refresh_from_db()
    assert not rep.is_active
    assert not Contact.objects.filter(owner=rep).exists()


def test_the_book_can_go_to_the_teams_unassigned_queue(client, manager, rep, team, book):
    team.lead = manager
    team.save()
    result = offboarding.user_offboard(plan(manager, rep, mode="queue"))
    assert result.status == "done"
    conversation = Conversation.objects.get(pk=book["conversation"].pk)
    assert conversation.assignee_id is None and conversation.team_id == team.pk
    assert Contact.objects.filter(owner=manager).count() == 2  # the lead holds the records
    last = Message.objects.filter(conversation=conversation).order_by("-seq").first()
    assert "Field sales" in last.body
    client.force_login(manager)
    inbox = client.get("/inbox/").content.decode()
    assert 'data-testid="unassigned-queue"' in inbox and "Clara Cliente" in inbox


def test_round_robin_across_a_team_and_a_split_by_deal(manager, rep, successor, team, book):
    third = make_user(ROLE.REP, username="bia", manager=manager, team=team)
    handover = plan(
        manager,
        rep,
        mode="by_deal",
        successor=successor,
        split={"deals": {str(book["open_deal"].pk): third.pk}},
    )
    offboarding.user_offboard(handover)
    assert Deal.objects.get(pk=book["open_deal"].pk).owner_id == third.pk
    assert Deal.objects.get(pk=book["won"].pk).owner_id == successor.pk
    # the conversation follows its deal
    assert Conversation.objects.get(pk=book["conversation"].pk).assignee_id == third.pk


def test_round_robin_shares_the_book_across_the_team(manager, rep, successor, team, book):
    third = make_user(ROLE.REP, username="bia", manager=manager, team=team)
    offboarding.user_offboard(plan(manager, rep, mode="round_robin", team=team.pk))
    owners = set(Contact.objects.values_list("owner_id", flat=True))
    assert rep.pk not in owners
    assert owners <= {successor.pk, third.pk, manager.pk}


def test_the_admin_refuses_to_deactivate_someone_who_holds_records(client, admin_user, rep, book):
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/user/",
        {"action": "deactivate_people", "_selected_action": [rep.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "still holds records" in response.content.decode()
    rep.refresh_from_db()
    assert rep.is_active


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_managers_offboarding_the_same_person_at_once_make_one_offboarding(
    manager, director, rep, successor, book
):
    import threading

    from django.db import connection

    runs = [manager, director]
    barrier = threading.Barrier(len(runs))
    answers, errors = [], []

    def run(actor):
        try:
            handover = plan(actor, User.objects.get(pk=rep.pk), successor=successor)
            barrier.wait(timeout=10)
            answers.append(offboarding.user_offboard(handover).pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(actor,)) for actor in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    done = Offboarding.objects.get()
    assert answers == [done.pk, done.pk]
    conversation = book["conversation"]
    assert Message.objects.filter(conversation=conversation, direction="system").count() == 1
    assert AuditEvent.objects.filter(action="accounts.user.offboarded").count() == 1


def test_the_successor_sees_everything_and_the_leaver_nothing(
    client, manager, rep, successor, book
):
    offboarding.user_offboard(plan(manager, rep, successor=successor))
    client.force_login(successor)
    conversation = book["conversation"]
    assert client.get(f"/deals/{book['open_deal'].pk}/").status_code == 200
    assert client.get(f"/contacts/{book['contacts'][0].pk}/").status_code == 200
    assert client.get(f"/companies/{book['company'].pk}/").status_code == 200
    deals = client.get("/api/v1/deals/").json()
    assert {d["id"] for d in deals["results"]} >= {book["open_deal"].pk, book["won"].pk}
    assert client.get(f"/api/v1/conversations/{conversation.pk}/").status_code == 200
    inbox = client.get("/inbox/?box=mine").content.decode()
    assert f"/conversations/{conversation.pk}/" in inbox
    assert client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"body": "Hi Clara, Ana here", "client_id": "00000000-0000-4000-8000-0000000000aa"},
        content_type="application/json",
    ).status_code in (200, 201)
    # the leaver: signed out of everything, and no road in (sessions, tokens) is left
    client.force_login(rep)
    assert client.get(f"/deals/{book['open_deal'].pk}/").status_code in (302, 404)
    assert client.get(f"/api/v1/conversations/{conversation.pk}/").status_code in (401, 403, 404)


def test_a_customer_reviving_a_closed_conversation_reaches_the_successor(
    manager, rep, successor, book
):
    offboarding.user_offboard(plan(manager, rep, successor=successor))
    closed = Conversation.objects.get(pk=book["closed"].pk)
    link, _secret = services.customer_link_issue(actor=successor, conversation=closed)
    services.message_receive(
        link=link, body="Hello again", client_id="00000000-0000-4000-8000-0000000000bb"
    )
    closed.refresh_from_db()
    assert closed.status == "open"
    assert closed.assignee_id == successor.pk
