"""WebSocket load for chat servers: one-to-one pairs and a large room, with integrity counts.

A target describes how to talk to one server: the URLs and headers of each socket, how to frame a
send, how to recognise the sender's acknowledgement and a delivery to another member.
"""

import asyncio
import json
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import websockets


@dataclass
class Socket:
    url: str
    headers: dict = field(default_factory=dict)


@dataclass
class Result:
    rate: float = 0.0
    acked: set = field(default_factory=set)
    deliveries: list = field(default_factory=list)  # one Counter of client ids per receiving socket
    latencies_ms: list = field(default_factory=list)
    sent: int = 0
    refused: int = 0  # sends answered with an error frame
    timed_out: int = 0  # sends neither acknowledged nor refused in time
    ack_ms: list = field(default_factory=list)  # send to acknowledgement, per acked send


class Spread:
    """Which server process each new socket goes to: round-robin over `ports` from `turn`, the
    way a load balancer spreads connections. Keepline and its baseline share this, so both see
    the same client spread."""

    def __init__(self, ports: list[int]):
        self.ports = ports
        self.turn = 0

    def port(self) -> int:
        port = self.ports[self.turn % len(self.ports)]
        self.turn += 1
        return port


def spread_pairs(spread: Spread, n: int, first, second) -> list[tuple[Socket, Socket]]:
    """Pair i's first socket on process i, its second on process i+1 (mod N): with N > 1 each
    pair's messages cross processes through the channel layer."""
    out = []
    for i in range(n):
        spread.turn = i
        out.append((first(i), second(i)))
    return out


def spread_room(spread: Spread, sender, member, n: int) -> tuple[Socket, list[Socket]]:
    """The room's sender on the first process, its members round-robin from the second."""
    spread.turn = 0
    return sender(), [member(i) for i in range(n)]


class Target:
    """Subclasses: frame(client_id, body) -> str; ack_of(msg) -> client_id|None;
    delivered(msg) -> (client_id, body)|None; optionally refused(msg) -> client_id|None (an
    error answer to a send: the send counts as not acknowledged, at once)."""

    name = "target"

    def refused(self, msg: dict) -> str | None:
        return None

    def frame(self, client_id: str, body: str) -> str:
        raise NotImplementedError

    def ack_of(self, msg: dict) -> str | None:
        raise NotImplementedError

    def delivered(self, msg: dict) -> tuple[str, str] | None:
        raise NotImplementedError


async def _connect(sock: Socket):
    return await websockets.connect(
        sock.url,
        additional_headers=sock.headers,
        max_queue=None,
        open_timeout=30,
        ping_interval=None,
    )


_last_frame = [0.0]  # monotonic time of the latest frame any reader saw


async def _settle(quiet: float = 0.3, limit: float = 15.0) -> None:
    """Wait until no socket has received anything for `quiet` seconds (connect-time traffic such
    as Keepline's presence frames is over), at most `limit` seconds."""
    deadline = time.monotonic() + limit
    await asyncio.sleep(quiet)
    while time.monotonic() < deadline and time.monotonic() - _last_frame[0] < quiet:
        await asyncio.sleep(0.05)


