"""Celery task of the exports (imported by GovernanceConfig.ready(), so workers know it)."""

from celery import shared_task

from governance import exports

# An export of a million messages takes a few minutes: above the default limits, below the
# broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT_S), so it is never delivered twice
# while it runs.
SOFT_LIMIT_S = 1800
HARD_LIMIT_S = 1900


@shared_task(
    acks_late=True,
    task_reject_on_worker_lost=True,
    soft_time_limit=SOFT_LIMIT_S,
    time_limit=HARD_LIMIT_S,
)
def export_run(job_id: int) -> str | None:
    """Write one export's zip. Idempotent: a finished job is not written again."""
    job = exports.export_run(job_id=job_id)
    return job.sha256 if job else None
