"""Celery tasks of the channels: they take ids and call a service."""

from celery import shared_task

from config.celery import runs_inline
from connectors import imap_poll, inbound


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def inbound_events_process(event_ids: list[int] | None = None) -> int:
    """Drain the due inbound events (connectors.inbound). Queued by the webhooks, one at a time
    while none is queued or running; `event_ids`, from tasks queued before drains, is ignored: a
    drain takes every due event. Idempotent: rows are locked and marked processed together."""
    return inbound.inbound_events_drain()


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def inbound_events_due() -> bool:
    """Beat: queue a drain when events wait whose retry is due (or whose drain was lost)."""
    if inbound.inbound_events_due_exist():
        inbound_events_process.delay()
        return True
    return False


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def email_accounts_poll() -> None:
    """Beat, every minute: read the unseen mail of every email account with IMAP set up
    (connectors.imap_poll). Idempotent: a message is stored once by its Message-ID."""
    imap_poll.email_accounts_poll()


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def outbound_send(delivery_id: int) -> None:
    """Send one outbound delivery (connectors.outbound.delivery_attempt: at most one provider
    call). A retryable failure is tried again after its backoff; running eagerly (no broker:
    tests, the embedded demo) the delivery waits, pending with next_attempt_at, for
    outbound_send_due or a caller to come back to it."""
    from connectors import outbound

    delay = outbound.delivery_attempt(delivery_id=delivery_id)
    if delay is not None and not runs_inline():
        outbound_send.apply_async(args=[delivery_id], countdown=delay)


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def outbound_send_due() -> int:
    """Queue the pending deliveries whose next attempt is due (periodic; a lost task's too)."""
    from connectors import outbound

    ids = outbound.due_delivery_ids()
    for delivery_id in ids:
        outbound_send.delay(delivery_id)
    return len(ids)
