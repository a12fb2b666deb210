"""Celery tasks of comms: they take ids and call a service."""

from celery import shared_task

from comms.services import push


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def message_push(*, message_id: int) -> int:
    """Web Push of a new customer message to its conversation's staff (comms.services.push).
    A retry after a lost worker may push twice; the notification's tag makes it one."""
    return push.message_push(message_id=message_id)
