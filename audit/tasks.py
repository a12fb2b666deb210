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
