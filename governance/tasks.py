"""Celery tasks of the compliance app: thin, each calls one service."""

from celery import shared_task

from governance import retention
from governance.services import review


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def retention_purge() -> dict:
    """Celery beat, nightly: purge what is past retention and not on hold (tombstones).

    Idempotent: a redelivered or doubled run finds what the first purged already tombstoned
    (purged_at set) and skips it; each records its own audit event with its own counts."""
    return retention.retention_purge().counts()


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def review_sample_weekly() -> int:
    """Beat, Mondays: sample last week's conversations into the review queue (idempotent)."""
    return review.review_sample_week()