async def _reader(ws, target: Target, acks: dict, counter: Counter, latencies: list | None):
    """`acks` holds the waiters of this socket's own sends only: another socket's copy of a
    message must not acknowledge it (the tutorial's "ack" is the sender's own echo)."""
    try:
        async for raw in ws:
            _last_frame[0] = time.monotonic()
            msg = json.loads(raw)
            cid = target.ack_of(msg)
            if cid is not None:
                waiter = acks.pop(cid, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(True)
            cid = target.refused(msg)
            if cid is not None:
                waiter = acks.pop(cid, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(False)
            got = target.delivered(msg)
            if got is not None:
                cid, body = got
                counter[cid] += 1
                if latencies is not None and body.startswith("t="):
                    sent_at = float(body[2:].split(" ", 1)[0])
                    latencies.append((time.time() - sent_at) * 1000)
    except websockets.ConnectionClosed:
        pass


async def pairs(
    target: Target,
    pair_sockets: list[tuple[Socket, Socket]],
    seconds: float,
    on_start=None,
    on_stop=None,
) -> Result:
    """Both members of each pair send as fast as their own acks come back; rate = acked sends/s.
    `on_start()`/`on_stop()`: called (synchronously) as the clock starts and stops, for probes."""
    result = Result()
    conns = []
    for a, b in pair_sockets:
        conns.append((await _connect(a), await _connect(b)))
    readers, counters, acks_of = [], [], {}
    for a, b in conns:
        for ws in (a, b):
            counter = Counter()
            counters.append(counter)
            acks_of[ws] = {}
            readers.append(asyncio.create_task(_reader(ws, target, acks_of[ws], counter, None)))
    await _settle()  # ready/presence frames are read before the clock starts
    if on_start is not None:
        on_start()
    stop_at = time.monotonic() + seconds

    async def sender(ws):
        acks = acks_of[ws]
        n = 0
        while time.monotonic() < stop_at:
            cid = str(uuid.uuid4())
            waiter = asyncio.get_running_loop().create_future()
            acks[cid] = waiter
            await ws.send(target.frame(cid, f"pair message {n}"))
            sent_at = time.monotonic()
            result.sent += 1
            try:
                ok = await asyncio.wait_for(waiter, 10)
            except TimeoutError:
                acks.pop(cid, None)
                result.timed_out += 1
                continue
            if not ok:
                result.refused += 1
                await asyncio.sleep(0.05)
                continue
            result.acked.add(cid)
            result.ack_ms.append((time.monotonic() - sent_at) * 1000)
            n += 1

    start = time.monotonic()
    await asyncio.gather(*(sender(ws) for pair in conns for ws in pair))
    elapsed = time.monotonic() - start
    if on_stop is not None:
        on_stop()
    await asyncio.sleep(1.0)  # deliveries still in flight
    for a, b in conns:
        await a.close()
        await b.close()
    for task in readers:
        task.cancel()
    result.rate = len(result.acked) / elapsed
    result.deliveries = counters
    return result


async def room(
    target: Target,
    sender_socket: Socket,
    member_sockets: list[Socket],
    seconds: float,
    rate: float | None,
    window: int = 16,
) -> Result:
    """One sender into a room of members. rate=None: as fast as `window` un-acked sends allow,
    result.rate = frames delivered to members per second. rate=N: N messages/s, latencies kept,
    measured from each message's scheduled send time (a server that holds the sender back
    through the window is charged for the wait)."""
    result = Result()
    members = [await _connect(s) for s in member_sockets]
    sender_ws = await _connect(sender_socket)
    acks: dict = {}  # the sender's
    counters = [Counter() for _ in members]
    latencies = result.latencies_ms
    readers = [
        asyncio.create_task(_reader(ws, target, {}, c, latencies if rate else None))
        for ws, c in zip(members, counters, strict=True)
    ]
    sender_counter = Counter()
    readers.append(asyncio.create_task(_reader(sender_ws, target, acks, sender_counter, None)))
    await _settle()  # ready/presence frames are read before the clock starts
    semaphore = asyncio.Semaphore(window)
    pending = []
    start = time.monotonic()
    wall_start = time.time()
    stop_at = start + seconds

    async def wait_ack(cid, waiter, sent_at):
        try:
            if await asyncio.wait_for(waiter, 15):
                result.acked.add(cid)
                result.ack_ms.append((time.monotonic() - sent_at) * 1000)
            else:
                result.refused += 1
        except TimeoutError:
            acks.pop(cid, None)
            result.timed_out += 1
        finally:
            semaphore.release()

    n = 0
    while time.monotonic() < stop_at:
        stamp = None
        if rate:
            due = start + n / rate
            stamp = wall_start + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await semaphore.acquire()
        cid = str(uuid.uuid4())
        waiter = asyncio.get_running_loop().create_future()
        acks[cid] = waiter
        stamp = stamp if stamp is not None else time.time()
        await sender_ws.send(target.frame(cid, f"t={stamp:.6f} room message {n}"))
        result.sent += 1
        pending.append(asyncio.create_task(wait_ack(cid, waiter, time.monotonic())))
        n += 1
    await asyncio.gather(*pending)
    # Wait until every member has seen every acked message (or 10 s pass).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if all(all(cid in c for cid in result.acked) for c in counters):
            break
        await asyncio.sleep(0.05)
    elapsed_delivery = time.monotonic() - start
    for ws in [*members, sender_ws]:
        await ws.close()
    for task in readers:
        task.cancel()
    # Frames of this run's acknowledged messages only: nothing else on the server is counted.
    delivered = sum(c[cid] for c in counters for cid in result.acked)
    result.rate = delivered / elapsed_delivery
    result.deliveries = counters
    return result


def integrity(result: Result, expected_receivers_per_message: int) -> tuple[int, int]:
    """(lost, duplicated) deliveries of acked messages, counted per receiving socket."""
    lost = duplicated = 0
    for cid in result.acked:
        seen = [c[cid] for c in result.deliveries]
        receivers = sum(1 for n in seen if n > 0)
        lost += max(expected_receivers_per_message - receivers, 0)
        duplicated += sum(n - 1 for n in seen if n > 1)
    return lost, duplicated


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
