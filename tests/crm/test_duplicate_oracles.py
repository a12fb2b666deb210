"""Issue 9: duplicate checks tell a user only about contacts they may open. Another's contact is
never named, nor announced: the new one is saved as usual, or, where the organisation refuses
duplicates (CRM_DUPLICATE_CONTACTS = "refuse"), refused with a message naming nothing. The same
rule holds for the contact form, the API and the CSV import; previews are audited and
rate-limited like imports."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from config.errors import Forbidden
from crm import csv_io, rate_limits
from crm.models import Contact

PHONE = "+55 11 98765-4321"  # customer_contact's, written differently
EMAIL = "clara@customer.example"


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("data.csv", text.encode(), content_type="text/csv")


def contact_form(**extra):
    return {"first_name": "Clara", "preferred_channel": "email", "lifecycle_stage": "lead", **extra}


@pytest.fixture
def refuse_duplicates(settings):
    settings.CRM_DUPLICATE_CONTACTS = "refuse"


def assert_names_nothing(text: str, contact) -> None:
    assert f"#{contact.pk}" not in text
    assert "Cliente" not in text and "someone else" not in text
    assert contact.get_absolute_url() not in text


# --- CSV import --------------------------------------------------------------------------------


def test_dry_run_with_another_reps_phone_reveals_nothing(other_rep, customer_contact):
    result = csv_io.import_csv(
        actor=other_rep,
        kind="contacts",
        upload=upload(f"first_name,phones\nAna,{PHONE}\n"),
        dry_run=True,
    )
    assert result.ok, [e.reason for e in result.errors]
    result = csv_io.import_csv(
        actor=other_rep,
        kind="contacts",
        upload=upload(f"first_name,phones\nAna,{PHONE}\n"),
        dry_run=False,
    )
    assert result.ok and result.created == 1
    assert Contact.objects.filter(owner=other_rep, first_name="Ana").exists()


def test_dry_run_names_a_duplicate_the_importer_may_open(rep, customer_contact):
    result = csv_io.import_csv(
        actor=rep,
        kind="contacts",
        upload=upload(f"first_name,phones\nAna,{PHONE}\n"),
        dry_run=True,
    )
    assert [(e.line, e.column) for e in result.errors] == [(2, "phones")]
    assert f"#{customer_contact.pk}" in result.errors[0].reason


def test_refusing_organisation_refuses_the_row_naming_nothing(
    refuse_duplicates, other_rep, customer_contact
):
    for dry_run in (True, False):
        result = csv_io.import_csv(
            actor=other_rep,
            kind="contacts",
            upload=upload(f"first_name,emails\nAna,{EMAIL}\n"),
            dry_run=dry_run,
        )
        assert [(e.line, e.column) for e in result.errors] == [(2, "emails")]
        assert "not allowed" in result.errors[0].reason
        assert_names_nothing(result.errors[0].reason, customer_contact)
    assert Contact.objects.count() == 1


# --- the contact form ------------------------------------------------------------------------


def test_form_never_mentions_a_contact_the_user_cannot_open(client, other_rep, customer_contact):
    client.force_login(other_rep)
    response = client.post("/contacts/new/", contact_form(phones=PHONE, phone_region="BR"))
    assert response.status_code == 302  # saved as usual: a warning would confirm the other
    assert Contact.objects.count() == 2


def test_refusing_organisation_form_names_nothing_and_offers_no_override(
    refuse_duplicates, client, other_rep, customer_contact
):
    client.force_login(other_rep)
    for confirm in ({}, {"confirm_duplicate": "on"}):
        response = client.post("/contacts/new/", contact_form(emails=EMAIL, **confirm))
        assert response.status_code == 200
        html = response.content.decode()
        assert "duplicates are not allowed" in html
        assert 'name="confirm_duplicate"' not in html
        assert_names_nothing(html, customer_contact)
    assert Contact.objects.count() == 1


def test_refusing_organisation_form_still_links_a_contact_the_user_may_open(
    refuse_duplicates, client, rep, customer_contact
):
    client.force_login(rep)
    response = client.post("/contacts/new/", contact_form(emails=EMAIL, confirm_duplicate="on"))
    html = response.content.decode()
    assert 'data-testid="duplicate-link"' in html and customer_contact.get_absolute_url() in html
    assert 'name="confirm_duplicate"' not in html
    assert Contact.objects.count() == 1


# --- the API ---------------------------------------------------------------------------------


def test_refusing_organisation_api_answers_409_naming_nothing(
    refuse_duplicates, client, other_rep, customer_contact
):
    client.force_login(other_rep)
    body = {"first_name": "Clara", "emails": [EMAIL], "allow_duplicate": True}
    response = client.post("/api/v1/contacts/", body, content_type="application/json")
    assert response.status_code == 409
    answer = response.json()
    assert answer["existing_id"] is None and answer["existing_ids"] == []
    assert "allow_duplicate" not in answer["detail"]
    assert_names_nothing(response.content.decode(), customer_contact)
    assert Contact.objects.count() == 1


def test_refusing_organisation_api_names_a_contact_the_caller_may_open(
    refuse_duplicates, client, rep, customer_contact
):
    client.force_login(rep)
    body = {"first_name": "Clara", "emails": [EMAIL]}
    response = client.post(
        "/api/v1/contacts/?allow_duplicate=true", body, content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json()["existing_ids"] == [customer_contact.pk]


# --- previews are audited and rate-limited like imports ---------------------------------------


def test_previews_and_imports_are_audited(rep):
    csv_io.import_csv(actor=rep, kind="contacts", upload=upload("first_name\nAna\n"), dry_run=True)
    csv_io.import_csv(
        actor=rep, kind="contacts", upload=upload("first_name\n\n,x\n"), dry_run=False
    )
    csv_io.import_csv(actor=rep, kind="contacts", upload=upload("first_name\nAna\n"), dry_run=False)
    events = list(AuditEvent.objects.filter(action__startswith="crm.import.").order_by("seq"))
    assert [e.action for e in events] == [
        "crm.import.previewed",
        "crm.import.failed",
        "crm.import.completed",
    ]
    assert all(e.actor_id == rep.pk for e in events)
    assert events[0].data == {
        "kind": "contacts",
        "file_name": "data.csv",
        "rows": 1,
        "errors": 0,
        "created": 0,
    }
    assert events[2].data["created"] == 1


def test_previews_and_imports_share_one_hourly_limit(settings, client, rep):
    settings.CRM_IMPORTS_PER_HOUR = 2
    client.force_login(rep)
    text = "name\nAcme\n"
    assert (
        client.post("/companies/import/", {"file": upload(text), "dry_run": "on"}).status_code
        == 200
    )
    assert client.post("/companies/import/", {"file": upload(text)}).status_code == 302
    response = client.post("/companies/import/", {"file": upload(text), "dry_run": "on"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "too many files this hour" in response.content.decode()
    with pytest.raises(rate_limits.RateLimited):
        csv_io.import_csv(actor=rep, kind="companies", upload=upload(text), dry_run=True)
    assert AuditEvent.objects.filter(action__startswith="crm.import.").count() == 2


def test_the_limit_is_per_user(settings, rep, other_rep):
    settings.CRM_IMPORTS_PER_HOUR = 1
    csv_io.import_csv(actor=rep, kind="companies", upload=upload("name\nA\n"), dry_run=True)
    csv_io.import_csv(actor=other_rep, kind="companies", upload=upload("name\nA\n"), dry_run=True)
    with pytest.raises(rate_limits.RateLimited):
        csv_io.import_csv(actor=rep, kind="companies", upload=upload("name\nA\n"), dry_run=True)


def test_compliance_imports_nothing_not_even_a_preview(compliance):
    with pytest.raises(Forbidden):
        csv_io.import_csv(
            actor=compliance, kind="contacts", upload=upload("first_name\nAna\n"), dry_run=True
        )
    assert not AuditEvent.objects.filter(action__startswith="crm.import.").exists()
