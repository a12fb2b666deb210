"""Celery tasks of accounts: they take ids (or nothing) and call a service."""

from celery import shared_task

from accounts import notifications


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def notifications_release() -> int:
    """Beat, every minute: send the notifications held outside working hours that are due.
    Idempotent: each row is marked sent in the transaction that queues its send."""
    return notifications.notifications_release()
