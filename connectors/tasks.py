"""Celery tasks of the channels: they take ids and call a service."""

from celery import shared_task

from config.events import published_together
from connectors import imap_poll, inbound
from connectors.providers import ProviderError

# A status may arrive before its send is recorded, a provider may be down for a while: retried
# with exponential backoff (2, 4, ... 256 s; about 8.5 minutes in all), then given up, recorded.
MAX_RETRIES = 8


@shared_task(bind=True, acks_late=True, task_reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def inbound_events_process(self, event_ids: list[int]) -> None:
    """Process stored inbound events in order. Idempotent: a processed event is skipped, and a
    message's client id is derived from its provider id."""
    for position, event_id in enumerate(event_ids):
        attempts = self.request.retries or 0
        while True:
            try:
                # An event's socket frames go out together from one event loop at its end: one
                # async_to_sync (a loop thread and a Redis connection) per event, not per frame.
                with published_together():
                    inbound.inbound_event_process(event_id=event_id)
                break
            except (inbound.RetryLater, ProviderError) as error:
                if attempts >= self.max_retries:
                    inbound.inbound_event_fail(event_id=event_id, reason=str(error))
                    break
                if self.request.is_eager:
                    # Inline (no broker, the embedded demo and tests): no later to come back to.
                    attempts += 1
                    continue
                raise self.retry(
                    kwargs={"event_ids": event_ids[position:]},
                    countdown=2 ** (attempts + 1),
                    exc=error,
                ) from error


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
    if delay is not None and not outbound_send.app.conf.task_always_eager:
        outbound_send.apply_async(args=[delivery_id], countdown=delay)


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def outbound_send_due() -> int:
    """Queue the pending deliveries whose next attempt is due (periodic; a lost task's too)."""
    from connectors import outbound

    ids = outbound.due_delivery_ids()
    for delivery_id in ids:
        outbound_send.delay(delivery_id)
    return len(ids)
