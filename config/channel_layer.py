"""The channel layer: channels_redis's pub/sub layer, made to survive Redis going away.

Redis pub/sub is at-most-once and never the record (the database is): what matters when Redis
stops is that sockets stay usable and that every page learns it may have missed something.
Stock, a stopped Redis makes every new socket's handshake fail (`new_channel` and `group_add`
raise), a subscription that failed is never retried, and open sockets are not told that events
were lost. This layer:

- keeps what each socket asked for (its channel, its groups) even when Redis refuses, and never
  raises from `new_channel`, `group_add` or `group_discard`: the handshake goes on;
- notices Redis is gone (a failed publish, subscribe or read) and puts `{"type": "layer.down"}`
  into every local socket's queue;
- meanwhile retries, with backoff: subscribes every channel and group this process wants again,
  proves the subscription live by publishing a probe to itself and reading it back, and only then
  puts `{"type": "layer.up"}` into every socket's queue. Whatever was published before that point
  may have been missed, whatever after it is delivered: pages catch up from the database on
  `layer.up` (docs/realtime.md, "Gap-free sync"), so nothing stored goes unseen.

`live` says whether this process's layer is up (the `ready` frame tells new sockets).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close

log = logging.getLogger(__name__)

DOWN = {"type": "layer.down"}
UP = {"type": "layer.up"}
RETRY_FIRST_S = 0.2
RETRY_MAX_S = 2.0
PROBE_WAIT_S = 2.0


class Shard(RedisSingleShardConnection):
    async def _do_receiving(self):
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=0.1
                    )
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:
                self.channel_layer.went_down(exc)
                await asyncio.sleep(RETRY_FIRST_S)

    async def resubscribe(self, names: list[str]) -> None:
        """SUBSCRIBE every name at once (Redis treats a repeat as a no-op)."""
        async with self._lock:
            self._ensure_redis()
            self._ensure_receiver()
            await self._pubsub.subscribe(*names)
            self._subscribed_to.update(names)


class LoopLayer(RedisPubSubLoopLayer):
    """One per event loop (RedisPubSubChannelLayer makes them)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [Shard(shard.host, self) for shard in self._shards]
        self.live = True
        self._recovery: asyncio.Task | None = None
        self._probe = f"{self.prefix}probe.{uuid.uuid4().hex}"

    # --- the channel layer API, never raising for a Redis that is away -------------------------

    async def new_channel(self, prefix="specific."):
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        await self._subscribe(channel)
        return channel

    async def group_add(self, group, channel):
        if channel not in self.channels:
            raise RuntimeError("group_add() needs a channel of this process")
        group_channel = self._get_group_channel_name(group)
        self.groups.setdefault(group_channel, set()).add(channel)
        await self._subscribe(group_channel)

    async def group_discard(self, group, channel):
        try:
            await super().group_discard(group, channel)
        except Exception as exc:  # forgotten locally; Redis forgets with the connection
            self.went_down(exc)

    async def send(self, channel, message):
        try:
            await super().send(channel, message)
        except Exception as exc:
            self.went_down(exc)
            raise

    async def group_send(self, group, message):
        try:
            await super().group_send(group, message)
        except Exception as exc:
            self.went_down(exc)
            raise

    async def _subscribe(self, name: str) -> None:
        try:
            await self._get_shard(name).subscribe(name)
        except Exception as exc:  # wanted still: the recovery subscribes it
            self.went_down(exc)

    # --- down and up ----------------------------------------------------------------------------

    def went_down(self, exc: BaseException | None = None) -> None:
        if self._recovery is not None and not self._recovery.done():
            return
        if self.live:
            log.warning("channel layer unavailable (%s): live updates paused", exc)
            self.live = False
            self._tell_everyone(DOWN)
        self._recovery = asyncio.ensure_future(self._recover())

    def _tell_everyone(self, event: dict) -> None:
        data = self.channel_layer.serialize(event)
        for name, queue in self.channels.items():
            if name != self._probe:
                queue.put_nowait(data)

    def _wanted(self) -> dict[Shard, list[str]]:
        wanted: dict = {}
        for name in [*self.channels, *self.groups, self._probe]:
            wanted.setdefault(self._get_shard(name), []).append(name)
        return wanted

    async def _recover(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            try:
                await self._resubscribe_all()
            except Exception as exc:  # still away: try again
                log.debug("channel layer still unavailable: %s", exc)
                continue
            log.warning("channel layer available again: pages resynchronise")
            self.live = True
            self._tell_everyone(UP)
            return

    async def _resubscribe_all(self) -> None:
        probe = self.channels.setdefault(self._probe, asyncio.Queue())
        for shard, names in self._wanted().items():
            await shard.resubscribe(names)
        while not probe.empty():
            probe.get_nowait()
        # Proof that the subscriptions are live: our own publish comes back through them.
        await self._get_shard(self._probe).publish(self._probe, b"probe")
        await asyncio.wait_for(probe.get(), PROBE_WAIT_S)

    async def flush(self):
        if self._recovery is not None:
            self._recovery.cancel()
        await super().flush()


class ResilientPubSubChannelLayer(RedisPubSubChannelLayer):
    """settings.CHANNEL_LAYERS' backend when REDIS_URL is set."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer


def is_live(layer) -> bool:
    """Whether `layer` (this loop's) delivers events now; layers that cannot fail always do."""
    return getattr(layer, "live", True) is not False
