"""Fault injection for live chat, shared by tests/faults/ and bench/chat_faults.py.

Layout (`Stack`): a Redis of the harness's own (a free port, no persistence) that a scenario
stops and starts, and two daphne processes (config.asgi:application, DEBUG off) sharing it, on
PostgreSQL. The caller seeds staff/customer pairs (`seed_pairs`, Django configured in the calling
process) and hands `run_scenario` the database URL, the SECRET_KEY the cookies were made with and
the pairs. Pair i's rep is on process i mod 2 and its customer on the other, so every delivery
crosses processes through Redis and each process holds staff and customers.

Clients (`ChatClient`) behave like static/js/chat.js and customer_chat.js:
- mode "seq" (docs/realtime.md, "Gap-free sync"): the first load takes lastSeq from the page
  (staff `?before=`, the customer page's embedded config); pipelined sends with client_id,
  unacknowledged ones resent after every `ready`'s catch-up; a hole (seq > lastSeq + 1) still
  open 0.5 s after the frame that showed it is fetched with `?since=&limit=200`, every page until
  has_more is false; `ready` catches up then resends; `live: false` polls the catch-up every
  5 s, `live: true` catches up at once; a failed catch-up waits for the next trigger; reconnect
  with the pages' backoff (staff 0.5 s, customers 1 s, doubling to 3 s, jittered) on any close but
  4401/4403/4404; transient send errors are retried (1 s doubling to 30 s).
- mode "legacy" (the baseline: the pages before issue 11): catch-up `?after=<highest id seen>`
  once, one page (has_more ignored); the customer page raises that id from its own acks; no
  hole detection, `live` frames ignored.

Figures per group of clients: sent, acked, stored (rows in the database), delivered after resync
(every stored message each member should see, in its view with its latest state), lost (acked
but not stored, or stored but missing/stale in a member's view), duplicated (a client_id stored
twice, or one page holding one client_id under two ids), recovery_s (from each fault's end
until every page holds every message stored by then and every send it had pending then is
acknowledged; `recovery_last` says what it waited for last), and ack latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import websockets

from bench.common import Daphne, _die_with_parent, free_port

ORIGIN = "http://127.0.0.1"
CLOSE_FOR_GOOD = {4401, 4403, 4404}
CLOSE_NOT_READING = 4408  # the server dropped a socket that stopped reading: reconnect, catch up
TRANSIENT = {"server_error", "rate_limited", "access_changed"}
HOLE_WAIT_S = 0.5
POLL_EVERY_S = 5.0


# --- processes -----------------------------------------------------------------------------------


class RedisServer:
    """A redis-server of our own on a free port, without persistence: stop() kills it (an outage,
    every connection reset), start() brings it back empty on the same port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="keepline-faults-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# The daphne processes' database connections carry this application_name (libpq reads PGAPPNAME),
# so the database fault terminates theirs only, never those of the process running the scenario
# (a pytest process holds pooled connections it would otherwise lose mid-suite).
SERVER_APP_NAME = "keepline-faults-daphne"


def server_env(database_url: str, redis_url: str, secret_key: str, extra: dict | None = None):
    return {
        "PGAPPNAME": SERVER_APP_NAME,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        **(extra or {}),
    }


class Servers:
    """N daphne processes on one environment; kill(i) is SIGKILL, restart(i) the same port."""

    def __init__(self, env: dict, n: int = 2, log_dir: str | None = None):
        self.env, self.log_dir = env, log_dir
        self.daphnes = [self._daphne(i) for i in range(n)]

    def _daphne(self, i: int, port: int | None = None) -> Daphne:
        log = str(Path(self.log_dir) / f"daphne{i}.log") if self.log_dir else None
        d = Daphne("config.asgi:application", env=self.env, log=log)
        if port:
            d.port = port
        return d

    @property
    def ports(self) -> list[int]:
        return [d.port for d in self.daphnes]

    def start(self) -> Servers:
        for d in self.daphnes:
            d.start()
        for d in self.daphnes:
            d.ready()
        return self

    def kill(self, i: int) -> None:
        proc = self.daphnes[i].proc
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def restart(self, i: int) -> None:
        self.daphnes[i] = self._daphne(i, self.daphnes[i].port)
        self.daphnes[i].start().ready()

    def stop(self) -> None:
        for d in self.daphnes:
            if getattr(d, "proc", None) is not None and d.proc.poll() is None:
                d.proc.terminate()
        for d in self.daphnes:
            if getattr(d, "proc", None) is None:
                continue
            try:
                d.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                d.proc.kill()
                d.proc.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        if not self.log_dir:
            return ""
        out = []
        for p in sorted(Path(self.log_dir).glob("daphne*.log")):
            out.append(f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}")
        return "\n".join(out)


# --- seeding (Django configured in the calling process) -----------------------------------------


@dataclass
class Pair:
    conversation_id: int
    cookie: str  # the rep's session cookie
    token: str  # the customer link's token


def seed_pairs(run_id: str, n: int) -> list[Pair]:
    """n reps (rep role), each with a contact, a web conversation and a customer link."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.test import Client

    from accounts import roles
    from accounts.models import User
    from comms import services
    from crm.models import Contact

    group = Group.objects.get(name=roles.REP)
    unusable = make_password(None)
    pairs = []
    for i in range(n):
        rep = User.objects.create(
            username=f"{run_id}-rep{i}", first_name="Rep", last_name=str(i), password=unusable
        )
        rep.groups.add(group)
        contact = Contact.objects.create(
            first_name="Customer", last_name=f"{run_id}-{i}", owner=rep
        )
        conversation = services.conversation_start(
            actor=rep, contact=contact, subject=f"Faults {run_id} {i}"
        )
        _link, token = services.customer_link_issue(actor=rep, conversation=conversation)
        client = Client()
        client.force_login(rep)
        pairs.append(Pair(conversation.pk, f"sessionid={client.cookies['sessionid'].value}", token))
    return pairs


def database_url_of(settings_db: dict) -> str:
    """A postgres:// URL for Django's DATABASES entry (the test database under pytest)."""
    password = settings_db.get("PASSWORD") or ""
    auth = f"{settings_db['USER']}:{password}@" if password else f"{settings_db['USER']}@"
    host = settings_db.get("HOST") or "127.0.0.1"
    return f"postgres://{auth}{host}:{settings_db.get('PORT') or 5432}/{settings_db['NAME']}"


