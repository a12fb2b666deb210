"""The board moves deals (with or without JavaScript) and the deal page tells what happened."""

from crm import services
from tests.crm.factories import ActivityFactory, DealFactory


def test_board_lists_deals_by_stage_and_moves_one(client, rep):
    deal = DealFactory(owner=rep, title="Board deal")
    proposal = deal.pipeline.stages.get(name="Proposal")
    client.force_login(rep)
    board = client.get("/deals/board/")
    assert board.status_code == 200
    assert b"Board deal" in board.content and b'data-testid="stage-proposal"' in board.content
    response = client.post(
        f"/deals/{deal.pk}/move/", {"stage": proposal.pk, "next": "/deals/board/"}
    )
    assert response.status_code == 302 and response["Location"] == "/deals/board/"
    deal.refresh_from_db()
    assert deal.stage == proposal
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "moved the deal from New to Proposal" in page


def test_board_move_answers_json_for_the_script(client, rep):
    deal = DealFactory(owner=rep)
    won = deal.pipeline.stages.get(is_won=True)
    client.force_login(rep)
    response = client.post(
        f"/deals/{deal.pk}/move/", {"stage": won.pk}, HTTP_ACCEPT="application/json"
    )
    assert response.json() == {"id": deal.pk, "stage": won.pk, "status": "won"}


def test_next_must_stay_on_this_site(client, rep):
    deal = DealFactory(owner=rep)
    client.force_login(rep)
    response = client.post(
        f"/deals/{deal.pk}/move/", {"stage": deal.stage_id, "next": "https://evil.example/"}
    )
    assert response["Location"] == deal.get_absolute_url()


def test_timeline_mixes_activities_and_ledger_events(client, rep, manager):
    deal = services.deal_create(
        actor=rep, title="T", stage=DealFactory(owner=rep).pipeline.stages.first()
    )
    ActivityFactory(deal=deal, author=rep, subject="Called the buyer")
    services.deal_update(actor=manager, deal=deal, owner=manager, title="T2")
    client.force_login(manager)
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "created the deal at stage New" in page
    assert "Called the buyer" in page
    assert "gave the deal from" in page and str(manager) in page
    assert 'data-testid="conversations"' in page


def test_deal_form_creates_and_shows_field_errors(client, rep):
    stage = DealFactory(owner=rep).stage
    client.force_login(rep)
    response = client.post(
        "/deals/new/", {"title": "", "stage": stage.pk, "amount": "-1", "currency": "dollars"}
    )
    assert response.status_code == 200
    for name in ("title", "amount", "currency"):
        assert f'data-testid="error-{name}"'.encode() in response.content
    response = client.post(
        "/deals/new/", {"title": "New one", "stage": stage.pk, "amount": "5", "currency": "brl"}
    )
    assert response.status_code == 302


def test_company_and_contact_forms(client, rep):
    client.force_login(rep)
    response = client.post("/companies/new/", {"name": "Acme", "phone": "+1 415 555 2671"})
    assert response.status_code == 302
    company_url = response["Location"]
    response = client.post(company_url + "edit/", {"name": "", "phone": "12"})
    assert b'data-testid="error-name"' in response.content
    assert b'data-testid="error-phone"' in response.content
    response = client.post(
        "/contacts/new/",
        {
            "first_name": "Ana",
            "emails": "ana@acme.example\nANA2@acme.example",
            "preferred_channel": "whatsapp",
            "lifecycle_stage": "customer",
            "tags": "vip, partner",
        },
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "ana2@acme.example" in page and "vip" in page


def test_list_filters_and_sorting(client, rep, other_rep):
    from guardian.shortcuts import assign_perm

    a = DealFactory(owner=rep, title="Apple", amount=5)
    b = DealFactory(owner=other_rep, title="Banana", amount=50)
    assign_perm("crm.view_deal", rep, b)
    client.force_login(rep)
    body = client.get("/deals/", {"owner": other_rep.pk}).content.decode()
    assert "Banana" in body and "Apple" not in body
    body = client.get("/deals/", {"sort": "amount"}).content.decode()
    assert body.index("Banana") < body.index("Apple")
    body = client.get("/deals/", {"q": "app"}).content.decode()
    assert "Apple" in body and "Banana" not in body
    services.deal_update(actor=rep, deal=a, tags=["hot"])
    body = client.get("/deals/", {"tag": "hot"}).content.decode()
    assert "Apple" in body and "Banana" not in body
