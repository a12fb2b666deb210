"""Witnesses: each checkpoint copied outside the database, and verify_audit held to the copies."""

import json
import stat
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

import audit
from audit import ddl, tasks, witness
from tests.audit.ledger import EVENTS, recompute_chain_from, sql, triggers_off, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def witnesses(settings, tmp_path, audit_signing_key):
    dirs = [tmp_path / "witness-a", tmp_path / "witness-b"]
    for d in dirs:
        d.mkdir()
    settings.AUDIT_WITNESS_DIRS = [str(d) for d in dirs]
    return dirs


def _events(n):
    return [audit.record(actor=None, action="crm.deal.changed", data={"n": i}) for i in range(n)]


def _files(directory):
    return sorted(p.name for p in directory.glob("checkpoint-*.json"))


def test_each_checkpoint_is_written_once_to_every_witness(witnesses):
    first = _events(3)[-1]
    assert tasks.checkpoint_create.apply().get() == first.seq
    for directory in witnesses:
        (path,) = directory.glob("checkpoint-*.json")
        document = json.loads(path.read_text())
        assert document["seq"] == first.seq and document["head_hash"] == first.hash
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    before = (witnesses[0] / _files(witnesses[0])[0]).stat().st_mtime_ns
    tasks.checkpoint_create.apply().get()  # head unchanged: the same file, not written again
    assert (witnesses[0] / _files(witnesses[0])[0]).stat().st_mtime_ns == before
    _events(2)
    tasks.checkpoint_create.apply().get()
    assert [len(_files(d)) for d in witnesses] == [2, 2]


def test_a_rewritten_chain_with_its_checkpoints_deleted_is_caught_by_the_witness(
    witnesses, settings
):
    _events(10)
    tasks.checkpoint_create.apply().get()
    with triggers_off():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE seq = 5", ['{"n":"rewritten"}'])
        recompute_chain_from(5)
        sql(f"DELETE FROM {ddl.CHECKPOINT_TABLE}")
    code, message = verify()
    assert code == 1 and "seq 10: altered" in message
    settings.AUDIT_WITNESS_DIRS = []
    assert verify()[0] == 0  # what the database alone says


def test_deleted_newest_events_are_caught_by_the_witness(witnesses, settings):
    _events(10)
    tasks.checkpoint_create.apply().get()
    with triggers_off():  # a thorough owner of the database: events, head and checkpoints
        sql(f"DELETE FROM {EVENTS} WHERE seq >= 8")
        sql(f"DELETE FROM {ddl.CHECKPOINT_TABLE}")
        seq, head = sql(f"SELECT seq, hash FROM {EVENTS} ORDER BY seq DESC LIMIT 1")[0]
        sql(f"UPDATE {ddl.HEAD_TABLE} SET seq = %s, hash = %s", [seq, head])
    code, message = verify()
    assert code == 1 and "seq 8: missing" in message and "deleted" in message
    settings.AUDIT_WITNESS_DIRS = []
    assert verify()[0] == 0


def test_verify_without_a_witness_says_so_loudly(db, settings):
    settings.AUDIT_WITNESS_DIRS = []
    _events(2)
    err = StringIO()
    call_command("verify_audit", stdout=StringIO(), stderr=err)
    assert "WARNING: no audit witness is configured" in err.getvalue()


def test_a_witness_that_cannot_be_written_fails_the_run_and_the_next_catches_up(witnesses):
    _events(2)
    witnesses[1].rmdir()  # the mount is away
    with pytest.raises(witness.WitnessError, match="witness-b"):
        tasks.checkpoint_create.apply().get()
    assert len(_files(witnesses[0])) == 1  # the other witness still got it
    witnesses[1].mkdir()
    tasks.checkpoint_create.apply().get()  # head unchanged: its checkpoint written again
    assert _files(witnesses[1]) == _files(witnesses[0])


def test_a_witness_file_with_other_content_is_never_replaced(witnesses):
    _events(1)
    tasks.checkpoint_create.apply().get()
    path = witnesses[0] / _files(witnesses[0])[0]
    path.chmod(0o644)
    path.write_text('{"seq": 1}\n')
    with pytest.raises(witness.WitnessError, match="other content"):
        tasks.checkpoint_create.apply().get()
    assert path.read_text() == '{"seq": 1}\n'
    code, message = verify()
    assert code == 2 and "lacks" in message


def test_a_witness_that_cannot_be_read_is_exit_2(witnesses):
    _events(1)
    witnesses[0].rmdir()
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", stdout=StringIO(), stderr=StringIO())
    assert failure.value.returncode == 2 and "witness-a" in str(failure.value)


def test_audit_checkpoint_command_writes_the_witnesses(witnesses, capsys):
    event = _events(1)[-1]
    call_command("audit_checkpoint")
    printed = json.loads(capsys.readouterr().out)
    for directory in witnesses:
        (path,) = directory.glob("checkpoint-*.json")
        assert json.loads(path.read_text()) == printed and printed["seq"] == event.seq
