"""The visibility matrix through every interface: pages, API, search and CSV export.

A record the actor may not see answers 404 everywhere (never 403 with data), and never appears
in a list, a search result or an export.
"""

import csv
import io

import pytest

from tests.crm.conftest import EXPECTED_VIEW

KINDS = ["company", "contact", "deal"]
PAGE = {"company": "/companies/", "contact": "/contacts/", "deal": "/deals/"}
API = {"company": "/api/v1/companies/", "contact": "/api/v1/contacts/", "deal": "/api/v1/deals/"}


def label(kind, record):
    return {"company": record.name if kind == "company" else None}.get(kind) or (
        record.first_name if kind == "contact" else record.title
    )


@pytest.mark.parametrize("actor", list(EXPECTED_VIEW))
def test_pages_show_only_visible_records(client, world, actor):
    actors, records = world
    client.force_login(actors[actor])
    for kind in KINDS:
        listing = client.get(PAGE[kind]).content.decode()
        for key, record in records[kind].items():
            visible = key in EXPECTED_VIEW[actor]
            assert (label(kind, record) in listing) is visible, (kind, key)
            detail = client.get(record.get_absolute_url())
            assert detail.status_code == (200 if visible else 404), (kind, key)
            if not visible:
                assert label(kind, record).encode() not in detail.content


@pytest.mark.parametrize("actor", list(EXPECTED_VIEW))
def test_api_shows_only_visible_records(client, world, actor):
    actors, records = world
    client.force_login(actors[actor])
    for kind in KINDS:
        listed = {row["id"] for row in client.get(API[kind]).json()["results"]}
        expected = {records[kind][key].pk for key in EXPECTED_VIEW[actor]}
        assert listed == expected, kind
        for key, record in records[kind].items():
            response = client.get(f"{API[kind]}{record.pk}/")
            assert response.status_code == (200 if key in EXPECTED_VIEW[actor] else 404)
            if key not in EXPECTED_VIEW[actor]:
                patch = client.patch(
                    f"{API[kind]}{record.pk}/", {"tags": ["x"]}, content_type="application/json"
                )
                assert patch.status_code == 404


@pytest.mark.parametrize("actor", list(EXPECTED_VIEW))
def test_search_finds_only_visible_records(client, world, actor):
    actors, records = world
    client.force_login(actors[actor])
    for kind, term in (("company", "Acme"), ("contact", "Pat"), ("deal", "Deal")):
        body = client.get("/search/", {"q": term}).content.decode()
        for key, record in records[kind].items():
            assert (label(kind, record) in body) is (key in EXPECTED_VIEW[actor]), (kind, key)


@pytest.mark.parametrize("actor", list(EXPECTED_VIEW))
def test_csv_export_follows_visibility(client, world, actor):
    actors, records = world
    client.force_login(actors[actor])
    for kind, url in (("company", "/companies/export.csv"), ("contact", "/contacts/export.csv")):
        response = client.get(url)
        assert response.status_code == 200
        text = b"".join(response.streaming_content).decode()
        ids = {int(row["id"]) for row in csv.DictReader(io.StringIO(text))}
        assert ids == {records[kind][key].pk for key in EXPECTED_VIEW[actor]}


def test_forbidden_writes_are_404_and_view_only_is_403(client, world):
    actors, records = world
    client.force_login(actors["other_rep"])
    foreign = records["deal"]["foreign"]
    team_shared = records["deal"]["team_shared"]
    stage = foreign.stage
    for url in (
        f"/deals/{foreign.pk}/edit/",
        f"/deals/{foreign.pk}/move/",
        f"/deals/{foreign.pk}/share/",
        f"/deals/{foreign.pk}/activities/",
    ):
        assert client.post(url, {"stage": stage.pk}).status_code == 404, url
    # Shared with the team to view only: the page shows, changing it is refused.
    assert client.get(f"/deals/{team_shared.pk}/edit/").status_code == 403
    assert client.post(f"/deals/{team_shared.pk}/move/", {"stage": stage.pk}).status_code == 403
    assert (
        client.patch(
            f"/api/v1/deals/{team_shared.pk}/", {"title": "x"}, content_type="application/json"
        ).status_code
        == 403
    )


def test_anonymous_is_sent_to_sign_in(client, world):
    _actors, records = world
    response = client.get(records["deal"]["own"].get_absolute_url())
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get("/api/v1/deals/").status_code in (401, 403)