# --- HTTP -------------------------------------------------------------------------------------


def _dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


async def http_get_json(port: int, path: str, headers: dict, timeout: float = 5.0):
    """(status, decoded JSON or None) of one GET on a fresh connection."""
    status, body = await http_get(port, path, headers, timeout)
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


async def http_get(port: int, path: str, headers: dict, timeout: float = 5.0):
    """(status, body bytes) of one GET on a fresh connection."""

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(
                (
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Accept: application/json\r\nConnection: close\r\n{extra}\r\n"
                ).encode()
            )
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
        head, _sep, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {}
        for line in lines[1:]:
            k, _c, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            body = _dechunk(body)
        return status, body

    return await asyncio.wait_for(go(), timeout)


# --- clients ---------------------------------------------------------------------------------


@dataclass
class Row:
    id: int
    conversation_id: int
    client_id: str | None
    direction: str
    body: str
    retracted: bool
    seq: int | None = None  # the message's change numbers, where the schema has them
    customer_seq: int | None = None

    def describe(self) -> str:
        return (
            f"message id {self.id} seq {self.seq} customer_seq {self.customer_seq} "
            f"({self.direction}{', retracted' if self.retracted else ''}) "
            f"client_id {self.client_id}"
        )


@dataclass
class ClientStats:
    connects: int = 0
    connect_failures: int = 0
    closes: Counter = field(default_factory=Counter)
    syncs: int = 0
    sync_failures: int = 0
    pages: int = 0
    max_pages: int = 0  # the most pages one sync took
    holes: int = 0
    polls: int = 0
    resends: int = 0
    duplicate_acks: int = 0
    errors: Counter = field(default_factory=Counter)
    refused: int = 0
    frames: int = 0
    reads_sent: int = 0
    read_frames: Counter = field(default_factory=Counter)  # actor "type:id" -> read frames seen
    live_false: int = 0
    no_seq: int = 0  # message frames or results without a seq (seq mode)


