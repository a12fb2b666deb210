"""Offboarding on PostgreSQL: one rep's whole book handed to one successor.

The book: 10k contacts, 2k companies, 5k deals (two thirds open), 20k conversations (10% open or
pending, the rest closed; the leaver is a participant of each), 30k guardian object-permission
grants given TO the leaver (view and change on contacts, deals and companies someone else
owns), and 1k open activities. --quick: a tenth of that. Loaded with bulk_create, not services.

preview_s: accounts.offboarding.user_offboard_preview; execute_s: user_offboard (one
successor, commit and its on-commit hooks included); queries: statements user_offboard ran
(baseline: the book's record count). The baseline of execute_s is the naive loop on an
identical second book (another leaver, same run): each company, contact, deal saved with its
new owner and audited one by one, each conversation saved with its new assignee and audited, a
Participant created for the successor per open conversation, a continuity message per open
customer conversation through comms.services.message_post_system one at a time, each grant
deleted; speedup = naive / execute. Targets (issue 12): execute under 3 s, at least 20x the
naive loop, at most 30 queries whatever the size.

Uses DATABASE_URL when it is PostgreSQL, else postgres://postgres@127.0.0.1:5432/keepline_bench
(created and migrated if needed). Only rows of the bench's own users (bench_off_*) are replaced,
and the ledger is emptied.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit  # noqa: E402
from bench.crm_visibility import database_url, ensure_database, setup_django  # noqa: E402

BENCH = "offboard"
FULL = {
    "contacts": 10_000,
    "companies": 2_000,
    "deals": 5_000,
    "conversations": 20_000,
    "grants": 30_000,
    "activities": 1_000,
}
OPEN_EVERY = 10  # one conversation in ten is open (or pending)
BATCH = 5_000


def people():
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import Team, User

    team, _ = Team.objects.get_or_create(name="bench-offboard")

    def user(name, role, **extra):
        u, _ = User.objects.update_or_create(
            username=name,
            defaults={"is_active": True, "manager": None, "first_name": name, **extra},
        )
        u.groups.set([Group.objects.get(name=role)])
        return u

    admin = user("bench_off_admin", roles.ADMIN)
    successor = user("bench_off_successor", roles.REP, team=team, last_name="Successor")
    leavers = [
        user("bench_off_leaver_a", roles.REP, team=team),
        user("bench_off_leaver_b", roles.REP, team=team),
    ]
    # The other leaver's twin: the owner of the records each leaver was given grants on.
    granters = [user("bench_off_granter", roles.REP, team=team)]
    return admin, successor, leavers, granters


def clear(user_ids: list[int]) -> None:
    """Delete every row the bench's users own, hold or appear in, and empty the ledger."""
    from django.db import connection

    from accounts.models import Offboarding
    from audit import ddl
    from comms import ddl as record_ddl

    owned = {
        table: f"SELECT id FROM {table} WHERE owner_id = ANY(%(u)s)"
        for table in ("crm_company", "crm_contact", "crm_deal")
    }
    conversations = (
        "SELECT id FROM comms_conversation WHERE assignee_id = ANY(%(u)s)"
        f" OR contact_id IN ({owned['crm_contact']})"
    )
    statements = [
        f"DELETE FROM comms_messagerevision WHERE message_id IN"
        f" (SELECT id FROM comms_message WHERE conversation_id IN ({conversations}))",
        f"DELETE FROM comms_attachment WHERE conversation_id IN ({conversations})",
        f"DELETE FROM comms_message WHERE conversation_id IN ({conversations})",
        f"DELETE FROM comms_customerlink WHERE conversation_id IN ({conversations})",
        f"DELETE FROM comms_participant WHERE conversation_id IN ({conversations})"
        " OR user_id = ANY(%(u)s)",
        f"DELETE FROM comms_conversation WHERE id IN ({conversations})",
        "DELETE FROM crm_activity WHERE author_id = ANY(%(u)s)"
        f" OR deal_id IN ({owned['crm_deal']}) OR contact_id IN ({owned['crm_contact']})"
        f" OR company_id IN ({owned['crm_company']})",
    ]
    for kind in ("company", "contact", "deal"):
        for table in (f"crm_{kind}userobjectpermission", f"crm_{kind}groupobjectpermission"):
            statements.append(
                f"DELETE FROM {table} WHERE content_object_id IN ({owned['crm_' + kind]})"
            )
        statements.append(f"DELETE FROM crm_{kind}userobjectpermission WHERE user_id = ANY(%(u)s)")
        statements.append(
            f"DELETE FROM crm_{kind}_tags WHERE {kind}_id IN ({owned['crm_' + kind]})"
        )
    statements += [
        f"DELETE FROM crm_deal_contacts WHERE deal_id IN ({owned['crm_deal']})",
        f"DELETE FROM crm_contactemail WHERE contact_id IN ({owned['crm_contact']})",
        f"DELETE FROM crm_contactphone WHERE contact_id IN ({owned['crm_contact']})",
        f"DELETE FROM crm_contactconsent WHERE contact_id IN ({owned['crm_contact']})",
        "DELETE FROM crm_deal WHERE owner_id = ANY(%(u)s)",
        "DELETE FROM crm_contact WHERE owner_id = ANY(%(u)s)",
        "DELETE FROM crm_company WHERE owner_id = ANY(%(u)s)",
    ]
    # The bench owns its database: it lifts the conversation record's guards (comms/ddl.py) for
    # the deletes, as only the tables' owner can, and puts them back.
    record_ddl.remove(connection)
    try:
        with connection.cursor() as cur:
            cur.execute("ANALYZE")  # fresh statistics: the deletes' foreign-key checks use indexes
            for sql in statements:
                cur.execute(sql, {"u": user_ids})
    finally:
        record_ddl.install(connection)
    Offboarding.objects.filter(user_id__in=user_ids).delete()
    # The bench database's ledger starts empty each run (as bench/audit_append.py's does): it
    # grows by ~45k events a run, and a measurement should not depend on how many ran before.
    with connection.cursor() as cur:
        cur.execute(f"SET {ddl.MAINTENANCE_SETTING} = 'on'")
        cur.execute(f"TRUNCATE {ddl.EVENT_TABLE}, {ddl.CHECKPOINT_TABLE}, {ddl.HEAD_TABLE}")
        cur.execute(f"RESET {ddl.MAINTENANCE_SETTING}")


