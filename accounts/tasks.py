"""Celery tasks of accounts: they take ids (or nothing) and call a service."""

from celery import shared_task

from accounts import notifications, push


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def notifications_release() -> int:
    """Beat, every minute: send the notifications held outside working hours that are due.
    Idempotent: each row is marked sent in the transaction that queues its send."""
    return notifications.notifications_release()


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def push_send(*, user_id: int, payload: dict) -> int:
    """Web Push `payload` to the person's live subscriptions (accounts.push.send). A retry after
    a lost worker may show a notification twice; the service worker replaces one with the same
    tag, so the person sees it once."""
    return push.send(user_id=user_id, payload=payload)
