"""Offboarding runs a constant number of queries whatever the size of the book
(accounts.offboarding: one UPDATE per successor and kind, one DELETE per grant table, one batch
of continuity messages, one audit append)."""

from collections import Counter

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import offboarding
from comms.models import Conversation, Participant
from crm.models import (
    Activity,
    Company,
    Contact,
    ContactUserObjectPermission,
    Deal,
    DealUserObjectPermission,
    Pipeline,
)
from tests.comms.conftest import ensure_default_pipeline
from tests.factories import ROLE, make_user

pytestmark = pytest.mark.django_db


def build_book(leaver, granter, n: int) -> None:
    """About n records: n/5 companies, n/2 contacts, n/4 deals, n conversations (one in five
    open: even the small book posts two continuity messages, so both take messages_store's batch
    path; a lone message is one conditional UPDATE, two statements fewer), n/2 grants given to
    the leaver on `granter`'s records, n/20 open tasks."""
    ensure_default_pipeline()
    pipeline = Pipeline.objects.get(is_default=True)
    stage = pipeline.stages.order_by("position").first()
    companies = Company.objects.bulk_create(
        [Company(name=f"Co {i}", owner=leaver) for i in range(max(n // 5, 1))]
    )
    contacts = Contact.objects.bulk_create(
        [
            Contact(first_name=f"C{i}", owner=leaver, company=companies[i % len(companies)])
            for i in range(max(n // 2, 1))
        ]
    )
    deals = Deal.objects.bulk_create(
        [
            Deal(
                title=f"D{i}",
                owner=leaver,
                company=companies[i % len(companies)] if i % 2 else None,
                pipeline=pipeline,
                stage=stage,
                status=Deal.Status.WON if i % 3 == 0 else Deal.Status.OPEN,
            )
            for i in range(max(n // 4, 1))
        ]
    )
    Activity.objects.bulk_create(
        [
            Activity(kind=Activity.Kind.TASK, subject=f"T{i}", author=leaver, deal=deals[i])
            for i in range(max(n // 20, 1))
        ]
    )
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(
                contact=contacts[i % len(contacts)],
                deal=deals[i % len(deals)] if i % 3 == 0 else None,
                assignee=leaver,
                status=Conversation.Status.OPEN if i % 10 in (0, 5) else Conversation.Status.CLOSED,
            )
            for i in range(n)
        ]
    )
    Participant.objects.bulk_create(
        [
            Participant(conversation=c, user=leaver, role=Participant.Role.AGENT)
            for c in conversations
        ]
    )
    view_contact = Permission.objects.get(content_type__app_label="crm", codename="view_contact")
    view_deal = Permission.objects.get(content_type__app_label="crm", codename="view_deal")
    theirs = Contact.objects.bulk_create(
        [Contact(first_name=f"G{i}", owner=granter) for i in range(max(n // 4, 1))]
    )
    their_deals = Deal.objects.bulk_create(
        [
            Deal(title=f"G{i}", owner=granter, pipeline=pipeline, stage=stage)
            for i in range(max(n // 4, 1))
        ]
    )
    ContactUserObjectPermission.objects.bulk_create(
        [
            ContactUserObjectPermission(user=leaver, permission=view_contact, content_object=c)
            for c in theirs
        ]
    )
    DealUserObjectPermission.objects.bulk_create(
        [
            DealUserObjectPermission(user=leaver, permission=view_deal, content_object=d)
            for d in their_deals
        ]
    )


def shapes(sql: list[str]) -> Counter:
    return Counter(s[:70] for s in sql)


def statements(fn, *args):
    with CaptureQueriesContext(connection) as ctx:
        result = fn(*args)
    return result, [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def people(db, admin_user, team):
    return {
        "small": make_user(ROLE.REP, username="small", team=team),
        "large": make_user(ROLE.REP, username="large", team=team),
        "successor": make_user(ROLE.REP, username="ana", first_name="Ana", team=team),
        "granter": make_user(ROLE.REP, username="granter", team=team),
        "admin": admin_user,
    }


def test_offboarding_costs_the_same_queries_for_10_and_2000_records(people):
    build_book(people["small"], people["granter"], 10)
    build_book(people["large"], people["granter"], 2000)

    def plan(leaver):
        return offboarding.offboarding_plan(
            actor=people["admin"], leaver=leaver, successor=people["successor"]
        )

    previews, runs = {}, {}
    for size in ("small", "large"):
        previews[size] = statements(offboarding.user_offboard_preview, plan(people[size]))
        runs[size] = statements(offboarding.user_offboard, plan(people[size]))

    large = runs["large"][0].counts
    assert large["conversations_open"] == 400 and large["continuity_messages"] == 400
    assert large["grants"] == 1000 and large["contacts"] == 1000
    # open conversations move; the 1,600 closed ones keep their history with the leaver
    assert (
        Conversation.objects.filter(assignee=people["large"]).exclude(status="closed").count() == 0
    )
    records = sum(v for k, v in large.items() if k != "continuity_messages")
    assert records == 5000 - 1600

    small_preview, large_preview = len(previews["small"][1]), len(previews["large"][1])
    small_run, large_run = len(runs["small"][1]), len(runs["large"][1])
    assert small_preview == large_preview, (
        shapes(previews["small"][1]),
        shapes(previews["large"][1]),
    )
    if connection.vendor == "postgresql":
        assert large_run <= 40, shapes(runs["large"][1])
        assert small_run == large_run, (shapes(runs["small"][1]), shapes(runs["large"][1]))
    else:
        # SQLite: bulk INSERTs (participants, messages, audit rows) split at its parameter
        # limit, so the large book may cost a few more statements, never one per record.
        assert small_run <= large_run < small_run + records // 50


@pytest.mark.postgres
def test_on_postgresql_the_execution_stays_within_the_issue_budget(people):
    build_book(people["large"], people["granter"], 2000)
    plan = offboarding.offboarding_plan(
        actor=people["admin"], leaver=people["large"], successor=people["successor"]
    )
    _result, sql = statements(offboarding.user_offboard, plan)
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT")
    assert len([s for s in sql if not s.upper().startswith(control)]) <= 31, shapes(sql)