class ChatClient:
    """One page: a staff chat panel or a customer chat page, in `mode` "seq" or "legacy"."""

    def __init__(
        self,
        name: str,
        kind: str,
        pair: Pair,
        port: int,
        mode: str = "seq",
        send_reads: bool = True,
        small_buffer: bool = False,
    ):
        assert kind in ("staff", "customer") and mode in ("seq", "legacy")
        self.name, self.kind, self.pair, self.port, self.mode = name, kind, pair, port, mode
        self.send_reads, self.small_buffer = send_reads, small_buffer
        self.conversation_id = pair.conversation_id
        self.backoff_first, self.backoff_cap = (0.5, 3.0) if kind == "staff" else (1.0, 3.0)
        self.backoff = self.backoff_first
        self.view: dict[int, dict] = {}
        self.gone: set[int] = set()  # retracted messages a customer's page removed
        self.outbox: dict[str, dict] = {}  # client_id -> {"body", "note"} until acked or refused
        self.sent: dict[str, dict] = {}  # every send made: client_id -> {"body", "note", "at"}
        self.acked: dict[str, int] = {}
        self.retry_wait: dict[str, float] = {}
        self.last_seq = 0
        self.ahead: set[int] = set()  # seqs seen above last_seq (a hole lies below them)
        self.last_id = 0  # legacy catch-up position
        self.read_sent = 0
        self.live = True
        self.ws = None
        self.stopped = False
        self.reading = asyncio.Event()
        self.reading.set()
        self.tasks: set[asyncio.Task] = set()
        self.sync_task: asyncio.Task | None = None
        self.sync_again = False
        self.hole_task: asyncio.Task | None = None
        self.poll_task: asyncio.Task | None = None
        self.pongs: list[asyncio.Future] = []
        self.ready_event = asyncio.Event()
        self.stats = ClientStats()
        self.main: asyncio.Task | None = None
        self.edits_on = True
        self.pad = ""  # appended to every body this client sends (bigger frames)
        self.ack_times: list[tuple[float, float]] = []  # (sent at, seconds to the first ack)

    # --- plumbing -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<{self.name} {self.mode} conv={self.conversation_id} port={self.port}>"

    @property
    def url(self) -> str:
        if self.kind == "staff":
            return f"ws://127.0.0.1:{self.port}/ws/conversations/{self.conversation_id}/"
        return f"ws://127.0.0.1:{self.port}/ws/chat/{self.pair.token}/"

    @property
    def headers(self) -> dict:
        h = {"Origin": ORIGIN}
        if self.kind == "staff":
            h["Cookie"] = self.pair.cookie
        return h

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def is_mine(self, m: dict) -> bool:
        author = m.get("author") or {}
        if self.kind == "staff":
            return m.get("client_id") in self.sent
        return author.get("type") == "contact"

    async def send_frame(self, frame: dict) -> bool:
        ws = self.ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(frame))
            return True
        except (websockets.ConnectionClosed, OSError, RuntimeError):
            return False

    def start(self) -> None:
        self.main = asyncio.ensure_future(self.run())

    async def stop(self) -> None:
        self.stopped = True
        self.reading.set()
        ws = self.ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        if self.main is not None:
            self.main.cancel()
        for task in list(self.tasks):
            task.cancel()
        for t in (self.main, *self.tasks):
            if t is not None:
                with contextlib.suppress(BaseException):
                    await t

    # --- the connection -------------------------------------------------------------------

    async def _connect(self):
        kwargs = {
            "additional_headers": self.headers,
            "open_timeout": 5,
            "ping_interval": None,
            "close_timeout": 2,
            "max_size": 2**22,
        }
        if self.small_buffer:
            # A reader that stops must push back on the server: a small kernel buffer and a
            # short frame queue, so daphne's own buffer is what fills.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.wait_for(
                asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port)), 5
            )
            return await websockets.connect(self.url, sock=sock, max_queue=4, **kwargs)
        return await websockets.connect(self.url, **kwargs)

    async def load_initial(self) -> None:
        """What the page holds before its socket opens: the staff panel's newest page
        (`?before=`), the customer page's rendered history and its `seq` (chat-config)."""
        try:
            if self.kind == "staff":
                status, data = await http_get_json(
                    self.port, self.catch_up_path("before="), self.http_headers()
                )
                if status != 200 or not isinstance(data, dict):
                    return
                history, seq = data.get("results") or [], data.get("seq")
            else:
                status, body = await http_get(self.port, f"/c/{self.pair.token}/", {})
                found = re.search(rb'<script id="chat-config"[^>]*>(.*?)</script>', body, re.S)
                if status != 200 or not found:
                    return
                config = json.loads(found.group(1))
                history, seq = config.get("history") or [], config.get("seq")
        except Exception:
            return
        for m in history:
            self.apply(m)
        if self.mode == "seq" and seq is not None:
            self._advance(seq)

    async def run(self) -> None:
        await self.load_initial()
        while not self.stopped:
            try:
                ws = await self._connect()
            except Exception:
                self.stats.connect_failures += 1
                await self._wait_backoff()
                continue
            self.ws = ws
            self.stats.connects += 1
            if self.kind == "staff":
                self.backoff = self.backoff_first  # chat.js: on open
            if self.mode == "legacy" and self.kind == "staff":
                # chat.js before issue 11 caught up on open, not on ready.
                self.spawn(self.legacy_catch_up_then_resend())
            try:
                while True:
                    await self.reading.wait()
                    raw = await ws.recv()
                    self.stats.frames += 1
                    try:
                        frame = json.loads(raw)
                    except ValueError:
                        continue
                    self.on_frame(frame)
            except websockets.ConnectionClosed:
                pass
            except Exception:
                pass
            self.ws = None
            self.ready_event.clear()
            code = ws.close_code
            self.stats.closes[code] += 1
            for fut in self.pongs:
                if not fut.done():
                    fut.cancel()
            self.pongs.clear()
            if code in CLOSE_FOR_GOOD or self.stopped:
                return
            if code == CLOSE_NOT_READING:
                self.backoff = self.backoff_first
            await self._wait_backoff()

    async def _wait_backoff(self) -> None:
        wait = self.backoff * (0.75 + random.random() / 2)  # the pages' jitter
        self.backoff = min(self.backoff * 2, self.backoff_cap)
        await asyncio.sleep(wait)

    # --- frames ---------------------------------------------------------------------------

    def on_frame(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "ready":
            if self.kind == "customer":
                self.backoff = self.backoff_first  # customer_chat.js: on ready
            self.ready_event.set()
            if self.mode == "seq":
                self.set_live(frame.get("live", True), sync=False)
                self.spawn(self.sync_then_resend())
            elif self.kind == "customer":
                self.spawn(self.legacy_catch_up_then_resend())
        elif kind == "ack":
            self.on_ack(frame)
        elif kind in ("message.created", "message.updated", "message.retracted"):
            m = frame.get("message") or {}
            self.apply(m)
            if self.mode == "seq":
                self.note_seq(m.get("seq"))
            if self.send_reads and not self.is_mine(m):
                self.spawn(self.mark_read())
        elif kind == "live":
            if self.mode == "seq":
                self.set_live(bool(frame.get("live")), sync=True)
        elif kind == "pong":
            while self.pongs:
                fut = self.pongs.pop(0)
                if not fut.done():
                    fut.set_result(time.monotonic())
                    break
        elif kind == "read":
            actor = frame.get("actor") or {}
            self.stats.read_frames[f"{actor.get('type')}:{actor.get('id')}"] += 1
        elif kind == "error":
            self.on_error(frame)

    def on_ack(self, frame: dict) -> None:
        cid, mid = frame.get("client_id"), frame.get("id")
        if cid not in self.sent:
            return
        if frame.get("duplicate"):
            self.stats.duplicate_acks += 1
        if cid not in self.acked:
            sent_at = self.sent[cid]["at"]
            self.ack_times.append((sent_at, time.monotonic() - sent_at))
        self.acked[cid] = mid
        self.outbox.pop(cid, None)
        self.retry_wait.pop(cid, None)
        if self.mode == "legacy" and self.kind == "customer":
            self.last_id = max(self.last_id, mid)  # customer_chat.js before issue 11 did this
        if mid not in self.view and mid not in self.gone:
            item = self.sent[cid]
            # The page keeps its own text under the acked id until the broadcast arrives.
            self.view[mid] = {
                "id": mid,
                "client_id": cid,
                "body": item["body"],
                "retracted": False,
                "seq": None,
                "local": True,
            }

    def on_error(self, frame: dict) -> None:
        code = frame.get("error")
        self.stats.errors[code] += 1
        cid = frame.get("client_id")
        if cid and cid in self.outbox:
            if code in TRANSIENT:
                wait = min(self.retry_wait.get(cid, 0.5) * 2, 30.0)
                self.retry_wait[cid] = wait
                self.spawn(self._retry_later(cid, wait))
            else:
                self.stats.refused += 1
                self.outbox.pop(cid, None)

    async def _retry_later(self, cid: str, wait: float) -> None:
        await asyncio.sleep(wait)
        if cid in self.outbox:
            await self.transmit(cid)

    def apply(self, m: dict) -> None:
        """Place a message in the page's view: newer state wins (by seq when both have one); a
        retracted message never comes back; a customer's page removes it."""
        mid = m.get("id")
        if mid is None:
            return
        if self.mode == "legacy" and mid > self.last_id:
            self.last_id = mid
        if mid in self.gone:
            return
        retracted = bool(m.get("retracted")) or (self.kind == "customer" and m.get("body") is None)
        if self.kind == "customer" and retracted:
            self.view.pop(mid, None)
            self.gone.add(mid)
            return
        cur = self.view.get(mid)
        seq = m.get("seq")
        if cur is not None:
            if cur["retracted"] and not retracted:
                return
            if cur["seq"] is not None and seq is not None and seq < cur["seq"]:
                return
        self.view[mid] = {
            "id": mid,
            "client_id": m.get("client_id"),
            "body": m.get("body"),
            "retracted": retracted,
            "seq": seq,
            "local": False,
        }

    # --- seq tracking and catch-up ----------------------------------------------------------

    def note_seq(self, seq) -> None:
        """A change received: a number above the next expected one is a hole, fetched if it has
        not arrived within HOLE_WAIT_S (the timer is armed by received frames only, as in the
        pages)."""
        if seq is None:
            self.stats.no_seq += 1
            return
        if seq <= self.last_seq:
            return
        self.ahead.add(seq)
        self._advance()
        if self.ahead and (self.hole_task is None or self.hole_task.done()):
            self.hole_task = self.spawn(self._hole_wait())

    def _advance(self, to: int = 0) -> None:
        self.last_seq = max(self.last_seq, to)
        self.ahead = {s for s in self.ahead if s > self.last_seq}
        while self.last_seq + 1 in self.ahead:
            self.last_seq += 1
            self.ahead.discard(self.last_seq)

    async def _hole_wait(self) -> None:
        await asyncio.sleep(HOLE_WAIT_S)
        if self.ahead:
            self.stats.holes += 1
            await self.sync()

    def set_live(self, live: bool, sync: bool) -> None:
        was = self.live
        self.live = live
        if not live:
            if was:
                self.stats.live_false += 1
            if self.poll_task is None or self.poll_task.done():
                self.poll_task = self.spawn(self._poll())
        else:
            if self.poll_task is not None:
                self.poll_task.cancel()
                self.poll_task = None
            if sync and not was:
                self.spawn(self.sync())

    async def _poll(self) -> None:
        while not self.live and not self.stopped:
            await asyncio.sleep(POLL_EVERY_S)
            if not self.live:
                self.stats.polls += 1
                await self.sync()

    def catch_up_path(self, query: str) -> str:
        if self.kind == "staff":
            return f"/api/v1/conversations/{self.conversation_id}/messages/?{query}"
        return f"/c/{self.pair.token}/messages/?{query}"

    def http_headers(self) -> dict:
        return {"Cookie": self.pair.cookie} if self.kind == "staff" else {}

    async def sync(self) -> bool:
        """One catch-up at a time; a request for another while one runs runs it again after."""
        if self.sync_task is not None and not self.sync_task.done():
            self.sync_again = True
            return await asyncio.shield(self.sync_task)
        self.sync_task = self.spawn(self._sync())
        return await asyncio.shield(self.sync_task)

    async def _sync(self) -> bool:
        # As the pages: a failed catch-up is not retried by itself; the next trigger (a hole, a
        # `ready`, `live: true`, the paused poll) runs another. One queued behind a running one
        # runs after it.
        ok = False
        while not self.stopped:
            self.sync_again = False
            ok = await self._sync_once()
            if not self.sync_again:
                break
        return ok

    async def _sync_once(self) -> bool:
        since = self.last_seq
        pages = 0
        self.stats.syncs += 1
        while True:
            try:
                status, data = await http_get_json(
                    self.port,
                    self.catch_up_path(f"since={since}&limit=200"),
                    self.http_headers(),
                )
            except Exception:
                status, data = 0, None
            if status != 200 or not isinstance(data, dict):
                self.stats.sync_failures += 1
                return False
            pages += 1
            self.stats.pages += 1
            results = data.get("results") or []
            top = since
            for m in results:
                self.apply(m)
                seq = m.get("seq")
                if seq is None:
                    self.stats.no_seq += 1
                else:
                    top = max(top, seq)
            if data.get("has_more") and results:
                since = top
                continue
            self.stats.max_pages = max(self.stats.max_pages, pages)
            answer = data.get("seq")
            if answer is None:
                self.stats.no_seq += 1
                answer = 0
            self._advance(max(top, answer))
            if self.send_reads:
                self.spawn(self.mark_read())
            return True

    async def sync_then_resend(self) -> None:
        try:
            await self.sync()
        finally:
            await self.resend_all()

    async def legacy_catch_up_then_resend(self) -> None:
        try:
            status, data = await http_get_json(
                self.port, self.catch_up_path(f"after={self.last_id}"), self.http_headers()
            )
            self.stats.syncs += 1
            if status == 200 and isinstance(data, dict):
                self.stats.pages += 1
                for m in data.get("results") or []:
                    self.apply(m)
            else:
                self.stats.sync_failures += 1
        except Exception:
            self.stats.sync_failures += 1
        finally:
            await self.resend_all()

    async def resend_all(self) -> None:
        for cid in list(self.outbox):
            self.stats.resends += 1
            await self.transmit(cid)

    # --- actions --------------------------------------------------------------------------

    async def transmit(self, cid: str) -> None:
        item = self.outbox.get(cid)
        if item is None:
            return
        frame = {"action": "send", "client_id": cid, "body": item["body"]}
        if item["note"]:
            frame["note"] = True
        await self.send_frame(frame)

    async def submit(self, body: str, note: bool = False) -> str:
        cid = str(uuid.uuid4())
        self.sent[cid] = {"body": body, "note": note, "at": time.monotonic()}
        self.outbox[cid] = {"body": body, "note": note}
        await self.transmit(cid)
        return cid

    def own_live_messages(self) -> list[int]:
        return [
            mid
            for cid, mid in self.acked.items()
            if not self.sent[cid]["note"] and mid in self.view and not self.view[mid]["retracted"]
        ]

    async def edit_one(self, n: int) -> bool:
        mine = self.own_live_messages()[-20:]
        if not mine:
            return False
        mid = random.choice(mine)
        body = f"{self.view[mid]['body'] or ''} (edit {n})"[:2000]
        return await self.send_frame({"action": "edit", "message_id": mid, "body": body})

    async def retract_one(self) -> bool:
        mine = self.own_live_messages()[-20:]
        if not mine:
            return False
        return await self.send_frame({"action": "retract", "message_id": random.choice(mine)})

    async def mark_read(self) -> None:
        others = [
            mid
            for mid, v in self.view.items()
            if v["client_id"] not in self.sent and not v["local"]
        ]
        top = max(others, default=0)
        if top > self.read_sent and self.ws is not None:
            self.read_sent = top
            if await self.send_frame({"action": "read", "message_id": top}):
                self.stats.reads_sent += 1

    async def ping(self, timeout: float = 5.0) -> float | None:
        """Seconds from a ping frame to its pong (None: no pong within timeout)."""
        fut = asyncio.get_running_loop().create_future()
        self.pongs.append(fut)
        started = time.monotonic()
        if not await self.send_frame({"action": "ping"}):
            return None
        try:
            return await asyncio.wait_for(fut, timeout) - started
        except (TimeoutError, asyncio.CancelledError):
            return None

    def stall(self) -> None:
        self.reading.clear()

    def resume(self) -> None:
        self.reading.set()

    # --- what the page shows ------------------------------------------------------------

    def visible(self, row: Row) -> bool:
        return self.kind == "staff" or row.direction != "note"

    def missing(self, rows: list[Row], strict: bool) -> list[tuple[Row, str]]:
        """Messages of `rows` (this conversation's) the page does not show as stored.
        strict=False: presence only (a retracted message a customer's page removed counts)."""
        out = []
        for r in rows:
            if r.conversation_id != self.conversation_id or not self.visible(r):
                continue
            v = self.view.get(r.id)
            if self.kind == "customer" and r.retracted:
                if v is not None and strict:
                    out.append((r, "retracted but still shown"))
                continue
            if v is None:
                if not strict and r.id in self.gone:
                    continue
                out.append((r, "missing"))
                continue
            if not strict:
                continue
            if r.retracted != v["retracted"]:
                out.append((r, "retraction not shown"))
            elif not r.retracted and v["body"] != r.body:
                out.append((r, f"stale text (an edit not shown; the page holds seq {v['seq']})"))
        return out

    def duplicated(self) -> int:
        by_cid = Counter(v["client_id"] for v in self.view.values() if v["client_id"])
        return sum(n - 1 for n in by_cid.values() if n > 1)


# --- the database ----------------------------------------------------------------------------


class Db:
    def __init__(self, url: str):
        self.url = url
        self.conn = None

    async def connect(self) -> Db:
        import psycopg

        self.conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        return self

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def _query(self, sql: str, params=()):
        for attempt in range(3):
            try:
                cur = await self.conn.execute(sql, params)
                return await cur.fetchall()
            except Exception:
                if attempt == 2:
                    raise
                with contextlib.suppress(Exception):
                    await self.conn.close()
                await self.connect()
        return []

    has_seq: bool | None = None

    async def rows(self, conversation_ids: list[int]) -> list[Row]:
        if self.has_seq is None:
            got = await self._query(
                "SELECT count(*) FROM information_schema.columns"
                " WHERE table_name = 'comms_message' AND column_name = 'customer_seq'"
            )
            self.has_seq = bool(got[0][0])
        seqs = ", seq, customer_seq" if self.has_seq else ""
        got = await self._query(
            "SELECT id, conversation_id, client_id::text, direction, body, retracted"
            f"{seqs} FROM comms_message WHERE conversation_id = ANY(%s) ORDER BY id",
            (conversation_ids,),
        )
        return [Row(*r) for r in got]

    async def terminate_backends(self, exclude: list[int]) -> int:
        """pg_terminate_backend on every connection of the daphne processes to this database."""
        got = await self._query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND application_name = %s AND NOT (pid = ANY(%s))",
            (SERVER_APP_NAME, list(exclude)),
        )
        return sum(1 for (ok,) in got if ok)

    async def participant_writes(self) -> int:
        got = await self._query(
            "SELECT coalesce(sum(n_tup_upd + n_tup_ins), 0) FROM pg_stat_user_tables"
            " WHERE relname = 'comms_participant'"
        )
        return int(got[0][0])


