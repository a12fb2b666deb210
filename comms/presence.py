"""Who is here on a conversation, across processes: join/here/refresh/leave over the channel
layer. A mixin for the chat consumers (comms.consumers), which give `actor`, `channel_name`,
`send_frame` and their `presence_groups`."""

from __future__ import annotations

import asyncio
import logging
import random
import time

from django.conf import settings

from config import events

log = logging.getLogger(__name__)

MISSED_REFRESHES = 2.5  # silent this many refresh periods: gone


class Presence:
    def presence_groups(self) -> list[str]:
        raise NotImplementedError

    def announce(self) -> bool:
        return True

    async def presence_start(self) -> None:
        self.online = {self.channel_name: self.actor} if self.announce() else {}
        self.seen: dict[str, float] = {}  # other sockets: when they last said they are here
        if self.announce():
            for group in self.presence_groups():
                await events.send_now(
                    group,
                    {"type": "presence.join", "channel": self.channel_name, "actor": self.actor},
                    self.channel_layer,
                )
        self.presence_task = asyncio.ensure_future(self.presence_keepalive())

    async def presence_keepalive(self) -> None:
        """Say "still here" now and then, and drop sockets that stopped saying it: a daphne
        process that dies sends no presence.leave for its sockets."""
        every = settings.COMMS_PRESENCE_REFRESH_SECONDS
        while True:
            await asyncio.sleep(every * random.uniform(0.8, 1.2))  # noqa: S311 - jitter only
            try:
                if self.announce():
                    event = {
                        "type": "presence.refresh",
                        "channel": self.channel_name,
                        "actor": self.actor,
                    }
                    for group in self.presence_groups():
                        await events.send_now(group, event, self.channel_layer)
                await self.presence_prune(time.monotonic() - every * MISSED_REFRESHES)
            except Exception:
                log.exception("presence refresh failed")

    async def presence_prune(self, before: float) -> None:
        gone = [channel for channel, at in self.seen.items() if at < before]
        dropped = False
        for channel in gone:
            del self.seen[channel]
            dropped = self.online.pop(channel, None) is not None or dropped
        if dropped:
            await self.send_frame({"type": "presence", "online": self.presence_list()})

    def presence_list(self) -> list[dict]:
        seen, people = set(), []
        for actor in self.online.values():
            key = (actor["type"], actor["id"])
            if key not in seen:
                seen.add(key)
                people.append(actor)
        return people

    async def presence_join(self, event):
        if event["channel"] == self.channel_name:
            return
        self.online[event["channel"]] = event["actor"]
        self.seen[event["channel"]] = time.monotonic()
        if self.announce():
            await self.channel_layer.send(
                event["channel"],
                {"type": "presence.here", "channel": self.channel_name, "actor": self.actor},
            )
        await self.send_frame({"type": "presence", "online": self.presence_list()})

    async def presence_here(self, event):
        self.online[event["channel"]] = event["actor"]
        self.seen[event["channel"]] = time.monotonic()
        await self.send_frame({"type": "presence", "online": self.presence_list()})

    async def presence_refresh(self, event):
        if event["channel"] == self.channel_name:
            return
        self.seen[event["channel"]] = time.monotonic()
        if event["channel"] not in self.online:  # a join this socket missed
            self.online[event["channel"]] = event["actor"]
            await self.send_frame({"type": "presence", "online": self.presence_list()})

    async def presence_leave(self, event):
        self.seen.pop(event["channel"], None)
        if self.online.pop(event["channel"], None) is not None:
            await self.send_frame({"type": "presence", "online": self.presence_list()})

    async def presence_stop(self) -> None:
        task = getattr(self, "presence_task", None)
        if task is not None:
            task.cancel()
        if getattr(self, "online", None) is None or not self.announce():
            return
        for group in self.presence_groups():
            await events.send_now(
                group, {"type": "presence.leave", "channel": self.channel_name}, self.channel_layer
            )
