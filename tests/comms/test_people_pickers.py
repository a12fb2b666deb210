"""People and team pickers (issue 16, point 2): /api/v1/people/ searches exactly whom each form
accepts, the forms accept exactly that, and no page lists the organisation any more."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import roles
from accounts.models import Team
from comms import services as comms_services
from governance.models import ReviewItem
from governance.services import review as review_services
from tests.crm.factories import CompanyFactory
from tests.factories import TeamFactory, make_user

URL = "/api/v1/people/"


def search(client, **params):
    return client.get(URL, params)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def grow_org(n: int, start: int = 0) -> None:
    """n more active people named "Pickerton<i>", in a team named "Outfield <i // 10>"."""
    for i in range(start, start + n):
        team = Team.objects.filter(name=f"Outfield {i // 10}").first() or TeamFactory(
            name=f"Outfield {i // 10}"
        )
        make_user(
            roles.REP,
            username=f"pick{i}",
            first_name="Zebulon",
            last_name=f"Pickerton{i}",
            team=team,
        )


@pytest.fixture
def ana(db):
    return make_user(
        roles.REP, username="alima", first_name="Ana", last_name="Lima", email="ana@corp.example"
    )


@pytest.fixture
def gone(db):
    return make_user(
        roles.REP, username="gone", first_name="Ana", last_name="Gone", is_active=False
    )


# --- the endpoint -----------------------------------------------------------------------------


def test_signed_out_callers_are_refused(client, deal):
    response = search(client, q="ana", purpose="owner")
    assert response.status_code in (401, 403)


def test_owner_search_matches_names_username_email_and_team(client, rep, ana, gone, team):
    client.force_login(rep)
    assert ids(search(client, q="LIMA", purpose="owner")) == [ana.pk]
    assert ids(search(client, q="alim", purpose="owner")) == [ana.pk]
    assert ids(search(client, q="ana@corp", purpose="owner")) == [ana.pk]
    assert ids(search(client, q="ana lim", purpose="owner")) == [ana.pk]
    # Inactive people are not offered: the owner field refuses them.
    assert gone.pk not in ids(search(client, q="ana", purpose="owner"))
    # A team's name finds its members.
    members = ids(search(client, q=team.name[:5].lower(), purpose="owner"))
    assert rep.pk in members and ana.pk not in members
    row = search(client, q="lima", purpose="owner").json()["results"][0]
    assert row == {
        "id": ana.pk,
        "value": f"user:{ana.pk}",
        "label": "Ana Lima",
        "kind": "person",
        "secondary": "@alima",
    }


def test_at_most_twenty_matches(client, rep):
    grow_org(25)
    client.force_login(rep)
    assert len(ids(search(client, q="pickerton", purpose="owner"))) == 20


@pytest.mark.parametrize(
    "params",
    [
        {"purpose": "owner"},  # no q
        {"q": "", "purpose": "owner"},
        {"q": "ana"},  # no purpose
        {"q": "ana", "purpose": "everyone"},
        {"q": "ana", "purpose": "owner", "kind": "robot"},
        {"q": "a" * 101, "purpose": "owner"},
    ],
)
def test_bad_parameters_are_a_400(client, rep, params):
    client.force_login(rep)
    response = search(client, **params)
    assert response.status_code == 400
    assert response.json()


def test_share_offers_active_people_and_live_teams_to_who_may_share(
    client, rep, other_rep, ana, gone, deal
):
    live = TeamFactory(name="Anaconda squad")
    archived = TeamFactory(name="Anaheim old", archived_at=timezone.now())
    client.force_login(rep)
    rows = search(client, q="ana", purpose="share", kind="any", target=f"deals:{deal.pk}")
    found = {(row["kind"], row["id"]) for row in rows.json()["results"]}
    assert ("person", ana.pk) in found and ("team", live.pk) in found
    assert ("person", gone.pk) not in found and ("team", archived.pk) not in found
    # Teams only, people only.
    teams = search(client, q="ana", purpose="share", kind="team", target=f"deals:{deal.pk}")
    assert {row["kind"] for row in teams.json()["results"]} == {"team"}
    # other_rep cannot share rep's deal: the picker tells them nothing.
    client.force_login(other_rep)
    for target in (f"deals:{deal.pk}", "deals:999999", "nonsense", ""):
        response = search(client, q="ana", purpose="share", kind="any", target=target)
        assert response.status_code == 404


def test_assign_and_member_need_the_right_to_do_it(client, rep, other_rep, ana, conversation):
    client.force_login(rep)
    assert ids(search(client, q="lima", purpose="assign", target=conversation.pk)) == [ana.pk]
    # Members are for internal conversations.
    assert search(client, q="lima", purpose="member", target=conversation.pk).status_code == 404
    internal = comms_services.internal_conversation_create(actor=rep, subject="Team")
    assert ids(search(client, q="lima", purpose="member", target=internal.pk)) == [ana.pk]
    client.force_login(other_rep)
    assert search(client, q="lima", purpose="assign", target=conversation.pk).status_code == 404
    assert search(client, q="lima", purpose="member", target=internal.pk).status_code == 404


def test_rep_filter_offers_only_people_in_the_queue_to_reviewers(
    client, compliance, rep, other_rep, conversation
):
    ReviewItem.objects.create(
        conversation=conversation,
        reason="sample",
        rep=rep,
        week=review_services.week_of(timezone.now()),
    )
    client.force_login(compliance)
    assert ids(search(client, q="rep", purpose="rep")) == [rep.pk]
    client.force_login(rep)
    assert search(client, q="rep", purpose="rep").status_code == 404


def test_search_participant_offers_everyone_ever_to_console_users_only(
    client, compliance, rep, gone
):
    client.force_login(compliance)
    # Past conversations name people who left: the console's filter finds them too.
    assert ids(search(client, q="gone", purpose="participant")) == [gone.pk]
    page = client.get("/compliance/search/", {"q": "x", "participant": gone.pk})
    assert page.status_code == 200 and "Ana Gone" in page.content.decode()
    refused = client.get("/compliance/search/", {"q": "x", "participant": "nobody"})
    assert "Choose someone from the list." in refused.content.decode()
    client.force_login(rep)
    assert search(client, q="gone", purpose="participant").status_code == 404


def test_successor_offers_the_managers_subtree_only(client, manager, rep, other_rep, ana):
    client.force_login(manager)
    target = rep.pk
    assert ids(search(client, q="rep", purpose="successor", target=target)) == []  # not the leaver
    assert ids(search(client, q="manager", purpose="successor", target=target)) == [manager.pk]
    assert ids(search(client, q="lima", purpose="successor", target=target)) == []  # not below
    client.force_login(other_rep)
    assert search(client, q="man", purpose="successor", target=target).status_code == 404


def test_search_costs_the_same_queries_at_two_headcounts(client, rep, deal):
    client.force_login(rep)
    counts = []
    for size, start in ((5, 0), (60, 5)):
        grow_org(size, start)
        searches = [
            {"q": "pick", "purpose": "owner"},
            {"q": "pick", "purpose": "share", "kind": "any", "target": f"deals:{deal.pk}"},
        ]
        for params in searches:
            search(client, **params)  # warm caches
        with CaptureQueriesContext(connection) as ctx:
            for params in searches:
                assert search(client, **params).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]
    assert counts[1] <= 20


# --- the forms accept exactly whom the pickers offer ------------------------------------------


def test_share_form_takes_an_id_or_a_username_and_refuses_the_rest(client, rep, ana, gone, deal):
    client.force_login(rep)
    url = f"/deals/{deal.pk}/share/"
    response = client.post(url, {"who": f"user:{ana.pk}", "level": "view"}, follow=True)
    assert response.status_code == 200
    assert any(share["who"] == f"user:{ana.pk}" for share in response.context["shares"])
    # Without JavaScript a username typed in works too.
    team = TeamFactory(name="Night shift")
    client.post(url, {"who": "night shift", "level": "change"})
    from crm import selectors

    shares = selectors.record_shares_for(rep, deal)
    assert {s["who"] for s in shares} == {f"user:{ana.pk}", f"team:{team.pk}"}
    # "¹" and "٣" are digits to str.isdigit but not to int(): refused like any other name.
    for bad in (
        f"user:{gone.pk}",
        "user:99999999",
        "gone",
        "team:abc",
        "x" * 300,
        "",
        "¹",
        "user:٣",
    ):
        page = client.post(url, {"who": bad, "level": "view"}, follow=True)
        assert page.status_code == 200
        assert "Choose a person or a team" in page.content.decode()
    archived = TeamFactory(name="Closed", archived_at=timezone.now())
    client.post(url, {"who": f"team:{archived.pk}", "level": "view"})
    assert len(selectors.record_shares_for(rep, deal)) == 2


def test_deal_form_owner_takes_an_offered_person_only(client, admin_user, rep, ana, gone, deal):
    client.force_login(admin_user)
    url = f"/deals/{deal.pk}/edit/"
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    # The current owner is shown by name, and nobody else is listed.
    assert f'value="{rep.pk}"' in body and str(rep) in body
    assert "Ana Lima" not in body
    data = {
        "title": deal.title,
        "stage": deal.stage_id,
        "amount": "10",
        "currency": "USD",
        "owner": str(gone.pk),
        "tags": "",
        "confirm_reassign": "on",
    }
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "Choose someone from the list." in refused.content.decode()
    deal.refresh_from_db()
    assert deal.owner_id == rep.pk
    client.post(url, {**data, "owner": str(ana.pk)})
    deal.refresh_from_db()
    assert deal.owner_id == ana.pk


def test_conversation_assign_and_member_add_refuse_who_is_not_offered(
    client, rep, ana, gone, conversation
):
    client.force_login(rep)
    url = f"/conversations/{conversation.pk}/action/"
    client.post(url, {"action": "assign", "assignee": str(gone.pk)})
    conversation.refresh_from_db()
    assert conversation.assignee_id == rep.pk
    client.post(url, {"action": "assign", "assignee": "abc"})
    conversation.refresh_from_db()
    assert conversation.assignee_id == rep.pk
    client.post(url, {"action": "assign", "assignee": str(ana.pk)})
    conversation.refresh_from_db()
    assert conversation.assignee_id == ana.pk
    internal = comms_services.internal_conversation_create(actor=rep, subject="Team")
    url = f"/conversations/{internal.pk}/action/"
    response = client.post(url, {"action": "member-add", "user": str(gone.pk)}, follow=True)
    assert "Choose an active person." in response.content.decode()
    client.post(url, {"action": "member-add", "user": str(ana.pk)})
    assert internal.participants.filter(user=ana).exists()


# --- pages no longer list the organisation ----------------------------------------------------


@pytest.fixture
def pages(rep, compliance, customer_contact, deal, conversation):
    company = CompanyFactory(name="Acme", owner=rep)
    internal = comms_services.internal_conversation_create(actor=rep, subject="Team")
    ReviewItem.objects.create(
        conversation=conversation,
        reason="sample",
        rep=rep,
        week=review_services.week_of(timezone.now()),
    )
    return [
        (rep, f"/deals/{deal.pk}/"),
        (rep, f"/contacts/{customer_contact.pk}/"),
        (rep, f"/companies/{company.pk}/"),
        (rep, "/deals/"),
        (rep, "/deals/board/"),
        (rep, f"/conversations/{conversation.pk}/"),
        (rep, f"/conversations/{internal.pk}/"),
        (rep, f"/deals/{deal.pk}/edit/"),
        (compliance, "/compliance/review/"),
        (compliance, "/compliance/search/"),
        (rep, "/cover/"),
    ]


def test_pages_do_not_list_the_organisation(client, pages):
    counts: dict[str, list[int]] = {}
    for size, start in ((5, 0), (60, 5)):
        grow_org(size, start)
        for user, url in pages:
            client.force_login(user)
            client.get(url)  # warm caches
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(url)
            assert response.status_code == 200, url
            body = response.content.decode()
            assert "Pickerton" not in body and "Outfield" not in body, url
            assert "data-picker" in body, url
            counts.setdefault(url, []).append(len(ctx))
    assert {url: n for url, n in counts.items() if n[0] != n[1]} == {}


def test_a_filter_shows_the_chosen_owner_only_when_offered(client, rep, ana, gone):
    client.force_login(rep)
    body = client.get(f"/deals/?owner={ana.pk}").content.decode()
    assert "Ana Lima" in body and f'value="{ana.pk}"' in body
    body = client.get(f"/deals/?owner={gone.pk}").content.decode()
    assert "Ana Gone" not in body
    for bad in ("abc", "-1", "99999999999999999999999"):
        assert client.get(f"/deals/?owner={bad}").status_code in (200, 400)
        assert client.get(f"/deals/board/?owner={bad}").status_code == 200