def load_book(leaver, size: dict) -> dict:
    """The leaver's records and conversations (bulk_create); returns their ids."""
    from comms.models import Conversation, Participant
    from crm.models import Activity, Company, Contact, Deal, Pipeline

    pipeline = Pipeline.objects.get(is_default=True)
    stage = pipeline.stages.order_by("position").first()
    companies = Company.objects.bulk_create(
        [
            Company(name=f"Company {i}", owner=leaver, domain=f"c{i}.example.com")
            for i in range(size["companies"])
        ],
        batch_size=BATCH,
    )
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                first_name=f"First{i}",
                last_name=f"Last{i}",
                owner=leaver,
                # four in five contacts work for one of the leaver's companies
                company=companies[i % len(companies)] if i % 5 else None,
            )
            for i in range(size["contacts"])
        ],
        batch_size=BATCH,
    )
    deals = Deal.objects.bulk_create(
        [
            Deal(
                title=f"Deal {i}",
                owner=leaver,
                company=companies[i % len(companies)] if i % 4 else None,
                primary_contact=contacts[i % len(contacts)],
                pipeline=pipeline,
                stage=stage,
                amount=1000 + i,
                status=Deal.Status.WON if i % 3 == 0 else Deal.Status.OPEN,
            )
            for i in range(size["deals"])
        ],
        batch_size=BATCH,
    )
    Activity.objects.bulk_create(
        [
            Activity(
                kind=Activity.Kind.TASK,
                subject=f"Call back {i}",
                author=leaver,
                deal=deals[i % len(deals)],
            )
            for i in range(size["activities"])
        ],
        batch_size=BATCH,
    )
    statuses = (Conversation.Status.OPEN, Conversation.Status.PENDING)
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(
                kind=Conversation.Kind.WHATSAPP if i % 7 == 0 else Conversation.Kind.WEB,
                status=(
                    statuses[(i // OPEN_EVERY) % 2]
                    if i % OPEN_EVERY == 0
                    else Conversation.Status.CLOSED
                ),
                contact=contacts[i % len(contacts)],
                deal=deals[i % len(deals)] if i % 3 == 0 else None,
                assignee=leaver,
                team_id=leaver.team_id,
                subject=f"Conversation {i}",
                created_by=leaver,
            )
            for i in range(size["conversations"])
        ],
        batch_size=BATCH,
    )
    Participant.objects.bulk_create(
        [
            Participant(conversation=c, user=leaver, role=Participant.Role.AGENT)
            for c in conversations
        ],
        batch_size=BATCH,
    )
    return {
        "companies": [c.pk for c in companies],
        "contacts": [c.pk for c in contacts],
        "deals": [d.pk for d in deals],
    }


