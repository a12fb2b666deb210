"""crm's part of a person's book (accounts.book): companies, contacts, deals, open activities and
the object-permission grants others gave them.

Ownership follows one rule, here: a company's contacts and open deals go with the company
(unless a split names a deal's own successor); a contact or deal not under a moved company goes
by the split or the rotation; an open activity goes with its deal, else its contact, else its
company, else the rotation. comms then moves each conversation after its deal, contact or
company (`handover.moved`). Every write is one UPDATE per successor and kind, whatever the book's
size; each record gets its own owner-change audit event, appended together.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connections, router
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.book import Handover, Holding
from config.bulk import ids_in
from crm import signals
from crm.models import Activity, Company, Contact, Deal
from crm.permissions import PERMISSION_TABLES

KINDS = (("company", Company), ("contact", Contact), ("deal", Deal))


def _by_successor(assignment: dict[int, int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for pk, successor in assignment.items():
        groups[successor].append(pk)
    return groups


def _owner_events(handover: Handover, kind: str, rows: dict, assignment: dict) -> list[dict]:
    reason = "offboarding" if handover.scope is None else "reassigned"
    # One data dict per successor, shared by their events: the ledger serialises it once.
    data = {
        successor: {
            "changes": {"owner": {"before": handover.leaver.pk, "after": successor}},
            "reason": reason,
            **({"offboarding": handover.offboarding_id} if handover.offboarding_id else {}),
        }
        for successor in set(assignment.values())
    }
    action = f"crm.{kind}.reassigned"
    target_type = f"crm.{kind}"
    return [
        {
            "actor": handover.actor,
            "action": action,
            "target": (target_type, pk, label),
            "data": data[assignment[pk]],
            "request": handover.request,
        }
        for pk, label in rows.items()
    ]


class CrmBook:
    key = "crm"

    def holdings(self, user) -> list[Holding]:
        companies = Company.objects.filter(owner=user).count()
        contacts = Contact.objects.filter(owner=user).count()
        deals = Deal.objects.filter(owner=user).aggregate(
            open=Count("pk", filter=Q(status=Deal.Status.OPEN)),
            closed=Count("pk", filter=~Q(status=Deal.Status.OPEN)),
        )
        activities = _open_activities(user).count()
        grants = sum(
            table.objects.filter(user=user).count() for table, _g in PERMISSION_TABLES.values()
        )
        owner = f"?owner={user.pk}"
        return [
            Holding("companies", _("Companies"), companies, reverse("crm:company-list") + owner),
            Holding("contacts", _("Contacts"), contacts, reverse("crm:contact-list") + owner),
            Holding(
                "deals_open",
                _("Deals (open)"),
                deals["open"],
                reverse("crm:deal-list") + owner + "&status=open",
            ),
            Holding(
                "deals_closed",
                _("Deals (closed)"),
                deals["closed"],
                reverse("crm:deal-list") + owner,
            ),
            Holding("activities_open", _("Open activities"), activities),
            Holding("grants", _("Records shared with them"), grants),
        ]

    def split_options(self, user, limit: int) -> dict[str, list[tuple[int, str]]]:
        return {
            "companies": list(
                Company.objects.filter(owner=user)
                .order_by("name")
                .values_list("pk", "name")[:limit]
            ),
            "deals": list(
                Deal.objects.filter(owner=user, status=Deal.Status.OPEN)
                .order_by("title")
                .values_list("pk", "title")[:limit]
            ),
        }

    def hand_over(self, handover: Handover) -> None:
        leaver = handover.leaver
        scope = handover.scope
        companies, contacts, deals = _book(leaver, scope)
        company_to = {pk: handover.successor_for("company", pk) for pk in companies}
        roots = dict(handover.moved.get("company", {}))
        company_for = {**roots, **company_to}
        contact_to = {
            pk: company_for.get(company_id) or handover.successor_for("contact", pk)
            for pk, (_label, company_id) in contacts.items()
        }
        deal_to = {}
        for pk, (_label, company_id, _open) in deals.items():
            named = (handover.split.get("deals") or {}).get(pk)
            deal_to[pk] = named or company_for.get(company_id) or handover.successor_for("deal", pk)
        activities = {}
        if scope is None:
            for pk, deal_id, contact_id, company_id in _open_activities(leaver).values_list(
                "pk", "deal_id", "contact_id", "company_id"
            ):
                activities[pk] = (
                    deal_to.get(deal_id)
                    or contact_to.get(contact_id)
                    or company_to.get(company_id)
                    or handover.successor_for("activity", pk)
                )
        grant_tables = (
            [(kind, PERMISSION_TABLES[model][0]._meta.db_table) for kind, model in KINDS]
            if scope is None
            else []
        )
        # A reassignment's roots (moved by the caller) are already in `moved`.
        for kind, assignment in (
            ("company", company_to),
            ("contact", contact_to),
            ("deal", deal_to),
        ):
            handover.moved.setdefault(kind, {}).update(assignment)
        counts = handover.counts
        counts["companies"] = len(company_to)
        counts["contacts"] = len(contact_to)
        counts["deals_open"] = sum(1 for _l, _c, is_open in deals.values() if is_open)
        counts["deals_closed"] = len(deals) - counts["deals_open"]
        counts["activities_open"] = len(activities)
        if handover.dry_run:
            counts["grants"] = sum(_grants(grant_tables, leaver.pk, delete=False).values())
            return
        for model, assignment in ((Company, company_to), (Contact, contact_to), (Deal, deal_to)):
            for successor, ids in _by_successor(assignment).items():
                model.objects.filter(pk__in=ids_in(model, ids)).update(owner_id=successor)
        for successor, ids in _by_successor(activities).items():
            Activity.objects.filter(pk__in=ids_in(Activity, ids)).update(author_id=successor)
        # What the leaver was given goes (the shares they gave others stay); each DELETE's row
        # count is the count, so execution needs no COUNT of its own.
        grant_counts = _grants(grant_tables, leaver.pk, delete=True)
        counts["grants"] = sum(grant_counts.values())
        handover.events += _owner_events(
            handover, "company", {pk: label for pk, label in companies.items()}, company_to
        )
        handover.events += _owner_events(
            handover, "contact", {pk: row[0] for pk, row in contacts.items()}, contact_to
        )
        handover.events += _owner_events(
            handover, "deal", {pk: row[0] for pk, row in deals.items()}, deal_to
        )
        if grant_counts and counts["grants"]:
            handover.events.append(
                {
                    "actor": handover.actor,
                    "action": "crm.share.revoked_all",
                    "target": leaver,
                    "data": {"grants": grant_counts, "reason": "offboarding"},
                    "request": handover.request,
                }
            )
        if scope is not None:
            # Sockets on the moved records' conversations recheck (the old owner may have lost
            # them); a whole book's leaver is deactivated, which closes every socket of theirs.
            for model, assignment in ((Contact, contact_to), (Deal, deal_to)):
                for pk in assignment:
                    signals.record_access_changed.send(sender=model, record=model(pk=pk))


def _grants(tables: list[tuple[str, str]], user_id: int, *, delete: bool) -> dict[str, int]:
    """Count (or delete) the object-permission rows granted to `user_id`, kind by kind, in one
    statement (PostgreSQL deletes through data-modifying CTEs; SQLite, a DELETE per table)."""
    if not tables:
        return {}
    connection = connections[router.db_for_write(Company)]
    with connection.cursor() as cursor:
        if not delete:
            sql = "SELECT " + ", ".join(  # noqa: S608 - table names come from the models
                f"(SELECT COUNT(*) FROM {table} WHERE user_id = %s)"  # noqa: S608
                for _k, table in tables
            )
            cursor.execute(sql, [user_id] * len(tables))
            return dict(zip((k for k, _t in tables), cursor.fetchone(), strict=True))
        if connection.vendor == "postgresql":
            ctes = ", ".join(
                f"d{i} AS (DELETE FROM {table} WHERE user_id = %s RETURNING 1)"  # noqa: S608
                for i, (_k, table) in enumerate(tables)
            )
            counts = ", ".join(
                f"(SELECT COUNT(*) FROM d{i})"  # noqa: S608
                for i in range(len(tables))
            )
            cursor.execute(f"WITH {ctes} SELECT {counts}", [user_id] * len(tables))
            return dict(zip((k for k, _t in tables), cursor.fetchone(), strict=True))
        found = {}
        for kind, table in tables:  # SQLite: no DELETE in a CTE
            cursor.execute(f"DELETE FROM {table} WHERE user_id = %s", [user_id])  # noqa: S608
            found[kind] = cursor.rowcount
        return found


def _open_activities(user):
    return Activity.objects.filter(author=user, done=False, archived_at__isnull=True).exclude(
        kind=Activity.Kind.NOTE
    )


def _book(leaver, scope):
    """(companies {pk: label}, contacts {pk: (label, company_id)}, deals {pk: (label,
    company_id, open)}) to move. The whole book: everything the leaver owns, archived included.
    A reassignment (scope): the roots were moved by the caller; here are the records that
    follow a moved company (its live contacts, its open deals) and that the old owner holds."""
    companies = Company.objects.filter(owner=leaver)
    contacts = Contact.objects.filter(owner=leaver)
    deals = Deal.objects.filter(owner=leaver)
    if scope is not None:
        company_ids = list(scope.get("company", []))
        cascade = scope.get("cascade", ())
        companies = companies.none()
        contacts = (
            contacts.filter(company_id__in=company_ids, archived_at__isnull=True)
            if "contacts" in cascade and company_ids
            else contacts.none()
        )
        deals = (
            deals.filter(
                company_id__in=company_ids, status=Deal.Status.OPEN, archived_at__isnull=True
            )
            if "deals" in cascade and company_ids
            else deals.none()
        )
    company_rows = dict(companies.values_list("pk", "name"))
    contact_rows = {
        pk: (f"{first} {last}".strip(), company_id)
        for pk, first, last, company_id in contacts.values_list(
            "pk", "first_name", "last_name", "company_id"
        )
    }
    deal_rows = {
        pk: (title, company_id, status == Deal.Status.OPEN)
        for pk, title, company_id, status in deals.values_list(
            "pk", "title", "company_id", "status"
        )
    }
    return company_rows, contact_rows, deal_rows