# --- scenarios -------------------------------------------------------------------------------


@dataclass
class Config:
    scenario: str  # redis_stop | daphne_kill | db_kill | stalled_reader | read_flood
    database_url: str
    secret_key: str
    pairs: list[Pair]  # protocol ("seq") clients
    legacy_pairs: list[Pair] = field(default_factory=list)  # baseline clients, side by side
    rate: float = 50.0  # msg/s over the seq clients (and again over the legacy ones)
    seconds: float = 12.0  # the load
    fault_at: float = 3.0
    redis_outage_s: float = 5.0
    kills: int = 3
    kill_every_s: float = 3.0
    db_kills: int = 4
    db_kill_every_s: float = 2.0
    stall_s: float = 9.0
    stall_share: float = 0.6  # of the rate, sent by the stalled client's counterpart
    # The counterpart's messages are long (frames of about 2.5x this), so what daphne holds for
    # the stalled socket passes the kernel's send buffer and COMMS_SOCKET_BUFFER_BYTES (1 MiB)
    # within a few seconds at the default settings.
    stall_body_chars: int = 8000
    flood_frames: int = 5000
    flood_s: float = 5.0
    drain_s: float = 20.0
    recovery_limit_s: float = 30.0
    exclude_db_pids: list[int] = field(default_factory=list)
    server_extra_env: dict = field(default_factory=dict)
    log_dir: str | None = None
    edits: bool = True


