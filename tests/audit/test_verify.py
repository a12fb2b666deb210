"""verify_audit names the exact sequence number and kind of each tamper case."""

import json

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

import audit
from audit import ddl
from audit.models import AuditCheckpoint, AuditEvent
from tests.audit.ledger import (
    EVENTS,
    forge_event,
    recompute_chain_from,
    renumber,
    shift_up_from,
    sql,
    triggers_off,
    verify,
)


@pytest.fixture
def ten_events(db):
    target = ("crm.deal", "7", "Big deal")
    events = [
        audit.record(
            actor=None, action="crm.deal.changed", target=target, data={"n": i, "note": "é\n"}
        )
        for i in range(1, 11)
    ]
    assert [e.seq for e in events] == list(range(1, 11))
    return events


def test_intact_ledger_verifies(ten_events):
    assert verify() == (0, f"verified 10 events up to seq 10, head {ten_events[-1].hash}")
    assert verify("--from", "4") == (
        0,
        f"verified 7 events up to seq 10, head {ten_events[-1].hash}",
    )


@pytest.mark.django_db
def test_empty_ledger_verifies():
    assert verify() == (0, "verified 0 events up to seq 0, head " + "0" * 64)


def test_raw_sql_edit_of_one_event_is_altered_at_that_seq(ten_events):
    with triggers_off():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE seq = 4", ['{"n":400,"note":"é\\n"}'])
    code, message = verify()
    assert code == 1
    assert "seq 4: altered" in message


def test_edit_of_the_actor_label_is_altered(ten_events):
    with triggers_off():
        sql(f"UPDATE {EVENTS} SET actor_label = 'someone_else' WHERE seq = 7")
    assert verify()[1].startswith("audit ledger damaged at seq 7: altered")


def test_deleted_event_is_missing_at_its_seq(ten_events):
    with triggers_off():
        sql(f"DELETE FROM {EVENTS} WHERE seq = 6")
    code, message = verify()
    assert code == 1 and "seq 6: missing" in message


def test_deleted_event_with_later_events_renumbered_is_missing(ten_events):
    with triggers_off():
        sql(f"DELETE FROM {EVENTS} WHERE seq = 6")
        for seq in range(7, 11):
            renumber(seq, seq - 1)
        sql(f"UPDATE {ddl.HEAD_TABLE} SET seq = 9 WHERE id = 1")
    code, message = verify()
    assert code == 1 and "seq 6: missing" in message


def test_deleted_tail_is_missing_after_the_last_event(ten_events):
    with triggers_off():
        sql(f"DELETE FROM {EVENTS} WHERE seq >= 9")
    code, message = verify()
    assert code == 1 and "seq 9: missing" in message


def test_two_swapped_events_are_reordered_at_the_first(ten_events):
    with triggers_off():
        renumber(3, -3)
        renumber(8, 3)
        renumber(-3, 8)
    code, message = verify()
    assert code == 1
    assert "seq 3: reordered" in message and "recorded as seq 8" in message


def test_two_adjacent_swapped_events_are_reordered(ten_events):
    with triggers_off():
        renumber(5, -5)
        renumber(6, 5)
        renumber(-5, 6)
    code, message = verify()
    assert code == 1
    assert "seq 5: reordered" in message and "recorded as seq 6" in message


def test_forged_event_inserted_with_a_valid_hash_is_inserted_at_its_seq(ten_events):
    with triggers_off():
        shift_up_from(5)
        forge_event(5, ten_events[3].hash)
    code, message = verify()
    assert code == 1 and "seq 5: inserted" in message


def test_forged_event_inserted_with_a_made_up_hash_is_inserted_at_its_seq(ten_events):
    with triggers_off():
        shift_up_from(5)
        forge_event(5, ten_events[3].hash, valid_hash=False)
    code, message = verify()
    assert code == 1 and "seq 5: inserted" in message


def test_forged_event_appended_beyond_the_head_is_inserted(ten_events):
    with triggers_off():
        forge_event(11, ten_events[-1].hash)
    code, message = verify()
    assert code == 1 and "seq 11: inserted" in message


