from celery import shared_task

from audit import services


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def checkpoint_create() -> int | None:
    """Celery beat, every AUDIT_CHECKPOINT_EVERY_S: sign the chain head (no-op if unchanged)."""
    checkpoint = services.checkpoint_create()
    return checkpoint.seq if checkpoint else None
