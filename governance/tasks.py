"""Celery tasks of the compliance app: thin, each calls one service."""

from celery import shared_task

from governance.services import review


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def review_sample_weekly() -> int:
    """Beat, Mondays: sample last week's conversations into the review queue (idempotent)."""
    return review.review_sample_week()
