"""One FilterSet per kind (crm.filters) reads a list page's, its CSV export's and its API list's
parameters alike (issue 10, point A)."""

from decimal import Decimal

from crm.models import Company, Deal
from tests.crm.factories import CompanyFactory, DealFactory, TagFactory


def _deals(rep):
    small = DealFactory(owner=rep, title="Small", amount=Decimal("10"))
    big = DealFactory(owner=rep, title="Big", amount=Decimal("900"))
    tagged = DealFactory(owner=rep, title="Tagged", amount=Decimal("50"))
    tagged.tags.add(TagFactory(name="vip"))
    return small, big, tagged


def test_a_deal_list_page_and_the_api_filter_and_sort_alike(client, rep):
    small, big, tagged = _deals(rep)
    client.force_login(rep)
    page = client.get("/deals/", {"sort": "amount"})
    assert [d.pk for d in page.context["page"]] == [big.pk, tagged.pk, small.pk]
    api = client.get("/api/v1/deals/", {"sort": "amount"}).json()["results"]
    assert [row["id"] for row in api] == [big.pk, tagged.pk, small.pk]
    assert [d.pk for d in client.get("/deals/", {"tag": "vip"}).context["page"]] == [tagged.pk]
    api = client.get("/api/v1/deals/", {"tag": "vip"}).json()["results"]
    assert [row["id"] for row in api] == [tagged.pk]
    # DRF's ?ordering= still works in the API.
    api = client.get("/api/v1/deals/", {"ordering": "amount"}).json()["results"]
    assert [row["id"] for row in api] == [small.pk, tagged.pk, big.pk]


def test_a_page_ignores_what_it_cannot_read_the_api_names_it(client, rep):
    small, big, tagged = _deals(rep)
    client.force_login(rep)
    page = client.get("/deals/", {"owner": "abc", "sort": "nonsense", "status": "maybe"})
    assert page.status_code == 200
    assert page.context["sort"] == "updated"
    assert {d.pk for d in page.context["page"]} == {small.pk, big.pk, tagged.pk}
    response = client.get("/api/v1/deals/", {"sort": "nonsense"})
    assert response.status_code == 400 and response.json()["sort"]
    response = client.get("/api/v1/deals/", {"owner": "abc"})
    assert response.status_code == 400 and response.json()["owner"]


def test_the_deal_list_keeps_its_stage_and_status_filters(client, rep):
    small, _big, _tagged = _deals(rep)
    won = small.pipeline.stages.get(is_won=True)
    Deal.objects.filter(pk=small.pk).update(stage=won, status=Deal.Status.WON)
    client.force_login(rep)
    page = client.get("/deals/", {"stage": won.pk})
    assert [d.pk for d in page.context["page"]] == [small.pk]
    assert page.context["filters"]["stage"] == won.pk
    page = client.get("/deals/", {"status": "won"})
    assert [d.pk for d in page.context["page"]] == [small.pk]


def test_the_export_reads_the_lists_parameters(client, rep):
    CompanyFactory(owner=rep, name="Acme", industry="Retail")
    CompanyFactory(owner=rep, name="Zeta", industry="Software")
    client.force_login(rep)
    body = b"".join(client.get("/companies/export.csv", {"q": "acm"}).streaming_content)
    assert b"Acme" in body and b"Zeta" not in body
    body = b"".join(client.get("/companies/export.csv", {"industry": "software"}).streaming_content)
    assert b"Zeta" in body and b"Acme" not in body
    body = b"".join(client.get("/companies/export.csv", {"sort": "-name"}).streaming_content)
    assert body.index(b"Zeta") < body.index(b"Acme")


def test_one_form_view_serves_the_three_kinds(client, rep):
    client.force_login(rep)
    for url in ("/companies/new/", "/contacts/new/", "/deals/new/"):
        assert client.get(url).status_code == 200, url
    response = client.post("/companies/new/", {"name": "Acme", "owner": rep.pk})
    assert response.status_code == 302
    company = Company.objects.get(name="Acme")
    response = client.post(f"/companies/{company.pk}/edit/", {"name": ""})
    assert response.status_code == 200 and 'data-testid="error-name"' in response.content.decode()