def load_grants(user, book: dict, n: int) -> None:
    """n grants TO `user` on another person's records: view and change on contacts first, then
    deals, then companies."""
    from django.contrib.auth.models import Permission

    from crm.models import (
        CompanyUserObjectPermission,
        ContactUserObjectPermission,
        DealUserObjectPermission,
    )

    tables = (
        ("contact", "contacts", ContactUserObjectPermission),
        ("deal", "deals", DealUserObjectPermission),
        ("company", "companies", CompanyUserObjectPermission),
    )
    left = n
    for model, key, table in tables:
        perms = [
            Permission.objects.get(content_type__app_label="crm", codename=f"{verb}_{model}")
            for verb in ("view", "change")
        ]
        rows = [
            table(user=user, permission=perm, content_object_id=pk)
            for pk in book[key]
            for perm in perms
        ][:left]
        table.objects.bulk_create(rows, batch_size=BATCH)
        left -= len(rows)
        if left <= 0:
            return


def record_count(size: dict) -> int:
    return sum(size.values())


def naive_offboard(actor, leaver, successor) -> None:
    """What offboarding does, one object at a time through the ORM and the one message path."""
    import uuid

    from django.db import transaction

    import audit
    from comms.book import CONTINUITY, continuity_text
    from comms.models import Conversation, Participant
    from comms.services import message_post_system
    from crm.book import _open_activities
    from crm.models import Company, Contact, Deal
    from crm.permissions import PERMISSION_TABLES

    def reassigned(kind, obj):
        audit.record(
            actor=actor,
            action=f"crm.{kind}.reassigned",
            target=obj,
            data={
                "changes": {"owner": {"before": leaver.pk, "after": successor.pk}},
                "reason": "offboarding",
            },
        )

    with transaction.atomic():
        for kind, model in (("company", Company), ("contact", Contact), ("deal", Deal)):
            for obj in model.objects.filter(owner=leaver):
                obj.owner = successor
                obj.save()
                reassigned(kind, obj)
        for activity in _open_activities(leaver):
            activity.author = successor
            activity.save()
        open_conversations = Conversation.objects.filter(assignee=leaver).exclude(
            status=Conversation.Status.CLOSED
        )  # closed ones keep their history with the leaver, as in offboarding
        for conversation in open_conversations.select_related("contact"):
            conversation.assignee = successor
            conversation.team_id = successor.team_id
            conversation.save()
            audit.record(
                actor=actor,
                action="comms.conversation.assigned",
                target=conversation,
                data={"from": leaver.pk, "to": successor.pk, "reason": "offboarding"},
            )
            Participant.objects.create(
                conversation=conversation, user=successor, role=Participant.Role.AGENT
            )
            if not conversation.is_internal:
                message_post_system(
                    conversation=conversation,
                    body=continuity_text(successor, None),
                    client_id=uuid.uuid5(CONTINUITY, f"naive:{conversation.pk}"),
                    reason="offboarding",
                )
        for participant in Participant.objects.filter(user=leaver, left_at__isnull=True):
            participant.left_at = participant.joined_at
            participant.save()
        for user_table, _group_table in PERMISSION_TABLES.values():
            for grant in user_table.objects.filter(user=leaver):
                grant.delete()
        leaver.is_active = False
        leaver.save()
        audit.record(actor=actor, action="accounts.user.offboarded", target=leaver)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--show-queries", action="store_true", help="Print every statement.")
    args = parser.parse_args()
    size = {k: v // 10 for k, v in FULL.items()} if args.quick else dict(FULL)
    url = database_url()
    ensure_database(url)
    setup_django(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts import offboarding

    if connection.vendor != "postgresql":
        raise SystemExit("offboard needs PostgreSQL")
    admin, successor, leavers, granters = people()
    clear([*(u.pk for u in leavers), successor.pk, *(u.pk for u in granters)])
    t0 = time.perf_counter()
    books = [load_book(leaver, size) for leaver in leavers]
    # Each leaver was given grants on the other's records.
    load_grants(leavers[0], books[1], size["grants"])
    load_grants(leavers[1], books[0], size["grants"])
    with connection.cursor() as cur:
        # A live database is vacuumed by autovacuum; a bench that loads, deletes and reloads
        # must do it itself, or each run measures the dead rows of the runs before it.
        cur.execute("VACUUM ANALYZE")
    print(f"# loaded two books of {size} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    n = record_count(size)
    leaver, twin = leavers

    start = time.perf_counter()
    preview = offboarding.user_offboard_preview(
        offboarding.offboarding_plan(actor=admin, leaver=leaver, successor=successor)
    )
    preview_s = time.perf_counter() - start
    print(f"# preview counts {preview.counts}", file=sys.stderr)

    handover = offboarding.offboarding_plan(actor=admin, leaver=leaver, successor=successor)
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        result = offboarding.user_offboard(handover)
        execute_s = time.perf_counter() - start
    queries = len(ctx.captured_queries)
    if result.counts != preview.counts:
        raise SystemExit(f"preview {preview.counts} != executed {result.counts}")
    if args.show_queries:
        for q in ctx.captured_queries:
            print(f"#   {float(q['time']):.3f}s {q['sql'][:110]}", file=sys.stderr)
    slowest = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:5]
    for q in slowest:
        print(f"#   {float(q['time']):.3f}s {q['sql'][:140]}", file=sys.stderr)

    naive_queries = [0]

    def count(execute, sql, params, many, context):
        naive_queries[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        start = time.perf_counter()
        naive_offboard(admin, twin, successor)
        naive_s = time.perf_counter() - start
    print(
        f"# preview {preview_s:.2f}s execute {execute_s:.2f}s ({queries} queries)"
        f" naive {naive_s:.1f}s ({naive_queries[0]} queries)",
        file=sys.stderr,
    )
    emit(BENCH, "preview_s", preview_s, "s", n)
    emit(BENCH, "execute_s", execute_s, "s", n, baseline=naive_s)
    emit(BENCH, "speedup", naive_s / execute_s, "x", n)
    emit(BENCH, "queries", queries, "queries", n, baseline=naive_queries[0])
    misses = [
        miss
        for miss, bad in (
            (f"execute {execute_s:.2f}s >= 3s", execute_s >= 3),
            (f"speedup {naive_s / execute_s:.1f}x < 20x", naive_s / execute_s < 20),
            (f"{queries} queries > 30", queries > 30),
        )
        if bad
    ]
    if misses:
        print(f"# targets missed: {'; '.join(misses)}", file=sys.stderr)


if __name__ == "__main__":
    main()
