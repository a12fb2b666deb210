"""The CRM API answers bad input with a 4xx and a message, as its schema documents."""

import pytest
import yaml

from crm.models import Activity
from tests.crm.factories import CompanyFactory, DealFactory

TOO_BIG = "99999999999999999999"  # beyond 64 bits: SQLite raised OverflowError on it


@pytest.fixture
def api(client, rep):
    client.force_login(rep)
    return client


@pytest.fixture
def schema(api):
    return yaml.safe_load(api.get("/api/schema/").content)


@pytest.mark.parametrize("url", ["/api/schema/", "/api/schema/?format=json"])
def test_anonymous_cannot_read_the_schema(client, url):
    response = client.get(url)
    assert response.status_code == 401
    assert "paths" not in response.content.decode()


def test_anonymous_is_sent_to_sign_in_from_the_docs(client):
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/api/docs/")


def test_an_api_token_reads_the_schema(client, rep):
    from accounts import services

    _token, secret = services.api_token_create(user=rep, name="docs")
    response = client.get("/api/schema/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert "/api/v1/deals/" in yaml.safe_load(response.content)["paths"]


def test_activity_without_kind_gets_the_models_default(api, rep):
    deal = DealFactory(owner=rep)
    response = api.post(
        "/api/v1/activities/",
        {"subject": "Called back", "deal": deal.pk},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == Activity.Kind.NOTE
    assert Activity.objects.get().kind == Activity.Kind.NOTE


@pytest.mark.parametrize(
    "path, name",
    [
        ("/api/v1/deals/", "company"),
        ("/api/v1/deals/", "stage"),
        ("/api/v1/deals/", "pipeline"),
        ("/api/v1/deals/", "owner"),
        ("/api/v1/companies/", "owner"),
        ("/api/v1/contacts/", "company"),
        ("/api/v1/activities/", "deal"),
        ("/api/v1/activities/", "contact"),
        ("/api/v1/activities/", "company"),
    ],
)
@pytest.mark.parametrize("value", ["1e19", TOO_BIG, "-1", "x"])
def test_id_filters_refuse_what_is_no_id(api, path, name, value):
    response = api.get(path, {name: value})
    assert response.status_code == 400, response.content
    assert response.json()[name]  # the field's message


def test_id_filters_still_filter(api, rep):
    deal = DealFactory(owner=rep, company=CompanyFactory(owner=rep))
    DealFactory(owner=rep)
    response = api.get("/api/v1/deals/", {"company": deal.company_id})
    assert [row["id"] for row in response.json()["results"]] == [deal.pk]


@pytest.mark.parametrize("kind", ["deals", "companies", "contacts", "activities", "pipelines"])
def test_ids_beyond_64_bits_in_a_path_are_a_json_404(api, kind):
    for path in (f"/api/v1/{kind}/{TOO_BIG}/", f"/api/v1/{kind}/abc/"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"]


def test_unknown_api_paths_answer_json_and_pages_html(api):
    response = api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not found."}
    page = api.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_the_crm_operations_document_their_refusals(schema):
    paths = schema["paths"]
    assert {"200", "400", "401", "403", "404"} <= set(paths["/api/v1/deals/"]["get"]["responses"])
    assert {"201", "400", "401", "403"} <= set(paths["/api/v1/deals/"]["post"]["responses"])
    detail = paths["/api/v1/deals/{id}/"]
    assert {"200", "401", "403", "404"} <= set(detail["get"]["responses"])
    assert {"200", "400", "401", "403", "404"} <= set(detail["patch"]["responses"])
    assert {"201", "400", "409"} <= set(paths["/api/v1/contacts/"]["post"]["responses"])
    archive = paths["/api/v1/deals/{id}/archive/"]["post"]["responses"]
    assert {"200", "403", "404"} <= set(archive)
    assert "content" in archive["200"]


def test_id_filters_and_path_ids_are_documented_as_integers(schema):
    params = {p["name"]: p for p in schema["paths"]["/api/v1/deals/"]["get"]["parameters"]}
    for name in ("company", "stage", "pipeline", "owner"):
        assert params[name]["schema"]["type"] == "integer", name
        assert params[name]["schema"]["maximum"] == 2**63 - 1
    (id_param,) = schema["paths"]["/api/v1/deals/{id}/"]["get"]["parameters"]
    assert id_param["schema"]["type"] == "integer"


def test_the_audit_lists_filters_are_documented(schema):
    params = {p["name"] for p in schema["paths"]["/api/v1/audit/events/"]["get"]["parameters"]}
    assert {"actor", "action", "target_type", "target_id", "since", "until"} <= params