@dataclass
class GroupReport:
    mode: str
    sent: int = 0
    acked: int = 0
    stored: int = 0
    expected: int = 0  # member-message pairs every page should end showing
    delivered_after_resync: int = 0
    lost: int = 0
    duplicated: int = 0
    unacked: int = 0  # sends still pending at the end (kept by the page, not lost)
    recovery_s: list = field(default_factory=list)  # per fault; None: not within the limit
    recovery_last: list = field(default_factory=list)  # per fault: the last page waited for
    problems: list = field(default_factory=list)
    per_client: list = field(default_factory=list)
    totals: Counter = field(default_factory=Counter)  # the clients' counters added up
    ack_s: dict = field(default_factory=dict)  # send -> first ack: p50, p99, max, slowest sends

    @property
    def recovery_max(self) -> float | None:
        if not self.recovery_s or any(r is None for r in self.recovery_s):
            return None
        return max(self.recovery_s)


@dataclass
class Report:
    scenario: str
    groups: dict = field(default_factory=dict)  # mode -> GroupReport
    extra: dict = field(default_factory=dict)
    wall_s: float = 0.0
    server_log: str = ""

    def summary(self) -> str:
        lines = [f"scenario {self.scenario} ({self.wall_s:.1f} s): {json.dumps(self.extra)}"]
        for g in self.groups.values():
            rec = ", ".join("-" if r is None else f"{r:.2f}" for r in g.recovery_s)
            lines.append(
                f"  {g.mode:6}: {dict(g.totals)}\n"
                f"  {g.mode:6}: sent {g.sent} acked {g.acked} stored {g.stored} unacked "
                f"{g.unacked}; delivered {g.delivered_after_resync}/{g.expected}; lost "
                f"{g.lost} duplicated {g.duplicated}; recovery_s [{rec}]"
            )
            lines.append(f"    acks: {g.ack_s}")
            for i, last in enumerate(g.recovery_last):
                if last:
                    lines.append(f"    recovery {i}: last waited for {last}")
            for c in g.per_client:
                lines.append(f"    {c}")
            for p in g.problems[:40]:
                lines.append(f"    ! {p}")
            if len(g.problems) > 40:
                lines.append(f"    ! ... {len(g.problems) - 40} more")
        return "\n".join(lines)


