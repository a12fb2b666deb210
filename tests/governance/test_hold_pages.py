# ruff: noqa: F811 - pytest fixtures imported from tests.governance.retention_fixtures
"""The console's holds and retention pages and the holds API: compliance officers and admins
use them, only admins change a period, reps and managers get 404 on every page and call."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from governance.holds import legal_hold_place
from governance.models import LegalHold, RetentionPolicy
from tests.governance.retention_fixtures import (  # noqa: F401
    conversation,
    deal,
    record,
)


@pytest.fixture
def hold(compliance, customer_contact):
    return legal_hold_place(
        actor=compliance,
        scope="contact",
        target_id=customer_contact.pk,
        matter="Acme v. Keepline",
        reason="Notice",
    )


def _urls(hold):
    return [
        "/compliance/holds/",
        f"/compliance/holds/{hold.pk}/",
        "/compliance/retention/",
        "/api/v1/compliance/holds/",
    ]


@pytest.mark.parametrize("actor", ["rep", "other_rep", "manager"])
def test_reps_and_managers_get_404_everywhere(client, request, actor, hold, customer_contact):
    client.force_login(request.getfixturevalue(actor))
    for url in _urls(hold):
        assert client.get(url).status_code == 404, url
    place = {"scope": "contact", "target": customer_contact.pk, "matter": "M", "reason": "R"}
    assert client.post("/compliance/holds/", place).status_code == 404
    assert client.post("/api/v1/compliance/holds/", place).status_code == 404
    release = {"reason": "done"}
    assert client.post(f"/compliance/holds/{hold.pk}/", release).status_code == 404
    assert client.post(f"/api/v1/compliance/holds/{hold.pk}/release/", release).status_code == 404
    retention = {"record_class": "messages:web", "period_days": "1"}
    assert client.post("/compliance/retention/", retention).status_code == 404
    assert LegalHold.objects.count() == 1 and LegalHold.objects.get().is_active
    assert not RetentionPolicy.objects.exists()


@pytest.mark.parametrize("actor", ["compliance", "admin_user"])
def test_compliance_and_admins_see_the_pages(client, request, actor, hold):
    client.force_login(request.getfixturevalue(actor))
    for url in _urls(hold):
        assert client.get(url).status_code == 200, url
    page = client.get("/compliance/").content.decode()
    assert 'href="/compliance/holds/"' in page and 'href="/compliance/retention/"' in page
    listing = client.get("/compliance/holds/").content.decode()
    assert "Acme v. Keepline" in listing and "Clara Cliente" in listing


def test_compliance_places_and_releases_a_hold_on_the_pages(client, compliance, customer_contact):
    client.force_login(compliance)
    response = client.post(
        "/compliance/holds/",
        {
            "scope": "contact",
            "target": customer_contact.pk,
            "matter": "Regulator inquiry 7",
            "reason": "Letter of 2 May",
        },
    )
    hold = LegalHold.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/compliance/holds/{hold.pk}/"
    assert hold.contact == customer_contact and hold.created_by == compliance
    page = client.get(f"/compliance/holds/{hold.pk}/").content.decode()
    assert "Regulator inquiry 7" in page and "Release this hold" in page
    response = client.post(f"/compliance/holds/{hold.pk}/", {"reason": "Inquiry closed"})
    assert response.status_code == 302
    hold.refresh_from_db()
    assert hold.released_by == compliance and hold.release_reason == "Inquiry closed"
    assert "Inquiry closed" in client.get(f"/compliance/holds/{hold.pk}/").content.decode()
    actions = list(
        AuditEvent.objects.filter(action__startswith="governance.hold").values_list(
            "action", flat=True
        )
    )
    assert actions == ["governance.hold.placed", "governance.hold.released"]


@pytest.mark.parametrize(
    "data, field",
    [
        ({"scope": "contact", "target": "999999", "matter": "M", "reason": "R"}, "target"),
        ({"scope": "contact", "target": "abc", "matter": "M", "reason": "R"}, "target"),
        ({"scope": "time_range", "matter": "M", "reason": "R"}, "since"),
        ({"scope": "moon", "matter": "M", "reason": "R"}, "scope"),
        ({"scope": "contact", "target": "1", "reason": "R"}, "matter"),
    ],
)
def test_bad_hold_input_is_a_400_naming_the_field(client, compliance, data, field):
    client.force_login(compliance)
    response = client.post("/compliance/holds/", data)
    assert response.status_code == 400
    assert f'data-testid="error-{field}"' in response.content.decode()
    api = client.post("/api/v1/compliance/holds/", data)
    assert api.status_code == 400
    assert not LegalHold.objects.exists()


def test_releasing_twice_is_a_400(client, compliance, hold):
    client.force_login(compliance)
    assert client.post(f"/compliance/holds/{hold.pk}/", {"reason": "x"}).status_code == 302
    assert client.post(f"/compliance/holds/{hold.pk}/", {"reason": "y"}).status_code == 400
    api = client.post(f"/api/v1/compliance/holds/{hold.pk}/release/", {"reason": "y"})
    assert api.status_code == 400


def test_the_api_places_lists_and_releases(client, compliance, customer_contact):
    client.force_login(compliance)
    now = timezone.now()
    response = client.post(
        "/api/v1/compliance/holds/",
        {
            "scope": "time_range",
            "since": (now - timedelta(days=30)).isoformat(),
            "until": now.isoformat(),
            "matter": "Audit 2026",
            "reason": "External audit",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["scope"] == "time_range" and body["target"] is None
    listed = client.get("/api/v1/compliance/holds/").json()
    assert [row["matter"] for row in listed] == ["Audit 2026"]
    released = client.post(
        f"/api/v1/compliance/holds/{body['id']}/release/",
        {"reason": "Audit over"},
        content_type="application/json",
    )
    assert released.status_code == 200 and released.json()["released_by"] == compliance.pk
    assert (
        client.post("/api/v1/compliance/holds/999999/release/", {"reason": "x"}).status_code == 404
    )


def test_only_admins_change_a_retention_period(client, compliance, admin_user, record):
    client.force_login(compliance)
    page = client.get("/compliance/retention/").content.decode()
    assert 'name="period_days"' not in page
    assert (
        client.post(
            "/compliance/retention/", {"record_class": "messages:web", "period_days": "30"}
        ).status_code
        == 404
    )
    client.force_login(admin_user)
    assert 'name="period_days"' in client.get("/compliance/retention/").content.decode()
    response = client.post(
        "/compliance/retention/", {"record_class": "messages:web", "period_days": "30"}
    )
    assert response.status_code == 302
    assert RetentionPolicy.objects.get(record_class="messages:web").period_days == 30
    changed = AuditEvent.objects.get(action="governance.retention.changed")
    assert changed.data == {"record_class": "messages:web", "before": None, "after": 30}
    bad = client.post(
        "/compliance/retention/", {"record_class": "messages:web", "period_days": "0"}
    )
    assert bad.status_code == 400
    unknown = client.post("/compliance/retention/", {"record_class": "planets", "period_days": "3"})
    assert unknown.status_code == 400
    client.post("/compliance/retention/", {"record_class": "messages:web", "period_days": ""})
    assert not RetentionPolicy.objects.exists()  # back to the default


def test_the_retention_page_shows_the_dry_run_counts(client, admin_user, record):
    RetentionPolicy.objects.create(record_class="attachments", period_days=1)
    RetentionPolicy.objects.create(record_class="messages:web", period_days=1)
    from comms.models import Attachment, Message
    from tests.comms.guards import record_guards_off

    with record_guards_off():
        old = timezone.now() - timedelta(days=3)
        Message.objects.update(created_at=old)
        Attachment.objects.update(created_at=old)
    client.force_login(admin_user)
    page = client.get("/compliance/retention/").content.decode()
    row = page.split('data-testid="retention-row-messages:web"')[1].split("</tr>")[0]
    assert '<td data-label="Past retention now" data-testid="due">2</td>' in row
    files = page.split('data-testid="retention-row-attachments"')[1].split("</tr>")[0]
    assert 'data-testid="due">1</td>' in files
    assert Message.objects.filter(purged_at__isnull=False).count() == 0


def test_hold_list_queries_are_constant(
    client, compliance, customer_contact, django_assert_max_num_queries
):
    client.force_login(compliance)

    def place(n):
        for i in range(n):
            legal_hold_place(
                actor=compliance,
                scope="contact",
                target_id=customer_contact.pk,
                matter=f"M{i}",
                reason="R",
            )

    place(2)
    client.get("/compliance/holds/")  # the session's first request records the session
    with django_assert_max_num_queries(20) as small:
        assert client.get("/compliance/holds/").status_code == 200
    place(10)
    with django_assert_max_num_queries(20) as large:
        assert client.get("/compliance/holds/").status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
