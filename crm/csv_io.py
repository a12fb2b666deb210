"""CSV import (all rows valid or nothing written) and export (what the user may see).

Every CSV cell the product writes goes through `spreadsheet_safe`, and the import undoes it, so
an exported file imports again unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

import audit
from config.errors import Invalid, ServiceError
from crm import permissions, phones, rate_limits, selectors, services
from crm.models import Channel, Company, Contact, LifecycleStage

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024

COMPANY_COLUMNS = ["name", "domain", "industry", "phone", "address", "tags"]
CONTACT_COLUMNS = [
    "first_name",
    "last_name",
    "title",
    "company",
    "emails",
    "phones",
    "preferred_channel",
    "lifecycle_stage",
    "tags",
]
REQUIRED = {"companies": {"name"}, "contacts": {"first_name"}}
COLUMNS = {"companies": COMPANY_COLUMNS, "contacts": CONTACT_COLUMNS}
# Columns the export adds: accepted by the import (so an export imports again) and ignored, since
# new records get new ids and belong to the person importing them.
EXPORT_ONLY_COLUMNS = ["id", "owner"]

# A cell starting with one of these is read as a formula by spreadsheets (OWASP, "CSV
# Injection"): =HYPERLINK(...) or =WEBSERVICE(...) in a name would run on the reader's machine.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def spreadsheet_safe(value) -> str:
    """The cell as a spreadsheet shows it without ever evaluating it: one that starts like a
    formula gets a leading apostrophe, as OWASP recommends. E.164 phone numbers ("+55...") get it
    too: the rule has no safe exceptions, and without it a spreadsheet turns the number into an
    arithmetic result and drops the "+". A cell whose apostrophes already precede such a
    character gets one more, so `from_spreadsheet_safe` gives every value back exactly."""
    text = "" if value is None else str(value)
    return QUOTE + text if text.lstrip(QUOTE).startswith(FORMULA_STARTS) else text


def from_spreadsheet_safe(text: str) -> str:
    """Undo `spreadsheet_safe` on an imported cell: drop one apostrophe before a formula start."""
    if text.startswith(QUOTE) and text.lstrip(QUOTE).startswith(FORMULA_STARTS):
        return text[1:]
    return text


class SafeCsvWriter:
    """csv.writer whose every cell goes through spreadsheet_safe: use it for every CSV written."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([spreadsheet_safe(cell) for cell in row])


@dataclass
class RowError:
    line: int
    column: str
    reason: str


@dataclass
class ImportResult:
    kind: str
    rows: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    dry_run: bool = True

    @property
    def ok(self) -> bool:
        return not self.errors


def _split(value: str) -> list[str]:
    return [item.strip() for item in (value or "").replace(";", "|").split("|") if item.strip()]


def _read(upload) -> tuple[list[str], Iterator[tuple[int, dict]]] | RowError:
    raw = upload.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        return RowError(0, "", _("The file is larger than 5 MB."))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return RowError(0, "", _("The file is not UTF-8 text."))
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = headers

    def rows():
        for record in reader:
            yield (
                reader.line_num,
                {k: from_spreadsheet_safe(v or "").strip() for k, v in record.items() if k},
            )

    return headers, rows()


def _validate_company(line: int, row: dict, errors: list[RowError], seen: dict) -> dict | None:
    before = len(errors)
    if not row.get("name"):
        errors.append(RowError(line, "name", _("A name is required.")))
    elif len(row["name"]) > 200:
        errors.append(RowError(line, "name", _("At most 200 characters.")))
    phone = row.get("phone", "")
    if phone:
        try:
            phone = phones.normalise(phone)
        except ValidationError as exc:
            errors.append(RowError(line, "phone", " ".join(exc.messages)))
    key = row.get("name", "").lower()
    if key and key in seen:
        errors.append(
            RowError(line, "name", _("Same name as line %(line)s.") % {"line": seen[key]})
        )
    seen[key] = line
    if len(errors) > before:
        return None
    return {
        "name": row["name"],
        "domain": row.get("domain", ""),
        "industry": row.get("industry", ""),
        "phone": phone,
        "address": row.get("address", ""),
        "tags": _split(row.get("tags", "")),
    }


def _validate_contact(
    line: int, row: dict, errors: list[RowError], seen: dict, actor, companies: dict
) -> dict | None:
    before = len(errors)
    if not row.get("first_name"):
        errors.append(RowError(line, "first_name", _("A first name is required.")))
    try:
        emails = services.normalise_emails(_split(row.get("emails", "")))
    except Invalid as exc:
        emails = []
        errors.append(RowError(line, "emails", " ".join(exc.fields["emails"])))
    numbers = []
    for item in _split(row.get("phones", "")):
        try:
            numbers.append(phones.normalise(item))
        except ValidationError as exc:
            errors.append(RowError(line, "phones", " ".join(exc.messages)))
    channel = row.get("preferred_channel") or Channel.EMAIL
    if channel not in Channel.values:
        errors.append(
            RowError(
                line,
                "preferred_channel",
                _("Use one of: %(values)s.") % {"values": ", ".join(Channel.values)},
            )
        )
    stage = row.get("lifecycle_stage") or LifecycleStage.LEAD
    if stage not in LifecycleStage.values:
        errors.append(
            RowError(
                line,
                "lifecycle_stage",
                _("Use one of: %(values)s.") % {"values": ", ".join(LifecycleStage.values)},
            )
        )
    company = None
    if row.get("company"):
        company = companies.get(row["company"].lower())
        if company is None:
            errors.append(RowError(line, "company", _("No company you can see has this name.")))
    for value in [*emails, *numbers]:
        if value in seen:
            errors.append(
                RowError(
                    line,
                    "emails" if "@" in value else "phones",
                    _("%(value)s is also on line %(line)s.")
                    % {"value": value, "line": seen[value]},
                )
            )
        seen[value] = line
    duplicate = services.check_duplicates(actor=actor, emails=emails, numbers=numbers)
    if duplicate.visible_ids:
        # Only a contact the importer may open is named; another's is not even mentioned
        # unless the organisation refuses duplicates.
        errors.append(
            RowError(
                line,
                "emails" if emails else "phones",
                _("A contact with this email or phone already exists (#%(id)s).")
                % {"id": duplicate.visible_ids[0]},
            )
        )
    elif duplicate.refused:
        errors.append(RowError(line, "emails" if emails else "phones", duplicate.error().detail))
    if len(errors) > before:
        return None
    return {
        "first_name": row["first_name"],
        "last_name": row.get("last_name", ""),
        "title": row.get("title", ""),
        "company": company,
        "emails": emails,
        "phones": numbers,
        "preferred_channel": channel,
        "lifecycle_stage": stage,
        "tags": _split(row.get("tags", "")),
    }