def make_clients(pairs: list[Pair], ports: list[int], mode: str, send_reads: bool) -> list:
    """Pair i: staff on process i, customer on process i+1 (mod N): every delivery crosses
    processes through Redis, and each process holds staff and customers."""
    clients = []
    n = len(ports)
    for i, p in enumerate(pairs):
        clients.append(ChatClient(f"{mode}-staff{i}", "staff", p, ports[i % n], mode, send_reads))
        clients.append(
            ChatClient(f"{mode}-customer{i}", "customer", p, ports[(i + 1) % n], mode, send_reads)
        )
    return clients


async def _load(clients: list[ChatClient], rate: float, stop_at: float, weights=None) -> None:
    """`rate` sends/s spread over the clients (by weight); every 10th staff send is a note,
    staff edit one of their messages every 20 sends and retract one every 50."""
    weights = weights or [1.0] * len(clients)
    start = time.monotonic()
    n = 0
    staff_sends = Counter()
    while True:
        due = start + n / rate
        now = time.monotonic()
        if due >= stop_at:
            return
        if due > now:
            await asyncio.sleep(due - now)
        c = random.choices(clients, weights)[0]
        n += 1
        if c.kind == "staff":
            staff_sends[c.name] += 1
            k = staff_sends[c.name]
            if c.edits_on and k % 20 == 0 and await c.edit_one(k):
                continue
            if c.edits_on and k % 50 == 25 and await c.retract_one():
                continue
            await c.submit(f"{c.name} message {n}{c.pad}", note=(k % 10 == 5))
        else:
            await c.submit(f"{c.name} message {n}{c.pad}")


async def _watch_recovery(db: Db, clients: list[ChatClient], conv_ids, ended: float, limit):
    """(seconds until every page shows what was stored at `ended` and every send it had pending
    then is acknowledged, or None past `limit`; what was still missing last)."""
    rows = await db.rows(conv_ids)
    pending = {c: set(c.outbox) for c in clients}
    last = ""
    while time.monotonic() < ended + limit:
        waiting = ""
        for c in clients:
            missing = c.missing(rows, strict=False)
            unacked = pending[c] & set(c.outbox)
            if missing:
                r, why = missing[0]
                waiting = f"{c.name}: {r.describe()} {why} (+{len(missing) - 1} more)"
            elif unacked:
                waiting = f"{c.name}: {len(unacked)} send(s) pending since the fault's end"
            if waiting:
                break
        if not waiting:
            return time.monotonic() - ended, last
        last = f"{waiting} at {time.monotonic() - ended:.1f} s"
        await asyncio.sleep(0.05)
    return None, last


class Stack:
    """A Redis of our own and two daphne processes sharing it. A scenario leaves them as it
    found them (Redis started again, killed processes restarted on their ports), so several
    scenarios may run on one stack (the benchmark does; each test starts its own)."""

    def __init__(self, database_url: str, secret_key: str, extra_env=None, log_dir=None):
        self.own_log_dir = log_dir is None
        self.log_dir = log_dir or tempfile.mkdtemp(prefix="keepline-faults-log-")
        self.redis = RedisServer()
        env = server_env(database_url, self.redis.url, secret_key, extra_env)
        self.servers = Servers(env, 2, self.log_dir)

    async def start(self) -> Stack:
        self.redis.start()
        await asyncio.to_thread(self.servers.start)
        return self

    async def stop(self) -> str:
        """Stops everything; returns the tail of the servers' logs."""
        await asyncio.to_thread(self.servers.stop)
        tail = self.servers.log_tail()
        self.redis.close()
        if self.own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        return tail