def test_recomputed_chain_is_caught_by_a_checkpoint_file_kept_outside(
    ten_events, audit_signing_key, tmp_path, capsys
):
    call_command("audit_checkpoint")  # seq 10, also kept in the database
    outside = tmp_path / "checkpoints.jsonl"
    outside.write_text(capsys.readouterr().out)
    assert json.loads(outside.read_text())["seq"] == 10
    with triggers_off():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE seq = 5", ['{"n":5,"note":"rewritten"}'])
        recompute_chain_from(5)
        sql(f"DELETE FROM {ddl.CHECKPOINT_TABLE}")  # a thorough attacker removes these too
    # The chain is internally consistent again: only the copy kept outside can tell.
    assert verify()[0] == 0
    code, message = verify("--checkpoint", str(outside))
    assert code == 1
    assert "seq 10: altered" in message and "checkpoint file" in message


def test_recomputed_chain_is_caught_by_the_signed_checkpoints_in_the_database(
    db, audit_signing_key
):
    from audit import services

    for i in range(1, 11):
        audit.record(actor=None, action="accounts.team.changed", data={"n": i})
        if i in (3, 10):
            services.checkpoint_create()
    assert list(AuditCheckpoint.objects.values_list("seq", flat=True)) == [3, 10]
    with triggers_off():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE seq = 6", ['{"n":60}'])
        recompute_chain_from(6)
    code, message = verify()
    assert code == 1
    assert "seq 10: altered" in message and "after seq 3 up to seq 10" in message


def test_checkpoint_with_a_bad_signature_is_named(ten_events, audit_signing_key, tmp_path, capsys):
    from audit import services

    checkpoint = services.checkpoint_create()
    with triggers_off():
        sql(f"UPDATE {ddl.CHECKPOINT_TABLE} SET head_hash = %s", ["ab" * 32])
    code, message = verify()
    assert code == 1 and f"seq {checkpoint.seq}: bad checkpoint signature" in message
    document = services.checkpoint_document(checkpoint)
    document["signature"] = "00" * 64
    outside = tmp_path / "checkpoint.json"
    outside.write_text(json.dumps(document))
    code, message = verify("--checkpoint", str(outside))
    assert code == 1 and "seq 10: bad checkpoint signature" in message


def test_checkpoint_signed_by_another_key_is_a_bad_signature(
    ten_events, audit_signing_key, settings
):
    from audit import services

    services.checkpoint_create()
    settings.AUDIT_SIGNING_KEY = "A" * 43 + "="  # a different (all-zero) seed is now trusted
    code, message = verify()
    assert code == 1 and "seq 10: bad checkpoint signature" in message


def test_triggers_reject_update_and_delete_from_the_app_connection(ten_events, audit_signing_key):
    from audit import services

    services.checkpoint_create()
    for statement in (
        f"UPDATE {EVENTS} SET action = 'x.y.z' WHERE seq = 1",
        f"DELETE FROM {EVENTS} WHERE seq = 10",
        f"UPDATE {ddl.CHECKPOINT_TABLE} SET seq = 1",
        f"DELETE FROM {ddl.CHECKPOINT_TABLE}",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            sql(statement)
    assert verify()[0] == 0
    assert AuditEvent.objects.count() == 10


@pytest.mark.postgres
def test_postgres_triggers_also_refuse_truncate_and_replica_mode(ten_events):
    for table in ddl.IMMUTABLE_TABLES:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            sql(f"TRUNCATE {table}")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql("SET LOCAL session_replication_role = replica")
        sql(f"DELETE FROM {EVENTS} WHERE seq = 1")
    assert verify()[0] == 0


def test_seed_demo_ledger_verifies_and_a_tamper_names_the_seq(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None and last.seq >= 8
    assert verify() == (0, f"verified {last.seq} events up to seq {last.seq}, head {last.hash}")
    with triggers_off():
        sql(f"UPDATE {EVENTS} SET target_label = 'nobody' WHERE seq = 2")
    code, message = verify()
    assert code == 1 and "seq 2: altered" in message


def test_verify_uses_one_query_per_batch_not_per_event(ten_events, django_assert_max_num_queries):
    with django_assert_max_num_queries(
        8
    ):  # the ledger's pass (the record's: test_record_integrity)
        assert verify("--skip-records")[0] == 0
    assert connection.vendor in ("sqlite", "postgresql")


def test_damage_across_batch_boundaries_is_found_at_the_same_seq(ten_events, monkeypatch):
    from audit import verification

    monkeypatch.setattr(verification, "BATCH", 3)
    assert verify() == (0, f"verified 10 events up to seq 10, head {ten_events[-1].hash}")
    with triggers_off():
        sql(f"DELETE FROM {EVENTS} WHERE seq = 7")
    assert "seq 7: missing" in verify()[1]
