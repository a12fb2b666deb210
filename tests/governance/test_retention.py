# ruff: noqa: F811 - pytest fixtures imported from tests.governance.retention_fixtures
"""Retention: the dry run changes nothing, a purge tombstones what is past its period and not on
hold (held: kept, released: purged by the next run), one audit event per run with its counts,
the ledger is never purged, and the purge's queries do not grow with the data."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from comms.models import Attachment, Conversation, Message
from governance import retention
from governance.holds import legal_hold_place, legal_hold_release
from governance.models import RetentionPolicy
from tests.governance.retention_fixtures import (  # noqa: F401
    company,
    conversation,
    deal,
    other_contact,
    other_conversation,
    record,
    send,
    verify,
)

LATER = timedelta(days=400)  # a year and a bit: past a 365-day period


def _policy(record_class, days):
    RetentionPolicy.objects.update_or_create(
        record_class=record_class, defaults={"period_days": days}
    )


def _hold(actor, scope, target):
    return legal_hold_place(
        actor=actor, scope=scope, target_id=target.pk, matter="Acme v. Keepline", reason="Notice"
    )


@pytest.fixture
def web_year(db):
    _policy("messages:web", 365)


def _purge_runs():
    return AuditEvent.objects.filter(action="governance.retention.purged").order_by("seq")


def test_nothing_is_due_under_the_six_year_default(record):
    report = retention.retention_purge(now=timezone.now() + LATER)
    assert report.by_class()["messages:web"].period_days == 6 * 365 + 2
    assert report.by_class()["messages:web"].due == 0
    assert not Message.objects.filter(purged_at__isnull=False).exists()


def test_the_dry_run_changes_nothing(record, web_year):
    before = list(Message.objects.order_by("pk").values_list("body", "purged_at"))
    events = AuditEvent.objects.count()
    out = StringIO()
    call_command("retention_report", "--now", (timezone.now() + LATER).isoformat(), stdout=out)
    text = out.getvalue()
    assert "Dry run" in text and "nothing changed" in text
    web = next(line for line in text.splitlines() if line.startswith("messages:web"))
    assert web.split()[1:4] == ["365d", "2", "0"]  # period, due, held
    assert "never deleted" in text
    assert list(Message.objects.order_by("pk").values_list("body", "purged_at")) == before
    assert AuditEvent.objects.count() == events


def test_a_purge_tombstones_what_is_due_and_the_record_verifies(record, web_year):
    edited, attachment, plain = record
    report = retention.retention_purge(now=timezone.now() + LATER)
    assert report.by_class()["messages:web"].purged == 2
    assert set(Message.objects.filter(purged_at__isnull=False).values_list("pk", flat=True)) == {
        edited.pk,
        plain.pk,
    }
    assert Attachment.objects.get(pk=attachment.pk).purged_at is not None
    code, out = verify()
    assert code == 0, out
    run = _purge_runs().get()
    assert run.actor_type == "system"
    assert run.data["purged"] == {"messages:web": 2}
    assert run.data["files_with_messages"] == 1 and run.data["revisions"] == 1
    assert run.data["complete"] is True and "never deleted" in run.data["note"]


def test_a_purge_respects_holds_and_a_released_hold_is_purged_next_run(
    record, web_year, compliance, customer_contact, other_rep, other_conversation
):
    edited, _, plain = record
    unrelated = send(other_rep, other_conversation, "not held")
    hold = _hold(compliance, "contact", customer_contact)
    later = timezone.now() + LATER
    report = retention.retention_purge(now=later)
    assert report.by_class()["messages:web"].held == 2
    assert report.by_class()["messages:web"].purged == 1
    assert Message.objects.get(pk=unrelated.pk).purged_at is not None
    assert Message.objects.get(pk=plain.pk).body == "See you Monday"
    assert Message.objects.get(pk=edited.pk).purged_at is None

    legal_hold_release(actor=compliance, hold=hold, reason="Settled")
    report = retention.retention_purge(now=later)
    assert report.by_class()["messages:web"].purged == 2
    assert Message.objects.filter(purged_at__isnull=True).count() == 0
    assert [run.data["purged"] for run in _purge_runs()] == [
        {"messages:web": 1},
        {"messages:web": 2},
    ]
    assert _purge_runs().first().data["held"] == {"messages:web": 2}
    assert verify()[0] == 0


def test_closed_conversations_have_their_own_period(record, conversation, rep):
    _policy("closed_conversations", 30)
    later = timezone.now() + timedelta(days=31)
    assert retention.retention_purge(now=later).by_class()["closed_conversations"].purged == 0
    Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.CLOSED)
    report = retention.retention_purge(now=later)
    assert report.by_class()["closed_conversations"].purged == 2
    assert verify()[0] == 0


def test_files_have_their_own_period_and_keep_their_rows(record):
    edited, attachment, _ = record
    _policy("attachments", 10)
    report = retention.retention_purge(now=timezone.now() + timedelta(days=11))
    assert report.by_class()["attachments"].purged == 1
    attachment.refresh_from_db()
    assert attachment.purged_at is not None and attachment.name == "proposal.txt"
    assert Message.objects.get(pk=edited.pk).body == "Preço: 120"  # the text stays
    assert verify()[0] == 0


def test_audit_events_are_reported_never_deleted(record):
    _policy("audit_events", 1)
    events = AuditEvent.objects.count()
    report = retention.retention_purge(now=timezone.now() + timedelta(days=2))
    assert report.by_class()["audit_events"].due == events
    assert report.by_class()["audit_events"].purged == 0
    assert AuditEvent.objects.count() == events + 1  # the run's own event
    assert _purge_runs().get().data["audit_events_past_retention"] == events


def test_one_event_per_run_and_the_purge_command(record, web_year):
    out = StringIO()
    call_command(
        "retention_report", "--purge", "--now", (timezone.now() + LATER).isoformat(), stdout=out
    )
    assert "Purge at" in out.getvalue()
    assert _purge_runs().count() == 1
    assert Message.objects.filter(purged_at__isnull=False).count() == 2


def test_the_nightly_task_is_scheduled_and_purges(settings, record, web_year):
    from governance import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["governance-retention-purge"]
    assert entry["task"] == "governance.tasks.retention_purge"
    counts = tasks.retention_purge.apply().get()  # now: nothing is a year old yet
    assert counts["purged"] == {} and counts["complete"] is True
    assert _purge_runs().count() == 1


def test_purge_queries_are_constant_as_data_grows(
    record, rep, conversation, web_year, django_assert_max_num_queries
):
    later = timezone.now() + LATER
    retention.retention_purge(now=later)  # the record's messages and file
    for i in range(2):
        send(rep, conversation, f"first {i}")
    with django_assert_max_num_queries(60) as small:
        retention.retention_purge(now=later)
    for i in range(25):
        send(rep, conversation, f"message {i}")
    with django_assert_max_num_queries(60) as large:
        report = retention.retention_purge(now=later)
    assert report.by_class()["messages:web"].purged == 25
    assert len(large.captured_queries) == len(small.captured_queries)


@pytest.mark.parametrize("scope", ["company", "deal", "user"])
def test_a_hold_keeps_only_its_own_scope(
    scope, record, web_year, compliance, rep, company, deal, other_rep, other_conversation
):
    """Rows with no company or deal (the other customer's) are not taken for held ones."""
    unrelated = send(other_rep, other_conversation, "not held")
    _hold(compliance, scope, {"company": company, "deal": deal, "user": rep}[scope])
    report = retention.retention_purge(now=timezone.now() + LATER)
    assert report.by_class()["messages:web"].held == 2
    assert report.by_class()["messages:web"].due == 1
    assert Message.objects.get(pk=unrelated.pk).purged_at is not None
    assert Message.objects.filter(purged_at__isnull=True).count() == 2