async def run_scenario(cfg: Config, stack: Stack | None = None) -> Report:
    started = time.monotonic()
    report = Report(cfg.scenario)
    own_stack = stack is None
    if own_stack:
        stack = Stack(cfg.database_url, cfg.secret_key, cfg.server_extra_env, cfg.log_dir)
    redis, servers = stack.redis, stack.servers
    db = None
    groups: dict[str, list[ChatClient]] = {}
    try:
        if own_stack:
            await stack.start()
        phases = report.extra.setdefault("phases_s", {})
        phases["servers"] = round(time.monotonic() - started, 1)
        db = await Db(cfg.database_url).connect()
        exclude = [*cfg.exclude_db_pids, db.conn.info.backend_pid]
        reads = cfg.scenario != "read_flood"  # the flood measures reads alone
        groups["seq"] = make_clients(cfg.pairs, servers.ports, "seq", reads)
        if cfg.legacy_pairs:
            groups["legacy"] = make_clients(cfg.legacy_pairs, servers.ports, "legacy", reads)
        stalled = None
        if cfg.scenario == "stalled_reader":
            # The first customer of each group stops reading; its rep sends most of the load.
            for mode, clients in groups.items():
                c = clients[1]
                groups[mode][1] = ChatClient(
                    c.name, c.kind, c.pair, c.port, c.mode, c.send_reads, small_buffer=True
                )
            stalled = [clients[1] for clients in groups.values()]
            filler = "The quick brown fox jumps over the lazy dog. "
            for clients in groups.values():
                clients[0].pad = (
                    " "
                    + (filler * (cfg.stall_body_chars // len(filler) + 1))[: cfg.stall_body_chars]
                )
        everyone = [c for clients in groups.values() for c in clients]
        for c in everyone:
            c.edits_on = cfg.edits
            c.start()
        await asyncio.wait_for(
            asyncio.gather(*(c.ready_event.wait() for c in everyone)), 30
        )  # every page open before the clock starts
        await asyncio.sleep(0.5)

        conv_ids = {mode: [c.conversation_id for c in cl[::2]] for mode, cl in groups.items()}
        load_start = time.monotonic()
        phases["pages_open"] = round(load_start - started, 1)
        stop_at = load_start + cfg.seconds
        loads = []
        for clients in groups.values():
            weights = None
            if cfg.scenario == "stalled_reader":
                others = (1 - cfg.stall_share) / max(len(clients) - 2, 1)
                weights = [others] * len(clients)
                weights[0], weights[1] = cfg.stall_share, 0.0
            loads.append(asyncio.ensure_future(_load(clients, cfg.rate, stop_at, weights)))

        watchers: list[tuple[str, asyncio.Task]] = []

        def fault_ended() -> None:
            ended = time.monotonic()
            for mode, clients in groups.items():
                watchers.append(
                    (
                        mode,
                        asyncio.ensure_future(
                            _watch_recovery(
                                db, clients, conv_ids[mode], ended, cfg.recovery_limit_s
                            )
                        ),
                    )
                )

        await asyncio.sleep(cfg.fault_at)
        await FAULTS[cfg.scenario](cfg, servers, redis, db, groups, exclude, report, fault_ended,
                                   stalled)  # fmt: skip
        await asyncio.gather(*loads)
        phases["load_end"] = round(time.monotonic() - started, 1)

        # Drain: every protocol page complete and every send acknowledged, or drain_s.
        deadline = time.monotonic() + cfg.drain_s
        all_ids = [i for ids in conv_ids.values() for i in ids]
        while time.monotonic() < deadline:
            rows = await db.rows(all_ids)
            if all(not c.outbox and not c.missing(rows, strict=True) for c in groups["seq"]):
                break
            await asyncio.sleep(0.3)
        phases["drained"] = round(time.monotonic() - started, 1)
        await asyncio.sleep(1.0)  # the baseline gets the same last second
        for mode, task in watchers:
            seconds, last = await task
            group = report.groups.setdefault(mode, GroupReport(mode))
            group.recovery_s.append(seconds)
            group.recovery_last.append(last)
        if cfg.scenario == "read_flood":
            await asyncio.sleep(1.5)  # PostgreSQL's statistics are flushed about every second
            report.extra["participant_writes"] = await db.participant_writes() - report.extra.pop(
                "_writes_before"
            )
        rows = await db.rows(all_ids)
        for mode, clients in groups.items():
            _figures(report.groups.setdefault(mode, GroupReport(mode)), clients, rows, load_start)
    finally:
        stopping = time.monotonic()
        await asyncio.gather(*(c.stop() for clients in groups.values() for c in clients))
        if db is not None:
            await db.close()
        if own_stack:
            report.server_log = await stack.stop()
        report.extra.setdefault("phases_s", {})["stop"] = round(time.monotonic() - stopping, 1)
    report.wall_s = time.monotonic() - started
    return report


def _figures(
    g: GroupReport, clients: list[ChatClient], all_rows: list[Row], load_start: float
) -> None:
    acks = sorted(t for c in clients for t in c.ack_times)
    waits = sorted(w for _at, w in acks)
    if waits:
        slowest = sorted(acks, key=lambda a: -a[1])[:3]
        g.ack_s = {
            "p50": round(waits[len(waits) // 2], 3),
            "p99": round(waits[min(len(waits) - 1, int(len(waits) * 0.99))], 3),
            "max": round(waits[-1], 3),
            "slowest (sent at s into the load, waited s)": [
                (round(at - load_start, 1), round(w, 2)) for at, w in slowest
            ],
        }
    conv = {c.conversation_id for c in clients}
    sent_by = {cid: c for c in clients for cid in c.sent}
    rows = [r for r in all_rows if r.conversation_id in conv and r.client_id in sent_by]
    stored = Counter(r.client_id for r in rows)
    g.sent = len(sent_by)
    g.acked = sum(len(c.acked) for c in clients)
    g.stored = len(stored)
    g.unacked = sum(len(c.outbox) for c in clients)
    g.duplicated = sum(n - 1 for n in stored.values() if n > 1)
    for cid, n in stored.items():
        if n > 1:
            g.problems.append(f"client_id {cid} of {sent_by[cid].name} stored {n} times")
    for c in clients:
        for cid, mid in c.acked.items():
            if cid not in stored:
                g.lost += 1
                g.problems.append(f"{c.name}: acked {cid} (id {mid}) is not stored")
    for c in clients:
        expected = [r for r in rows if r.conversation_id == c.conversation_id and c.visible(r)]
        expected = [r for r in expected if not (c.kind == "customer" and r.retracted)]
        missing = c.missing(rows, strict=True)
        g.expected += len(expected)
        g.delivered_after_resync += len(expected) - sum(1 for _r, why in missing if why != (
            "retracted but still shown"))  # fmt: skip
        g.lost += len(missing)
        g.duplicated += c.duplicated()
        for r, why in missing:
            author = sent_by[r.client_id].name
            g.problems.append(
                f"{c.name} (last_seq {c.last_seq}, ahead {sorted(c.ahead)[:5]}): "
                f"{r.describe()} from {author}: {why}"
            )
        mine_stored = sum(1 for cid in c.sent if cid in stored)
        s = c.stats
        for name in ("connects", "syncs", "pages", "holes", "polls", "resends", "live_false"):
            g.totals[name] += getattr(s, name)
        g.totals["duplicate_acks"] += s.duplicate_acks
        g.totals["no_seq"] += s.no_seq
        g.per_client.append(
            f"{c.name:16} :{c.port} sent {len(c.sent):4} acked {len(c.acked):4} stored "
            f"{mine_stored:4} seen {len(expected) - sum(1 for _ in missing):4}/{len(expected):4} "
            f"connects {s.connects} closes {dict(s.closes)} syncs {s.syncs} pages {s.pages} "
            f"(max {s.max_pages}) fails {s.sync_failures} holes {s.holes} polls {s.polls} "
            f"live_false {s.live_false} resends {s.resends} dup_acks {s.duplicate_acks} "
            f"errors {dict(s.errors)} no_seq {s.no_seq}"
        )


# --- the faults: each calls fault_ended() when its fault is over -----------------------------


async def _redis_stop(cfg, servers, redis, db, groups, exclude, report, fault_ended, stalled):
    await asyncio.to_thread(redis.stop)
    await asyncio.sleep(cfg.redis_outage_s)
    await asyncio.to_thread(redis.start)
    fault_ended()


async def _daphne_kill(cfg, servers, redis, db, groups, exclude, report, fault_ended, stalled):
    for k in range(cfg.kills):
        if k:
            await asyncio.sleep(cfg.kill_every_s)
        i = k % len(servers.daphnes)
        await asyncio.to_thread(servers.kill, i)
        await asyncio.to_thread(servers.restart, i)
        fault_ended()
    report.extra["kills"] = cfg.kills


async def _db_kill(cfg, servers, redis, db, groups, exclude, report, fault_ended, stalled):
    killed = 0
    for k in range(cfg.db_kills):
        if k:
            await asyncio.sleep(cfg.db_kill_every_s)
        killed += await db.terminate_backends(exclude)
        fault_ended()
    report.extra["backends_terminated"] = killed


async def _stalled_reader(cfg, servers, redis, db, groups, exclude, report, fault_ended, stalled):
    for c in stalled:
        c.stall()
    stats_before = {c.name: (c.stats.pages, dict(c.stats.closes)) for c in stalled}
    await asyncio.sleep(cfg.stall_s)
    rows = await db.rows([stalled[0].conversation_id])
    report.extra["missed_while_stalled"] = sum(
        1 for r in rows if r.direction != "note" and r.id not in stalled[0].view
    )
    for c in stalled:
        c.resume()
    fault_ended()
    await asyncio.sleep(min(3.0, cfg.seconds))
    for c in stalled:
        pages_before, closes_before = stats_before[c.name]
        report.extra[f"{c.mode}_stalled_closes"] = {
            str(k): v - closes_before.get(k, 0) for k, v in c.stats.closes.items()
        }
        report.extra[f"{c.mode}_stalled_pages"] = c.stats.pages - pages_before
        report.extra[f"{c.mode}_stalled_max_pages"] = c.stats.max_pages


async def _read_flood(cfg, servers, redis, db, groups, exclude, report, fault_ended, stalled):
    flooder, other = groups["seq"][0], groups["seq"][1]  # the rep floods; its customer watches
    report.extra["_writes_before"] = await db.participant_writes()
    relayed_before = {c.name: sum(c.stats.read_frames.values()) for c in (flooder, other)}
    latencies: list[float | None] = []
    flooding = True

    lags: list[float] = []

    async def pinger():
        while flooding:
            latencies.append(await flooder.ping(timeout=5.0))
            await asyncio.sleep(0.2)

    async def lag_probe():
        # This process's own event loop delay: a pong late by this much was late here, not in
        # the server.
        while flooding:
            t = time.monotonic()
            await asyncio.sleep(0.05)
            lags.append(time.monotonic() - t - 0.05)

    ping_task = asyncio.ensure_future(pinger())
    lag_task = asyncio.ensure_future(lag_probe())
    start = time.monotonic()
    sent = 0
    batch = 25
    while sent < cfg.flood_frames:
        top = max(flooder.view, default=0)
        for _ in range(batch):
            await flooder.send_frame({"action": "read", "message_id": top})
        sent += batch
        due = start + cfg.flood_s * sent / cfg.flood_frames
        await asyncio.sleep(max(0.0, due - time.monotonic()))
    flood_s = time.monotonic() - start
    fault_ended()
    await asyncio.sleep(1.5)
    flooding = False
    await ping_task
    await lag_task
    report.extra.update(
        {
            "flood_frames": sent,
            "flood_s": round(flood_s, 2),
            "pings": len(latencies),
            "pings_unanswered": sum(1 for x in latencies if x is None),
            "pong_max_ms": round(
                1000 * max((x for x in latencies if x is not None), default=float("inf")), 1
            ),
            "client_loop_lag_max_ms": round(1000 * max(lags, default=0.0), 1),
            "reads_relayed_to_customer": sum(other.stats.read_frames.values())
            - relayed_before[other.name],
            "reads_relayed_to_flooder": sum(flooder.stats.read_frames.values())
            - relayed_before[flooder.name],
            "flooder_errors": dict(flooder.stats.errors),
        }
    )


FAULTS = {
    "redis_stop": _redis_stop,
    "daphne_kill": _daphne_kill,
    "db_kill": _db_kill,
    "stalled_reader": _stalled_reader,
    "read_flood": _read_flood,
}
SCENARIOS = tuple(FAULTS)
