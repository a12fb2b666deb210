"""Quick replies: kept per user and per team, picked in the composer with their variables filled
in for the conversation."""

import pytest

from accounts import roles
from audit.models import AuditEvent
from comms import selectors, services
from comms.models import QuickReply
from tests.factories import TeamFactory, make_user


@pytest.fixture
def other_team_manager(db):
    other = TeamFactory(name="Inside sales")
    return make_user(roles.MANAGER, username="other_manager", team=other)


@pytest.fixture
def team_reply(db, team):
    return QuickReply.objects.create(team=team, title="price", body="Our price list, {first_name}.")


@pytest.fixture
def own_reply(db, rep):
    return QuickReply.objects.create(
        owner=rep, title="hello", body="Hi {first_name} {last_name}, {my_name} here about {deal}."
    )


def url(conversation):
    return f"/api/v1/conversations/{conversation.pk}/quick-replies/"


def test_composer_list_fills_in_the_contact_deal_and_writer(client, rep, conversation, own_reply):
    rep.first_name, rep.last_name = "Rita", "Ramos"
    rep.save(update_fields=["first_name", "last_name"])
    client.force_login(rep)
    body = client.get(url(conversation)).json()
    assert body["results"] == [
        {
            "id": own_reply.pk,
            "title": "hello",
            "body": "Hi Clara Cliente, Rita Ramos here about Fleet renewal.",
            "team": None,
        }
    ]


def test_unknown_variables_stay_as_written(client, rep, conversation):
    QuickReply.objects.create(owner=rep, title="x", body="{first_name} {nickname} {company}")
    client.force_login(rep)
    (row,) = client.get(url(conversation)).json()["results"]
    assert row["body"] == "Clara {nickname} "


def test_team_replies_reach_the_team_but_not_another_team(
    client, rep, conversation, team_reply, own_reply, other_team_manager, manager
):
    client.force_login(rep)
    titles = [r["title"] for r in client.get(url(conversation)).json()["results"]]
    assert titles == ["hello", "price"]
    # A colleague of the same team gets the team's reply, not the rep's own.
    client.force_login(manager)
    titles = [r["title"] for r in client.get(url(conversation)).json()["results"]]
    assert titles == ["price"]
    # Another team's manager gets neither, in any conversation.
    assert not selectors.quick_replies_usable_by(other_team_manager).exists()


def test_conversation_one_cannot_read_is_404(client, other_team_manager, conversation, own_reply):
    client.force_login(other_team_manager)
    response = client.get(url(conversation))
    assert response.status_code == 404
    assert "Clara" not in response.content.decode()


def test_unknown_conversation_is_404_and_bad_id_never_500(client, rep, conversation):
    client.force_login(rep)
    assert client.get("/api/v1/conversations/999999/quick-replies/").status_code == 404
    assert client.get("/api/v1/conversations/99999999999999999999/quick-replies/").status_code in (
        400,
        404,
    )


def test_composer_list_costs_the_same_with_more_replies(
    client, rep, conversation, team, django_assert_max_num_queries
):
    client.force_login(rep)
    QuickReply.objects.create(owner=rep, title="a", body="{company}")
    with django_assert_max_num_queries(9):
        assert len(client.get(url(conversation)).json()["results"]) == 1
    for n in range(20):
        QuickReply.objects.create(owner=rep, title=f"o{n}", body="{first_name}")
        QuickReply.objects.create(team=team, title=f"t{n}", body="{deal}")
    with django_assert_max_num_queries(9):
        assert len(client.get(url(conversation)).json()["results"]) == 41