def import_csv(*, actor, kind: str, upload, dry_run: bool, request=None) -> ImportResult:
    """Check every row; write them all (each through its create service, so each is audited)
    only when no row has an error and this is not a dry run.

    Needs the add permission of `kind`. Previews and imports alike count against the user's
    hourly limit (CRM_IMPORTS_PER_HOUR; past it, rate_limits.RateLimited) and are audited, as
    crm.import.previewed, crm.import.completed or crm.import.failed: each one probes for
    duplicates."""
    if kind not in COLUMNS:
        raise ValueError(kind)
    permissions.require_create(actor, MODELS[kind])
    rate_limits.hit("crm.import", actor.pk, limit=settings.CRM_IMPORTS_PER_HOUR, window=3600)
    result = _check_rows(actor=actor, kind=kind, upload=upload, dry_run=dry_run)
    if result.errors or dry_run:
        _record_import(actor, result, upload, request)
        return result
    try:
        with transaction.atomic():
            for row in result.rows:
                if kind == "companies":
                    services.company_create(actor=actor, request=request, **row["clean"])
                else:
                    services.contact_create(actor=actor, request=request, **row["clean"])
                result.created += 1
            _record_import(actor, result, upload, request)
    except ServiceError as exc:
        result.created = 0
        result.errors.append(RowError(row["line"], "", " ".join(exc.messages)))
        _record_import(actor, result, upload, request)
    return result


def _record_import(actor, result: ImportResult, upload, request) -> None:
    verb = "previewed" if result.dry_run else "failed" if result.errors else "completed"
    audit.record(
        actor=actor,
        action=f"crm.import.{verb}",
        data={
            "kind": result.kind,
            "file_name": (getattr(upload, "name", "") or "")[:200],
            "rows": len(result.rows),
            "errors": len(result.errors),
            "created": result.created,
        },
        request=request,
    )


def _check_rows(*, actor, kind: str, upload, dry_run: bool) -> ImportResult:
    result = ImportResult(kind=kind, dry_run=dry_run)
    parsed = _read(upload)
    if isinstance(parsed, RowError):
        result.errors.append(parsed)
        return result
    headers, rows = parsed
    missing = REQUIRED[kind] - set(headers)
    if missing:
        result.errors.append(
            RowError(
                1,
                ", ".join(sorted(missing)),
                _("Missing column. Expected columns: %(columns)s.")
                % {"columns": ", ".join(COLUMNS[kind])},
            )
        )
        return result
    unknown = [h for h in headers if h not in COLUMNS[kind] and h not in EXPORT_ONLY_COLUMNS]
    for column in unknown:
        result.errors.append(RowError(1, column, _("Unknown column.")))
    seen: dict = {}
    companies = {}
    if kind == "contacts":
        companies = {c.name.lower(): c for c in selectors.company_choices_for(actor)}
    for line, row in rows:
        if len(result.rows) >= MAX_ROWS:
            result.errors.append(
                RowError(line, "", _("At most %(n)s rows per file.") % {"n": MAX_ROWS})
            )
            break
        if kind == "companies":
            clean = _validate_company(line, row, result.errors, seen)
        else:
            clean = _validate_contact(line, row, result.errors, seen, actor, companies)
        result.rows.append({"line": line, "raw": row, "clean": clean})
    if not result.rows and not result.errors:
        result.errors.append(RowError(2, "", _("The file has no rows.")))
    return result


# --- export -----------------------------------------------------------------------------------


class _Echo:
    def write(self, value):
        return value


def export_rows(kind: str, qs) -> Iterator[str]:
    """CSV lines for a queryset already filtered by the user's visibility (a selector's)."""
    writer = SafeCsvWriter(_Echo())
    if kind == "companies":
        yield writer.writerow(["id", *COMPANY_COLUMNS, "owner"])
        for c in qs.iterator(chunk_size=500):
            yield writer.writerow(
                [
                    c.pk,
                    c.name,
                    c.domain,
                    c.industry,
                    c.phone,
                    c.address,
                    "|".join(t.name for t in c.tags.all()),
                    c.owner.username,
                ]
            )
        return
    yield writer.writerow(["id", *CONTACT_COLUMNS, "owner"])
    for c in qs.iterator(chunk_size=500):
        yield writer.writerow(
            [
                c.pk,
                c.first_name,
                c.last_name,
                c.title,
                c.company.name if c.company else "",
                "|".join(e.email for e in c.emails.all()),
                "|".join(p.number for p in c.phones.all()),
                c.preferred_channel,
                c.lifecycle_stage,
                "|".join(t.name for t in c.tags.all()),
                c.owner.username,
            ]
        )


MODELS = {"companies": Company, "contacts": Contact}
