"""The console's home page says whether the ledger can be trusted: its last verification (when,
intact or failed and the first problem) and its newest signed checkpoint with the witnesses that
hold it. Each verify_audit run and each nightly verification is recorded for it."""

import datetime as dt
import re

import pytest
from django.utils import timezone

import audit
from audit import services, tasks
from audit.models import AuditEvent, Verification
from tests.audit.ledger import EVENTS, sql, triggers_off, verify

CONSOLE = "/compliance/"


def _events(n):
    return [audit.record(actor=None, action="crm.deal.changed", data={"n": i}) for i in range(n)]


def panel(client, part: str) -> str:
    """The text of one part of the ledger panel, without tags."""
    page = client.get(CONSOLE).content.decode()
    found = re.search(rf'<dd data-testid="{part}">(.*?)</dd>', page, re.S)
    assert found, page
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_never_verified_and_no_checkpoint_say_so(client, compliance):
    client.force_login(compliance)
    assert "The ledger has never been verified." in panel(client, "ledger-verification")
    assert "No checkpoint signed yet." in panel(client, "ledger-checkpoint")


def test_the_console_shows_the_last_verification_and_checkpoint_after_verify_audit(
    client, compliance, audit_signing_key, settings, tmp_path
):
    witness_dir = tmp_path / "witness"
    witness_dir.mkdir()
    settings.AUDIT_WITNESS_DIRS = [str(witness_dir)]
    events = _events(5)
    tasks.checkpoint_create.apply().get()
    _events(2)
    assert verify()[0] == 0
    run = Verification.objects.get()
    assert (run.ok, run.source, run.last_seq, run.witness_status) == (
        True,
        "command",
        events[-1].seq + 2,
        "compared",
    )
    assert run.events_checked == events[-1].seq + 2 and run.finished_at is not None
    client.force_login(compliance)
    text = panel(client, "ledger-verification")
    local = timezone.localtime(run.finished_at).strftime("%-d %b %Y, %H:%M")
    assert (
        f"Intact Verified {run.events_checked} events up to seq {run.last_seq} on {local}" in text
    )
    assert "witnesses: compared with the witnesses" in text
    text = panel(client, "ledger-checkpoint")
    assert f"Seq {events[-1].seq}, signed on" in text
    unsigned = AuditEvent.objects.filter(seq__gt=events[-1].seq).count()  # + the sign-in
    assert unsigned >= 2 and f"{unsigned} newer events not yet signed." in text
    assert "Written to 1 of 1 witness." in text and "holds it" in text


def test_a_failed_run_is_shown_as_failed_with_its_first_problem(client, compliance):
    _events(4)
    assert verify()[0] == 0
    with triggers_off():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE seq = 2", ['{"n":"rewritten"}'])
    code, message = verify()
    assert code == 1
    failed = Verification.objects.first()
    assert failed.ok is False and failed.failed_check == "ledger"
    assert failed.first_problem == message and "seq 2: altered" in message
    client.force_login(compliance)
    text = panel(client, "ledger-verification")
    assert text.startswith("Failed Verification failed on")
    assert f"First problem: {message}" in text
    assert "Intact" not in text and "Last intact verification:" in text


def test_no_witness_and_a_stale_verification_are_shown_loudly(client, compliance):
    _events(1)
    assert verify()[0] == 0
    run = Verification.objects.get()
    assert run.witness_status == "none"
    Verification.objects.filter(pk=run.pk).update(finished_at=timezone.now() - dt.timedelta(days=2))
    client.force_login(compliance)
    text = panel(client, "ledger-verification")
    assert "more than a day and a half old" in text
    assert "witnesses: no witness configured" in text


def test_the_checkpoint_missing_from_a_witness_is_named(
    client, compliance, audit_signing_key, settings, tmp_path
):
    _events(3)
    services.checkpoint_create()  # written to no witness: none configured then
    present, absent = tmp_path / "a", tmp_path / "b"
    present.mkdir()
    absent.mkdir()
    settings.AUDIT_WITNESS_DIRS = [str(present), str(absent)]
    services.checkpoint_witness(services.checkpoint_create())
    next(absent.glob("checkpoint-*.json")).unlink()
    client.force_login(compliance)
    text = panel(client, "ledger-checkpoint")
    assert "Written to 1 of 2 witnesses." in text
    assert f"{absent} : missing" in text and f"{present} : holds it" in text


def test_no_witness_configured_is_said_next_to_the_checkpoint(
    client, compliance, audit_signing_key
):
    _events(2)
    services.checkpoint_create()
    client.force_login(compliance)
    text = panel(client, "ledger-checkpoint")
    assert "No witness is configured: the checkpoints live only in this database." in text


def test_a_damaged_record_fails_the_run_as_a_record_problem(
    client, compliance, rep, customer_contact
):
    from comms import services as comms_services
    from tests.comms.conftest import cid
    from tests.comms.guards import record_guards_off

    conversation = comms_services.conversation_start(actor=rep, contact=customer_contact)
    sent = comms_services.message_send(
        author=rep, conversation=conversation, body="100 units", client_id=cid()
    )
    with record_guards_off():
        sql("UPDATE comms_message SET body = %s WHERE id = %s", ["90 units", sent.message.pk])
    code, message = verify()
    assert code == 1
    run = Verification.objects.get()
    assert (run.ok, run.failed_check) == (False, "record")
    assert run.first_problem == message and f"message {sent.message.pk}" in message
    client.force_login(compliance)
    assert f"First problem: {message}" in panel(client, "ledger-verification")


def test_the_nightly_task_records_its_run(db, audit_signing_key):
    _events(3)
    result = tasks.verify_ledger.apply().get()
    run = Verification.objects.get()
    assert result == {"id": run.pk, "ok": True, "last_seq": run.last_seq, "problem": ""}
    assert run.source == "task" and run.witness_status == "none" and not run.records_skipped


def test_the_nightly_task_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["audit-verify"]
    assert entry["task"] == "audit.tasks.verify_ledger"
    assert entry["schedule"].hour == {settings.AUDIT_VERIFY_HOUR_UTC}


@pytest.mark.parametrize("actor", ["rep", "manager"])
def test_reps_and_managers_still_get_404(client, request, actor):
    client.force_login(request.getfixturevalue(actor))
    assert client.get(CONSOLE).status_code == 404


def test_the_panel_costs_the_same_queries_at_any_size(
    client, compliance, audit_signing_key, django_assert_max_num_queries
):
    client.force_login(compliance)
    client.get("/")
    counts = []
    for size in (2, 40):
        _events(size)
        services.checkpoint_create()
        verify()
        verify()
        with django_assert_max_num_queries(12) as captured:
            assert client.get(CONSOLE).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