# --- who keeps which ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, own, same_team, other_team",
    [
        ("rep", True, False, False),
        ("other_rep", False, False, False),
        ("manager", False, True, False),
        ("other_team_manager", False, False, True),
        ("admin_user", False, True, True),
        ("compliance", False, False, False),
    ],
)
def test_who_may_change_which_reply(
    request, client, rep, team, other_team_manager, who, own, same_team, other_team
):
    actor = request.getfixturevalue(who)
    replies = {
        "own": QuickReply.objects.create(owner=rep, title="own", body="a"),
        "same_team": QuickReply.objects.create(team=team, title="team", body="b"),
        "other_team": QuickReply.objects.create(
            team=other_team_manager.team, title="other", body="c"
        ),
    }
    expected = {"own": own, "same_team": same_team, "other_team": other_team}
    client.force_login(actor)
    for name, reply in replies.items():
        page = client.get(f"/quick-replies/{reply.pk}/")
        assert page.status_code == (200 if expected[name] else 404), name
        changed = client.post(f"/quick-replies/{reply.pk}/", {"title": "new", "body": "changed"})
        assert changed.status_code == (302 if expected[name] else 404), name
        reply.refresh_from_db()
        assert (reply.body == "changed") is expected[name], name


def test_rep_creates_own_reply_and_cannot_pick_a_team(client, rep, team):
    client.force_login(rep)
    page = client.get("/quick-replies/")
    assert 'name="keeper"' not in page.content.decode()
    response = client.post("/quick-replies/", {"title": "/hi", "body": "Hi {first_name}"})
    assert response.status_code == 302
    reply = QuickReply.objects.get()
    assert (reply.owner, reply.team, reply.title) == (rep, None, "hi")
    event = AuditEvent.objects.get(action="comms.quick_reply.created")
    assert event.actor_id == rep.pk
    assert "/hi" in client.get("/quick-replies/").content.decode()


def test_manager_creates_a_team_reply(client, manager, team, rep, conversation):
    client.force_login(manager)
    response = client.post(
        "/quick-replies/", {"title": "bye", "body": "Bye {first_name}", "keeper": str(team.pk)}
    )
    assert response.status_code == 302
    assert QuickReply.objects.get().team == team
    client.force_login(rep)
    (row,) = client.get(url(conversation)).json()["results"]
    assert (row["body"], row["team"]) == ("Bye Clara", "Field sales")


def test_manager_cannot_create_for_another_team(client, manager, other_team_manager):
    client.force_login(manager)
    response = client.post(
        "/quick-replies/",
        {"title": "x", "body": "y", "keeper": str(other_team_manager.team_id)},
    )
    assert response.status_code == 400
    assert not QuickReply.objects.exists()


def test_service_refuses_a_team_reply_without_rights_and_writes_nothing(rep, team):
    from config.errors import ServiceError

    with pytest.raises(ServiceError) as refused:
        services.quick_reply_create(actor=rep, title="x", body="y", team=team)
    assert refused.value.status == 403
    assert not QuickReply.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="comms.quick_reply").exists()


@pytest.mark.parametrize(
    "data, field",
    [({"title": "", "body": "x"}, "title"), ({"title": "a", "body": "   "}, "body")],
)
def test_empty_shortcut_or_text_is_refused_with_a_message(client, rep, data, field):
    client.force_login(rep)
    response = client.post("/quick-replies/", data)
    assert response.status_code == 400
    assert f'data-testid="error-{field}"' in response.content.decode()
    assert not QuickReply.objects.exists()


def test_deleting_someone_elses_reply_is_404(client, other_rep, own_reply):
    client.force_login(other_rep)
    assert client.post(f"/quick-replies/{own_reply.pk}/delete/").status_code == 404
    assert QuickReply.objects.filter(pk=own_reply.pk).exists()


def test_owner_deletes_their_reply_audited(client, rep, own_reply):
    client.force_login(rep)
    assert client.post(f"/quick-replies/{own_reply.pk}/delete/").status_code == 302
    assert not QuickReply.objects.exists()
    assert AuditEvent.objects.filter(action="comms.quick_reply.deleted").count() == 1


def test_compliance_sees_an_empty_list_and_no_form(client, compliance, conversation, own_reply):
    client.force_login(compliance)
    assert client.get(url(conversation)).json()["results"] == []
    page = client.get("/quick-replies/").content.decode()
    assert "quick-reply-form" not in page
