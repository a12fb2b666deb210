"""CSV import: a dry-run preview, errors per row (line, column, reason), all or nothing."""

from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from crm import csv_io
from crm.models import Company, Contact
from tests.crm.factories import CompanyFactory


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("data.csv", text.encode(), content_type="text/csv")


GOOD_CONTACTS = (
    "first_name,last_name,company,emails,phones,preferred_channel,tags\n"
    "Ana,Silva,Acme,ana@acme.example,+55 11 98765-4321,whatsapp,vip|event\n"
    "John,Smith,,john@x.example|j@x.example,+1 415 555 2671,email,\n"
)


def test_dry_run_previews_and_writes_nothing(rep):
    CompanyFactory(name="Acme", owner=rep)
    result = csv_io.import_csv(
        actor=rep, kind="contacts", upload=upload(GOOD_CONTACTS), dry_run=True
    )
    assert result.ok and len(result.rows) == 2
    assert Contact.objects.count() == 0


def test_import_writes_every_row_through_the_audited_service(rep):
    CompanyFactory(name="Acme", owner=rep)
    result = csv_io.import_csv(
        actor=rep, kind="contacts", upload=upload(GOOD_CONTACTS), dry_run=False
    )
    assert result.ok and result.created == 2
    ana = Contact.objects.get(first_name="Ana")
    assert ana.company.name == "Acme"
    assert [p.number for p in ana.phones.all()] == ["+5511987654321"]
    assert sorted(t.name for t in ana.tags.all()) == ["event", "vip"]
    assert AuditEvent.objects.filter(action="crm.contact.created").count() == 2


def test_errors_name_line_column_and_reason_and_nothing_is_written(rep):
    text = (
        "first_name,emails,phones,preferred_channel,company\n"
        "Ana,ana@acme.example,,email,\n"
        ",bad-email,12345,pigeon,Nowhere\n"
        "Bea,ana@acme.example,,email,\n"
    )
    result = csv_io.import_csv(actor=rep, kind="contacts", upload=upload(text), dry_run=False)
    assert not result.ok
    found = {(e.line, e.column) for e in result.errors}
    assert {
        (3, "first_name"),
        (3, "emails"),
        (3, "phones"),
        (3, "preferred_channel"),
        (3, "company"),
        (4, "emails"),
    } <= found
    assert all(e.reason for e in result.errors)
    assert Contact.objects.count() == 0


def test_missing_column_and_existing_duplicate(rep, customer_contact):
    result = csv_io.import_csv(
        actor=rep, kind="contacts", upload=upload("last_name\nX\n"), dry_run=True
    )
    assert result.errors[0].column == "first_name"
    result = csv_io.import_csv(
        actor=rep,
        kind="contacts",
        upload=upload("first_name,emails\nC,clara@customer.example\n"),
        dry_run=False,
    )
    assert [(e.line, e.column) for e in result.errors] == [(2, "emails")]


def test_company_import_page(client, rep):
    client.force_login(rep)
    text = "name,domain,phone\nAcme,acme.example,+34 612 34 56 78\nBeta,,not a phone\n"
    response = client.post("/companies/import/", {"file": upload(text), "dry_run": ""}, follow=True)
    assert b'data-testid="import-error"' in response.content
    assert Company.objects.count() == 0
    text = "name,domain,phone\nAcme,acme.example,+34 612 34 56 78\n"
    response = client.post("/companies/import/", {"file": upload(text), "dry_run": "on"})
    assert b'data-testid="preview-row"' in response.content
    assert Company.objects.count() == 0
    response = client.post("/companies/import/", {"file": upload(text)})
    assert response.status_code == 302
    assert Company.objects.get().phone == "+34612345678"


def test_export_has_a_header_and_the_visible_rows(client, rep, customer_contact):
    client.force_login(rep)
    response = client.get("/contacts/export.csv")
    text = b"".join(response.streaming_content).decode()
    header, row = text.strip().splitlines()
    assert header.startswith("id,first_name")
    assert "clara@customer.example" in row and "+5511987654321" in row
