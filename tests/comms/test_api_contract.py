"""The conversations API answers what its schema documents, bad input included."""

import uuid

import pytest
import yaml

from comms.models import Message

TOO_BIG = "99999999999999999999"


@pytest.fixture
def api(client, rep):
    client.force_login(rep)
    return client


def test_the_inbox_is_documented_as_the_page_it_returns(api, conversation):
    body = api.get("/api/v1/conversations/").json()
    assert set(body) == {"next", "previous", "results"}
    schema = yaml.safe_load(api.get("/api/schema/").content)
    ok = schema["paths"]["/api/v1/conversations/"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    page = schema["components"]["schemas"][ref]
    assert page["type"] == "object"
    assert {"next", "previous", "results"} <= set(page["properties"])


@pytest.mark.parametrize("name", ["deal", "contact"])
@pytest.mark.parametrize("value", [TOO_BIG, "1e19", "x", "-1"])
def test_inbox_id_filters_refuse_what_is_no_id(api, conversation, name, value):
    response = api.get("/api/v1/conversations/", {name: value})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid"
    assert name in response.json()["detail"]


def test_inbox_id_filters_still_filter(api, conversation, deal):
    rows = api.get("/api/v1/conversations/", {"deal": deal.pk}).json()["results"]
    assert [row["id"] for row in rows] == [conversation.pk]
    assert api.get("/api/v1/conversations/", {"deal": deal.pk + 1}).json()["results"] == []


@pytest.mark.parametrize("name", ["after", "before", "limit"])
def test_message_paging_refuses_what_is_no_id(api, conversation, name):
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    response = api.get(url, {name: TOO_BIG})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


@pytest.mark.parametrize(
    "note, direction", [("true", "note"), ("false", "outbound"), ("on", "note")]
)
def test_a_note_sent_as_form_data(api, conversation, note, direction):
    response = api.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "body": "Form data", "note": note},
    )
    assert response.status_code == 201, response.content
    assert response.json()["direction"] == direction
    assert Message.objects.get(body="Form data").direction == direction


def test_a_note_flag_that_is_no_boolean_is_refused(api, conversation):
    response = api.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "body": "x", "note": "maybe"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/conversations/abc/",
        f"/api/v1/conversations/{TOO_BIG}/",
        "/api/v1/conversations/1/messages/abc/retract/",
        f"/api/v1/conversations/1/messages/{TOO_BIG}/",
        "/api/v1/conversations/1/nothing-here/",
        f"/api/v1/audit/events/{TOO_BIG}/",
    ],
)
def test_malformed_paths_answer_the_json_error_body(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


def test_retract_documents_its_conflict(api):
    schema = yaml.safe_load(api.get("/api/schema/").content)
    retract = schema["paths"]["/api/v1/conversations/{id}/messages/{mid}/retract/"]["post"]
    assert "409" in retract["responses"]
