"""API: token authentication, schema and docs, create/update through services, no deletes."""

import datetime as dt
import re

import pytest
import yaml
from django.utils import timezone

from audit.models import AuditEvent
from crm import services
from crm.models import ApiToken, Deal
from tests.crm.factories import DealFactory, first_stage


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_token_is_shown_once_and_stored_as_a_hash(client, rep):
    client.force_login(rep)
    response = client.post("/api-tokens/", {"name": "script", "days": 30})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get()
    secret = response.context["secret"]
    assert secret.startswith("kl_") and secret.encode() in response.content
    assert secret not in token.key_hash and token.key_hash == services.token_hash(secret)
    assert secret.encode() not in client.get("/api-tokens/").content
    assert AuditEvent.objects.filter(action="crm.apitoken.created").exists()


def test_token_authenticates_then_revoked_or_expired_fails(client, rep):
    deal = DealFactory(owner=rep)
    token, secret = services.api_token_create(user=rep, name="ci", days=1)
    response = client.get("/api/v1/deals/", **bearer(secret))
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [deal.pk]
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert client.get("/api/v1/deals/", **bearer("kl_wrong")).status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    assert client.get("/api/v1/deals/", **bearer(secret)).status_code == 401
    _token2, secret2 = services.api_token_create(user=rep, name="ci2", days=1)
    client.force_login(rep)
    client.post(f"/api-tokens/{_token2.pk}/revoke/")
    client.logout()
    assert client.get("/api/v1/deals/", **bearer(secret2)).status_code == 401
    assert AuditEvent.objects.filter(action="crm.apitoken.revoked").exists()


def test_someone_elses_token_cannot_be_revoked(client, rep, other_rep):
    token, _secret = services.api_token_create(user=rep, name="mine")
    client.force_login(other_rep)
    assert client.post(f"/api-tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_writes_are_audited_with_the_user(client, rep):
    _token, secret = services.api_token_create(user=rep, name="ci")
    response = client.post(
        "/api/v1/deals/",
        {"title": "From a script", "stage": first_stage().pk, "amount": "10.5"},
        content_type="application/json",
        **bearer(secret),
    )
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "10.50"
    event = AuditEvent.objects.get(action="crm.deal.created")
    assert event.actor_id == rep.pk


def test_update_moves_stage_and_records_it(client, rep):
    deal = DealFactory(owner=rep)
    won = deal.pipeline.stages.get(is_won=True)
    client.force_login(rep)
    response = client.patch(
        f"/api/v1/deals/{deal.pk}/", {"stage": won.pk}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "won"
    assert AuditEvent.objects.filter(action="crm.deal.stage_changed").exists()


def test_related_ids_must_be_visible(client, rep, other_rep):
    from tests.crm.factories import CompanyFactory

    hidden = CompanyFactory(owner=other_rep)
    client.force_login(rep)
    response = client.post(
        "/api/v1/deals/",
        {"title": "x", "stage": first_stage().pk, "company": hidden.pk},
        content_type="application/json",
    )
    assert response.status_code == 400 and "company" in response.json()


def test_no_hard_delete_and_archive_is_admin_only(client, rep, admin_user):
    deal = DealFactory(owner=rep)
    client.force_login(rep)
    assert client.delete(f"/api/v1/deals/{deal.pk}/").status_code == 405
    assert client.post(f"/api/v1/deals/{deal.pk}/archive/").status_code == 403
    client.force_login(admin_user)
    assert client.post(f"/api/v1/deals/{deal.pk}/archive/").status_code == 200
    assert Deal.objects.get(pk=deal.pk).archived_at is not None
    assert AuditEvent.objects.filter(action="crm.deal.archived").exists()
    client.force_login(rep)
    assert client.get(f"/api/v1/deals/{deal.pk}/").status_code == 404


def test_an_admin_restores_an_archived_record(client, rep, admin_user):
    deal = DealFactory(owner=rep)
    client.force_login(admin_user)
    client.post(f"/api/v1/deals/{deal.pk}/archive/")
    client.force_login(rep)
    assert client.post(f"/api/v1/deals/{deal.pk}/restore/").status_code == 404  # hidden from rep
    client.force_login(admin_user)
    response = client.post(f"/api/v1/deals/{deal.pk}/restore/")
    assert response.status_code == 200 and response.json()["archived_at"] is None
    client.force_login(rep)
    assert client.get(f"/api/v1/deals/{deal.pk}/").status_code == 200


def test_filters_and_pagination(client, rep):
    for i in range(3):
        DealFactory(owner=rep, title=f"Alpha {i}", amount=i)
    DealFactory(owner=rep, title="Beta")
    client.force_login(rep)
    body = client.get(
        "/api/v1/deals/", {"q": "alpha", "ordering": "-amount", "page_size": 2}
    ).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert body["results"][0]["title"] == "Alpha 2"
    stage = first_stage()
    assert client.get("/api/v1/deals/", {"stage": stage.pk}).json()["count"] == 4
    assert client.get("/api/v1/pipelines/").json()["results"][0]["stages"]


def test_schema_is_valid_openapi_with_the_crm_paths(client, rep):
    from drf_spectacular.validation import validate_schema

    client.force_login(rep)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    for path in ("companies", "contacts", "deals", "activities", "pipelines"):
        assert f"/api/v1/{path}/" in schema["paths"]
        assert f"/api/v1/{path}/{{id}}/" in schema["paths"]
    assert "apiToken" in schema["components"]["securitySchemes"]


def test_docs_render_without_a_cdn(client, rep):
    client.force_login(rep)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    # Every script, style and image comes from this server (a random CSRF token may well
    # contain the letters "cdn": look at what the page loads, not at its text).
    loaded = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', html)
    assert loaded and all(url.startswith("/") for url in loaded), loaded
    assert "https://" not in html


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_need_no_crm_rights_to_render(client, compliance, url):
    client.force_login(compliance)
    assert client.get(url).status_code == 200
