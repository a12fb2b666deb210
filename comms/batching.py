"""Group commit for chat sends: every send a daphne process receives while its database thread is
busy is stored in the next batch, one transaction for all of them (comms.services.messages_store).

Channels runs all of a process's ORM work on one thread, so a send used to wait for each earlier
send's round trips and commit in turn, and one socket could not send its next message before the
previous one was stored. Now a socket hands its send to the process's batcher and reads its next
frame at once; after commit the batcher publishes the batch's broadcasts in order, from the event
loop, then answers each send (the stored message or the refusal) in the order the sends arrived.
Nothing is acknowledged before its transaction has committed and its broadcasts were handed to
the channel layer: a process that dies in between acknowledges nothing, so the page sends again,
and the resend (answered as a duplicate) publishes the message once more.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import weakref

from channels.db import database_sync_to_async

from comms import services
from config import events

log = logging.getLogger(__name__)

MAX_BATCH = 100  # sends stored per transaction at most


class SendBatcher:
    """One per event loop (so one per daphne process)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.waiting: collections.deque = collections.deque()
        self.draining = False
        self.published: asyncio.Future | None = None

    def submit(self, item: services.MessageDraft) -> asyncio.Future:
        """A future of the item's SendResult, or of the CommsError refusing it."""
        future = self.loop.create_future()
        self.waiting.append((item, future))
        if not self.draining:
            self.draining = True
            self.loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                count = min(MAX_BATCH, len(self.waiting))
                batch = [self.waiting.popleft() for _ in range(count)]
                try:
                    results, outbox = await database_sync_to_async(events.run_collecting)(
                        services.messages_store, {"items": [i for i, _ in batch]}
                    )
                except Exception as exc:  # the whole batch failed twice: every sender hears it
                    log.exception("storing a batch of %d messages failed", len(batch))
                    for _item, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                answers = [
                    (future, result) for (_item, future), result in zip(batch, results, strict=True)
                ]
                self.published = self.loop.create_task(
                    self._publish(self.published, outbox, answers)
                )
        finally:
            self.draining = False

    async def _publish(self, previous: asyncio.Future | None, outbox, answers) -> None:
        """After the previous batch's broadcasts, so every group hears messages in id order;
        then the senders' answers."""
        try:
            if previous is not None:
                await asyncio.wait([previous])
            await events.publish(outbox)
        finally:
            for future, result in answers:
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)


_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def submit(item: services.MessageDraft) -> asyncio.Future:
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = SendBatcher(loop)
    return batcher.submit(item)
