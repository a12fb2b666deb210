"""A verification run, recorded: the chain and its checkpoints (audit.verification), the
witnesses (audit.witness), then the record (audit.record_checks), and what they found kept as a
Verification row for the compliance console. `verify_audit` and the nightly task both run it.

The row is written before the checks start and completed after them, each in its own short
transaction outside the checks' read-only snapshot: a run killed midway stays visible as
unfinished.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from django.utils import timezone

from audit import record_checks, verification, witness
from audit.models import Verification

log = logging.getLogger(__name__)
PROBLEM_MAX = 2000


def verification_run(
    *,
    source: str,
    from_seq: int = 1,
    checkpoint_documents: Sequence[dict] = (),
    witness_dirs: Sequence[Path] | None = None,
    skip_records: bool = False,
) -> Verification:
    """Verify the ledger from `from_seq` against its checkpoints, the checkpoint documents given
    (files kept outside the database) and the witness directories (default AUDIT_WITNESS_DIRS),
    then the record unless `skip_records`. Returns the completed run: `ok`, and `first_problem`
    naming the first damage, record mismatch or unreadable witness. An unexpected error is
    recorded on the run as its problem, then raised."""
    run = Verification.objects.create(
        started_at=timezone.now(),
        source=source,
        from_seq=max(from_seq, 1),
        records_skipped=skip_records,
        checkpoint_files=len(checkpoint_documents),
    )
    directories = list(witness.directories() if witness_dirs is None else witness_dirs)
    try:
        _check(run, directories, list(checkpoint_documents), skip_records)
    except Exception as error:
        _fail(run, Verification.Check.ERROR, f"stopped by an error: {error!r}")
        raise
    finally:
        run.finished_at = timezone.now()
        run.save()
        if run.ok is False:
            log.error("audit verification %s failed: %s", run.pk, run.first_problem)
    return run


def _check(run: Verification, directories: list[Path], documents: list[dict], skip_records):
    try:
        witnessed = witness.documents(directories)
    except witness.WitnessError as error:
        run.witness_status = Verification.Witness.UNREADABLE
        _fail(run, Verification.Check.WITNESS, f"a witness cannot be read: {error}")
        return
    if not directories:
        run.witness_status = Verification.Witness.NONE
    elif not witnessed:
        run.witness_status = Verification.Witness.EMPTY
    else:
        run.witness_status = Verification.Witness.COMPARED
    run.witness_documents = len(witnessed)
    result = verification.verify(from_seq=run.from_seq, checkpoints=documents + witnessed)
    run.events_checked, run.last_seq = result.count, result.last_seq
    run.head_hash, run.checkpoints_checked = result.head_hash, result.checkpoints
    run.warnings = list(result.warnings)
    if not result.ok:
        _fail(run, Verification.Check.LEDGER, f"audit ledger damaged at {result.damage}")
        return
    if not skip_records:
        mismatch, tally = record_checks.run()
        run.records_checked = dict(sorted(tally.items()))
        if mismatch is not None:
            _fail(run, Verification.Check.RECORD, f"record damaged: {mismatch}")
            return
    run.ok = True


def _fail(run: Verification, check: str, problem: str) -> None:
    run.ok, run.failed_check, run.first_problem = False, check, problem[:PROBLEM_MAX]


def summary(run: Verification) -> str:
    """The chain's line of verify_audit's output."""
    return verification.Result(
        count=run.events_checked, last_seq=run.last_seq, head_hash=run.head_hash
    ).summary()
