"""Issue 9: every create goes through the CRM policy's create check, enforced in the service, so
the page forms and the API agree. A read-only Compliance officer creates nothing anywhere, and an
archived record takes no new activities, whoever asks."""

import pytest

from audit.models import AuditEvent
from config.errors import Forbidden, NotFound
from crm import services
from crm.models import Activity, Company, Contact, Deal
from tests.crm.factories import CompanyFactory, ContactFactory, DealFactory, first_stage

ROLES = ["rep", "manager", "compliance", "admin_user"]
MAY_CREATE = {"rep": True, "manager": True, "compliance": False, "admin_user": True}
RECORD_KINDS = {"deal": "deals", "contact": "contacts", "company": "companies"}


@pytest.fixture
def records(rep):
    """A deal, a contact and a company owned by rep: every role of the matrix sees them (the
    manager is rep's manager, Admin and Compliance see everything)."""
    return {
        "deal": DealFactory(owner=rep, title="Renewal"),
        "contact": ContactFactory(owner=rep, first_name="Pat"),
        "company": CompanyFactory(owner=rep, name="Acme"),
    }


def actor_for(request, role):
    return request.getfixturevalue(role)


def written(model, action):
    return model.objects.count(), AuditEvent.objects.filter(action=action).count()


def post_page_activity(client, kind, record):
    return client.post(
        f"/{RECORD_KINDS[kind]}/{record.pk}/activities/", {"kind": "note", "subject": "Called"}
    )


def post_api_activity(client, kind, record):
    return client.post(
        "/api/v1/activities/",
        {"kind": "note", "subject": "Called", kind: record.pk},
        content_type="application/json",
    )


@pytest.mark.parametrize("kind", list(RECORD_KINDS))
@pytest.mark.parametrize("interface", ["page", "api"])
@pytest.mark.parametrize("role", ROLES)
def test_activity_create_matrix(request, client, records, role, interface, kind):
    client.force_login(actor_for(request, role))
    before = written(Activity, "crm.activity.created")
    post = post_page_activity if interface == "page" else post_api_activity
    response = post(client, kind, records[kind])
    if MAY_CREATE[role]:
        assert response.status_code == (302 if interface == "page" else 201)
        assert written(Activity, "crm.activity.created") == (before[0] + 1, before[1] + 1)
    else:
        assert response.status_code in (403, 404)
        assert written(Activity, "crm.activity.created") == before


def test_compliance_cannot_post_to_a_deals_activities_api_either(client, compliance, records):
    """The brief names POST /api/v1/deals/<id>/activities/; whatever answers there (no such
    route exists in this tree: 404), nothing is written."""
    client.force_login(compliance)
    deal = records["deal"]
    before = written(Activity, "crm.activity.created")
    response = client.post(
        f"/api/v1/deals/{deal.pk}/activities/",
        {"kind": "note", "subject": "Called"},
        content_type="application/json",
    )
    assert response.status_code in (403, 404, 405)
    assert written(Activity, "crm.activity.created") == before


def test_the_service_refuses_compliance_whatever_the_interface(compliance, records):
    for kind, record in records.items():
        with pytest.raises(Forbidden):
            services.activity_create(actor=compliance, kind="note", subject="x", **{kind: record})
    assert not Activity.objects.exists()
    assert not AuditEvent.objects.filter(action="crm.activity.created").exists()


def test_compliance_sees_no_activity_form(client, compliance, rep, records):
    client.force_login(compliance)
    for record in records.values():
        assert b"add-activity" not in client.get(record.get_absolute_url()).content
    client.force_login(rep)
    for record in records.values():
        assert b"add-activity" in client.get(record.get_absolute_url()).content


@pytest.mark.parametrize("kind", list(RECORD_KINDS))
@pytest.mark.parametrize("role", ROLES)
def test_archived_records_take_no_new_activities(request, client, admin_user, records, role, kind):
    record = records[kind]
    services.record_archive(actor=admin_user, record=record)
    client.force_login(actor_for(request, role))
    before = written(Activity, "crm.activity.created")
    assert post_page_activity(client, kind, record).status_code in (403, 404)
    assert post_api_activity(client, kind, record).status_code in (400, 403, 404)
    assert written(Activity, "crm.activity.created") == before
    if role == "admin_user":  # sees the archived record, and is told why it takes nothing
        with pytest.raises(Forbidden):
            services.activity_create(actor=admin_user, kind="note", subject="x", **{kind: record})
    if role == "rep":  # no longer sees it at all
        with pytest.raises(NotFound):
            services.activity_create(
                actor=request.getfixturevalue("rep"), kind="note", subject="x", **{kind: record}
            )


def _page_create(client, kind):
    if kind == "company":
        return client.post("/companies/new/", {"name": "New Co"})
    if kind == "contact":
        return client.post(
            "/contacts/new/",
            {"first_name": "New", "preferred_channel": "email", "lifecycle_stage": "lead"},
        )
    return client.post(
        "/deals/new/",
        {"title": "New deal", "stage": first_stage().pk, "currency": "USD", "amount": "1"},
    )


def _api_create(client, kind):
    body = {
        "company": {"name": "New Co"},
        "contact": {"first_name": "New"},
        "deal": {"title": "New deal", "stage": first_stage().pk},
    }[kind]
    path = {"company": "companies", "contact": "contacts", "deal": "deals"}[kind]
    return client.post(f"/api/v1/{path}/", body, content_type="application/json")


MODELS = {"company": Company, "contact": Contact, "deal": Deal}


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("interface", ["page", "api"])
@pytest.mark.parametrize("role", ROLES)
def test_record_create_matrix(request, client, role, interface, kind):
    """The same check guards companies, contacts and deals on every interface."""
    client.force_login(actor_for(request, role))
    action = f"crm.{kind}.created"
    before = written(MODELS[kind], action)
    response = (_page_create if interface == "page" else _api_create)(client, kind)
    if MAY_CREATE[role]:
        assert response.status_code == (302 if interface == "page" else 201), response.content
        assert written(MODELS[kind], action) == (before[0] + 1, before[1] + 1)
    else:
        assert response.status_code in (403, 404)
        assert written(MODELS[kind], action) == before


def test_compliance_shares_nothing(client, compliance, outsider, records):
    client.force_login(compliance)
    for kind, record in records.items():
        response = client.post(
            f"/{RECORD_KINDS[kind]}/{record.pk}/share/",
            {"who": f"user:{outsider.pk}", "level": "view"},
        )
        assert response.status_code in (403, 404)
    assert not AuditEvent.objects.filter(action__endswith=".shared").exists()
