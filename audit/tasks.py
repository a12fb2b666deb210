from celery import shared_task

from audit import services


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def checkpoint_create() -> int | None:
    """Celery beat, every AUDIT_CHECKPOINT_EVERY_S: sign the chain head (no-op if unchanged).

    Idempotent: a run redelivered after a stall or a lost worker (acks_late,
    reject_on_worker_lost), or two running at once, write one checkpoint per head and key (the
    unique constraint; services.checkpoint_create yields to the row that won). Then copied to the
    witness directories (AUDIT_WITNESS_DIRS), the head's checkpoint each run, so a witness that
    was away catches up."""
    checkpoint = services.checkpoint_create()
    if checkpoint is None:
        return None
    services.checkpoint_witness(checkpoint)  # a witness that cannot be written fails the run
    return checkpoint.seq


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def verify_ledger() -> dict:
    """Celery beat, nightly (AUDIT_VERIFY_HOUR_UTC): verify_audit's checks, recorded as a
    Verification row so the compliance console's status is never older than a day. Read-only
    but for that row: a redelivered run only verifies again. A failed verification is its
    outcome (logged as an error, shown on the console), not a task error to retry."""
    from audit import verification_runs
    from audit.models import Verification

    run = verification_runs.verification_run(source=Verification.Source.TASK)
    return {"id": run.pk, "ok": run.ok, "last_seq": run.last_seq, "problem": run.first_problem}
