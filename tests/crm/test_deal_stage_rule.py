"""A deal's stage belongs to its pipeline, whichever interface changes it (issue 10, point B).

The rule lived in the API and the board's move only: the service and the page form let a deal
jump to another pipeline's stage."""

from decimal import Decimal

import pytest

from audit.models import AuditEvent
from config.errors import Invalid
from crm import services
from crm.models import Pipeline, Stage
from tests.crm.factories import DealFactory


@pytest.fixture
def foreign_stage(db) -> Stage:
    pipeline = Pipeline.objects.create(name="Renewals")
    return Stage.objects.create(pipeline=pipeline, name="Renewal due", position=1)


def _unchanged(deal) -> None:
    stage_id, pipeline_id = deal.stage_id, deal.pipeline_id
    deal.refresh_from_db()
    assert (deal.stage_id, deal.pipeline_id) == (stage_id, pipeline_id)


def test_deal_update_refuses_another_pipelines_stage_and_writes_nothing(rep, foreign_stage):
    deal = DealFactory(owner=rep)
    before = AuditEvent.objects.count()
    with pytest.raises(Invalid) as refused:
        services.deal_update(actor=rep, deal=deal, stage=foreign_stage, title="Moved")
    assert refused.value.fields["stage"]
    _unchanged(deal)
    deal.refresh_from_db()
    assert deal.title != "Moved"
    assert AuditEvent.objects.count() == before


def test_deal_create_refuses_a_stage_of_another_pipeline_than_the_chosen_one(rep, foreign_stage):
    pipeline = DealFactory(owner=rep).pipeline
    with pytest.raises(Invalid) as refused:
        services.deal_create(actor=rep, title="X", pipeline=pipeline, stage=foreign_stage)
    assert refused.value.fields["stage"]
    deal = services.deal_create(actor=rep, title="Y", stage=foreign_stage)
    assert deal.pipeline == foreign_stage.pipeline


def test_page_form_refuses_another_pipelines_stage_with_an_error(client, rep, foreign_stage):
    deal = DealFactory(owner=rep, title="Stay")
    client.force_login(rep)
    response = client.post(
        f"/deals/{deal.pk}/edit/",
        {
            "title": "Stay",
            "pipeline": foreign_stage.pipeline_id,
            "stage": foreign_stage.pk,
            "amount": "10",
            "currency": "USD",
        },
    )
    assert response.status_code == 200
    assert 'data-testid="error-stage"' in response.content.decode()
    _unchanged(deal)
    form = client.get(f"/deals/{deal.pk}/edit/").content.decode()
    assert f'value="{foreign_stage.pk}"' not in form  # only this pipeline's stages are offered


def test_page_form_creates_a_deal_only_with_a_stage_of_the_chosen_pipeline(
    client, rep, foreign_stage
):
    pipeline = DealFactory(owner=rep).pipeline
    client.force_login(rep)
    body = {"title": "New one", "amount": "10", "currency": "USD"}
    response = client.post(
        "/deals/new/", {**body, "pipeline": pipeline.pk, "stage": foreign_stage.pk}
    )
    assert response.status_code == 200
    assert "That stage belongs to another pipeline." in response.content.decode()
    response = client.post(
        "/deals/new/",
        {**body, "pipeline": foreign_stage.pipeline_id, "stage": foreign_stage.pk},
    )
    assert response.status_code == 302
    assert services.Deal.objects.get(title="New one").amount == Decimal("10")


def test_api_patch_with_another_pipelines_stage_is_400(client, rep, foreign_stage):
    deal = DealFactory(owner=rep)
    client.force_login(rep)
    response = client.patch(
        f"/api/v1/deals/{deal.pk}/", {"stage": foreign_stage.pk}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["fields"]["stage"]
    _unchanged(deal)
