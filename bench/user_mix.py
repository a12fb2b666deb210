"""A simulated working day (issue 16, point 5): reps loading pages and chatting, stepped up until
the servers stop being healthy, beside the same mix against bare Django + Channels.

The day: 300 reps under 15 managers, 9,200 contacts, 3,080 deals and 1,513 conversations with
customer links; the fixture scales with the largest step or --fixture-reps (managers = reps / 20,
rounded up). It is
built through the services (contacts, deals, conversations, customer links: guardian rows, audit
rows and counters are real; users are bulk-created like bench/keepline_chat.py) in its own
database `keepline_usermix_<reps>`, and reused by later runs of the same size (a table
`usermix_fixture` holds what the generator needs, with the customer tokens; links are reissued
when they near expiry).

Servers: two daphne processes serving config.asgi with DEBUG off and production settings
(PostgreSQL with the pool, the Redis pub/sub layer and cache), no balancer: rep i's pages and
socket go to process i mod 2, its customer's socket to the other one, so every delivery crosses
processes through Redis.

Each rep keeps one chat socket open on one of its conversations, loads a page every ~30 s
(home, inbox, one of its deals, the deals list, one of its contacts: uniformly, interval jittered
x0.5-1.5, first one at a random point of the first interval), sends every ~60 s (same jitter), and
sends a read receipt for each message it receives from the customer, as static/js/chat.js does. The
customer answers every ~60 s and reads the rep's messages. One asyncio process drives it all
(aiohttp for HTTP keep-alive, websockets for the sockets).

Steps add reps to those already running (ramp, then a measured window). Per step: http_avg_ms,
http_p99_ms, ws_ack_p99_ms (send -> ack), delivery_p99_ms (send -> the other side receives it),
errors (5xx, failed connections or sockets, a page redirected to sign-in, a send not acked within
10 s, a socket closed by the server), cpu_<process> (CPU seconds per second over the window from
/proc/<pid>/stat: each daphne, PostgreSQL backends of the bench's database, Redis - shared with
anything else on the machine - and the load generator). At the end: healthy_reps, the highest
step meeting Mattermost's definition (average request <= 100 ms, p99 <= 2 s, errors <= 0.025% of
requests and sends; its baseline is the highest baseline step that was healthy, so it can be
no higher than the last baseline step), and page_p50_ms_<page> at the 100-rep step (or the
nearest).

Baseline (`baseline` on each line, where run): the same mix, same generator, same two daphne
processes, same PostgreSQL database and Redis, against bench/usermix_bare (stock Django +
Channels: pages read the session row and render 25 rows through a template; sockets ack and
broadcast through the pub/sub layer with no database work). It is the framework's ceiling on this
machine, so `ratio` is what Keepline's own work costs. Run at the steps of --quick (10, 30) and
at 100 in the full run, not at every step: it stayed flat from 10 to 100 reps (14-19 ms average
on 2026-12-04) while Keepline was already unhealthy, and the machine's time goes to Keepline's
steps.

WSGI comparison (--wsgi-steps; full run: 100 and 300): 1 daphne for /ws/ plus gunicorn (gthread,
2 workers x 4 threads, config.wsgi) for pages, same two cores; figures as http_avg_ms_wsgi /
http_p99_ms_wsgi with the 2-daphne figure of that step as baseline. gunicorn is not a
dependency: it is found on BENCH_GUNICORN_PATH (a `pip install --target` directory, default
/tmp/usermix_pkgs) or the comparison is skipped.

Options: --steps, --baseline-steps, --wsgi-steps (comma-separated rep counts; "" for none),
--window and --ramp (seconds), --fixture-reps (reuse a larger cached fixture), --pace (divide the
day's intervals: the test's tiny run), --build-only.

Measured on a 2-core machine on 2026-12-04 (a shared one in the afternoon, a quiet one in the
evening, to 500 reps): docs/operations.md, "Processes and sizes".

Environment: USERMIX_PG (server URL, default postgres://postgres@127.0.0.1:5432),
USERMIX_REDIS_URL (default redis://127.0.0.1:6379/5; flushed before the run only when it names
database 5, or BENCH_REDIS_FLUSH_DB's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, VENV_BIN, Daphne, _die_with_parent, emit, free_port  # noqa: E402

BENCH = "user_mix"
ORIGIN = "http://127.0.0.1"
PAGES = ("home", "inbox", "deal", "deals", "contact")
PAGE_EVERY_S = 30.0
SEND_EVERY_S = 60.0  # the rep's, and the customer's
ACK_TIMEOUT_S = 10.0
# Mattermost's load-test definition of healthy (shared/PERFORMANCE.md).
HEALTHY_AVG_MS, HEALTHY_P99_MS, HEALTHY_ERROR_SHARE = 100.0, 2000.0, 0.00025
# The issue's day at 300 reps.
DAY = {"reps": 300, "managers": 15, "contacts": 9200, "deals": 3080, "conversations": 1513}


# --- pure parts (tests/bench/test_user_mix.py) ---------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def is_healthy(avg_ms: float, p99_ms: float, errors: int, operations: int) -> bool:
    """Mattermost's definition; a step with no operation at all proves nothing."""
    if operations <= 0:
        return False
    return (
        avg_ms <= HEALTHY_AVG_MS
        and p99_ms <= HEALTHY_P99_MS
        and errors / operations <= HEALTHY_ERROR_SHARE
    )


def healthy_reps(steps: list[dict]) -> int:
    """The highest step (by reps) that was healthy; 0 when none was."""
    return max((s["reps"] for s in steps if s["healthy"]), default=0)


def fixture_sizes(reps: int) -> dict:
    """The issue's day scaled to `reps`: every rep gets at least one conversation."""
    scale = reps / DAY["reps"]
    return {
        "reps": reps,
        "managers": max(1, math.ceil(reps / 20)),
        "contacts": max(reps, round(DAY["contacts"] * scale)),
        "deals": max(reps, round(DAY["deals"] * scale)),
        "conversations": max(reps, round(DAY["conversations"] * scale)),
    }


def page_path(kind: str, rep: dict) -> str:
    if kind == "home":
        return "/"
    if kind == "inbox":
        return "/inbox/"
    if kind == "deals":
        return "/deals/"
    if kind == "deal":
        return f"/deals/{rep['deals'][0]}/"
    if kind == "contact":
        return f"/contacts/{rep['contacts'][0]}/"
    raise ValueError(kind)


def pick_page(rng: random.Random, rep: dict) -> tuple[str, str]:
    """One of the five pages, uniformly; a deal or contact among the rep's own."""
    kind = rng.choice(PAGES)
    if kind == "deal":
        return kind, f"/deals/{rng.choice(rep['deals'])}/"
    if kind == "contact":
        return kind, f"/contacts/{rng.choice(rep['contacts'])}/"
    return kind, page_path(kind, rep)


def jittered(rng: random.Random, mean: float) -> float:
    return mean * rng.uniform(0.5, 1.5)


def nearest(values: list[int], target: int) -> int | None:
    return min(values, key=lambda v: (abs(v - target), v)) if values else None


def summarise(rec: Recorder, start: float, end: float, reps: int) -> dict:
    """One step's figures from the events recorded in [start, end)."""

    def within(rows):
        return [r for r in rows if start <= r[0] < end]

    http = within(rec.http)
    ms = [r[2] for r in http]
    acks = [r[1] for r in within(rec.acks)]
    deliveries = [r[1] for r in within(rec.deliveries)]
    errors = within(rec.errors)
    sends = len(within(rec.sends))
    by_page: dict = {}
    for _t, page, value in http:
        by_page.setdefault(page, []).append(value)
    avg = sum(ms) / len(ms) if ms else 0.0
    p99 = percentile(ms, 99)
    operations = len(http) + sends
    kinds: dict = {}
    for _t, kind in errors:
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "reps": reps,
        "requests": len(http),
        "sends": sends,
        "http_avg_ms": avg,
        "http_p99_ms": p99,
        "ws_ack_p99_ms": percentile(acks, 99),
        "delivery_p99_ms": percentile(deliveries, 99),
        "errors": len(errors),
        "error_kinds": kinds,
        "page_p50_ms": {p: percentile(v, 50) for p, v in sorted(by_page.items())},
        "healthy": is_healthy(avg, p99, len(errors), operations),
    }


# --- the load generator --------------------------------------------------------------------------


@dataclass
class Recorder:
    http: list = field(default_factory=list)  # (t, page, ms)
    acks: list = field(default_factory=list)  # (t, ms)
    deliveries: list = field(default_factory=list)  # (t, ms)
    sends: list = field(default_factory=list)  # (t,)
    errors: list = field(default_factory=list)  # (t, kind)

    def error(self, kind: str) -> None:
        self.errors.append((time.monotonic(), kind))


@dataclass
class Target:
    """Where each rep's traffic goes: `http_ports` for pages, `ws_ports` for sockets (rep i on
    port i mod N, its customer on i+1 mod N); `customer_path(rep)` the customer socket's path."""

    http_ports: list
    ws_ports: list
    bare: bool = False

    def customer_path(self, rep: dict) -> str:
        if self.bare:
            return f"/ws/chat/{rep['conversation']}/"
        return f"/ws/chat/{rep['token']}/"


class Generator:
    def __init__(self, target: Target, reps: list[dict], pace: float = 1.0):
        self.target, self.reps = target, reps
        # pace > 1 compresses the day (the test's tiny run): intervals divided by it.
        self.page_every, self.send_every = PAGE_EVERY_S / pace, SEND_EVERY_S / pace
        self.rec = Recorder()
        self.pending: dict = {}  # client_id -> (sent at, sender socket id)
        self.tasks: list = []
        self.running = 0
        self.stopping = False

    # pages
    async def pages(self, i: int, rep: dict, session) -> None:
        port = self.target.http_ports[i % len(self.target.http_ports)]
        rng = random.Random(i)
        await asyncio.sleep(rng.uniform(0, self.page_every))
        while not self.stopping:
            kind, path = pick_page(rng, rep)
            started = time.monotonic()
            try:
                async with session.get(
                    f"http://127.0.0.1:{port}{path}", allow_redirects=False
                ) as response:
                    await response.read()
                    status = response.status
                ended = time.monotonic()
                self.rec.http.append((ended, kind, (ended - started) * 1000))
                if status >= 500:
                    self.rec.error(f"http_{status}")
                elif status in (301, 302):
                    self.rec.error("signed_out")
                elif status != 200:
                    self.rec.error(f"http_{status}")
            except Exception:  # noqa: BLE001 - any failure of a page load is an error
                if self.stopping:
                    return
                self.rec.error("http_failed")
            await asyncio.sleep(jittered(rng, self.page_every))

    # sockets
    async def socket(self, i: int, rep: dict, customer: bool) -> None:
        import websockets

        ports = self.target.ws_ports
        port = ports[(i + (1 if customer else 0)) % len(ports)]
        if customer:
            url, headers = f"ws://127.0.0.1:{port}{self.target.customer_path(rep)}", {}
        else:
            url = f"ws://127.0.0.1:{port}/ws/conversations/{rep['conversation']}/"
            headers = {"Cookie": rep["cookie"]}
        headers["Origin"] = ORIGIN
        me = ("c" if customer else "r", i)
        mine: set = set()
        rng = random.Random(f"{me}")
        try:
            ws = await websockets.connect(
                url, additional_headers=headers, max_queue=None, open_timeout=30
            )
        except Exception:  # noqa: BLE001
            self.rec.error("ws_connect_failed")
            return
        sender = asyncio.ensure_future(self._sends(ws, me, mine, rng))
        last_read = 0
        try:
            async for raw in ws:
                now = time.monotonic()
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "ack":
                    cid = msg.get("client_id")
                    entry = self.pending.get(cid)
                    if entry is not None and "acked" not in entry:
                        entry["acked"] = now
                        self.rec.acks.append((now, (now - entry["t"]) * 1000))
                elif kind == "error":
                    self.rec.error(f"ws_{msg.get('error')}")
                elif kind == "message.created":
                    m = msg.get("message") or {}
                    cid = m.get("client_id")
                    if cid in mine:
                        continue
                    entry = self.pending.get(cid)
                    if entry is not None and "delivered" not in entry:
                        entry["delivered"] = now
                        self.rec.deliveries.append((now, (now - entry["t"]) * 1000))
                    message_id = m.get("id") or 0
                    if message_id > last_read:  # the page reads what arrives while open
                        last_read = message_id
                        await ws.send(json.dumps({"action": "read", "message_id": message_id}))
                elif kind == "closing":
                    self.rec.error(f"ws_closing_{msg.get('reason')}")
        except Exception:  # noqa: BLE001
            pass
        finally:
            sender.cancel()
            if not self.stopping:
                self.rec.error(f"ws_closed_{getattr(ws, 'close_code', None)}")
            await ws.close()

    async def _sends(self, ws, me, mine: set, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0, self.send_every))
        while not self.stopping:
            cid = str(uuid.uuid4())
            mine.add(cid)
            self.pending[cid] = {"t": time.monotonic()}
            self.rec.sends.append((time.monotonic(),))
            await ws.send(
                json.dumps({"action": "send", "client_id": cid, "body": f"hello from {me}"})
            )
            asyncio.get_running_loop().call_later(ACK_TIMEOUT_S, self._ack_check, cid)
            await asyncio.sleep(jittered(rng, self.send_every))

    def _ack_check(self, cid: str) -> None:
        entry = self.pending.get(cid)
        if entry is not None and "acked" not in entry and not self.stopping:
            self.rec.error("send_not_acked")

    async def rep(self, i: int, rep: dict) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=2)
        timeout = aiohttp.ClientTimeout(total=60)
        headers = {"Cookie": rep["cookie"]}
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=headers
        ) as session:
            await asyncio.gather(
                self.pages(i, rep, session),
                self.socket(i, rep, customer=False),
                self.socket(i, rep, customer=True),
            )

    async def grow(self, reps: int, ramp: float) -> None:
        """Start reps up to `reps`, spread over `ramp` seconds."""
        new = list(range(self.running, min(reps, len(self.reps))))
        for n, i in enumerate(new):
            self.tasks.append(asyncio.ensure_future(self.rep(i, self.reps[i])))
            await asyncio.sleep(ramp / max(1, len(new)) if n < len(new) - 1 else 0)
        self.running = max(self.running, len(new) and new[-1] + 1)

    async def stop(self) -> None:
        self.stopping = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# --- CPU -----------------------------------------------------------------------------------------


def _ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def _processes() -> list[tuple[int, str, str, int]]:
    """(pid, comm, cmdline, ppid) of every process."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out.append((int(entry), comm, cmd, ppid))
    return out


def cpu_snapshot(servers: dict[str, int], database: str) -> dict:
    """CPU ticks so far per process: each named server process with its children, the
    PostgreSQL backends of `database`, Redis, and this process ({name: {pid: ticks}})."""
    procs = _processes()
    snap: dict = {}
    for name, pid in servers.items():
        family = {pid} | {p for p, _c, _cmd, ppid in procs if ppid == pid}
        snap[name] = {p: _ticks(p) for p in family}
    snap["postgres"] = {
        p: _ticks(p) for p, comm, cmd, _pp in procs if comm == "postgres" and f" {database} " in cmd
    }
    snap["redis"] = {p: _ticks(p) for p, comm, _c, _pp in procs if comm == "redis-server"}
    snap["load"] = {os.getpid(): _ticks(os.getpid())}
    snap["wall"] = time.monotonic()
    return snap


def cpu_rates(before: dict, after: dict) -> dict:
    """CPU seconds per second between two snapshots. A process that started in between counts
    from zero (its whole life is inside); one that ended in between is lost (an undercount:
    the pool closes idle PostgreSQL connections now and then)."""
    tick = os.sysconf("SC_CLK_TCK")
    wall = after["wall"] - before["wall"]
    out = {}
    for name, pids in after.items():
        if name == "wall":
            continue
        was = before.get(name, {})
        out[name] = sum(t - was.get(p, 0) for p, t in pids.items()) / tick / wall
    return out


# --- fixture and servers -------------------------------------------------------------------------


def server_env(database_url: str, redis_url: str, var_dir: str) -> dict:
    from bench.keepline_chat import server_env as chat_env

    return {**chat_env(database_url, redis_url), "KEEPLINE_VAR_DIR": var_dir}


def fixture_load_or_build(sizes: dict) -> dict:
    """The cached fixture of this size (the `usermix_fixture` row), built when missing."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS usermix_fixture (size int PRIMARY KEY, data jsonb)")
        cur.execute("SELECT data FROM usermix_fixture WHERE size = %s", [sizes["reps"]])
        row = cur.fetchone()
    if row is not None:
        data = row[0] if isinstance(row[0], dict) else json.loads(row[0])
        if data.get("links_until", 0) > time.time() + 24 * 3600:
            return data
        return _reissue_links(data)
    data = _build(sizes)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO usermix_fixture (size, data) VALUES (%s, %s)",
            [sizes["reps"], json.dumps(data)],
        )
    return data


def _reissue_links(data: dict) -> dict:
    from django.conf import settings
    from django.db import connection

    from accounts.models import User
    from comms import services
    from comms.models import Conversation

    users = User.objects.in_bulk([r["id"] for r in data["reps"]])
    conversations = Conversation.objects.in_bulk([r["conversation"] for r in data["reps"]])
    for r in data["reps"]:
        _link, r["token"] = services.customer_link_issue(
            actor=users[r["id"]], conversation=conversations[r["conversation"]]
        )
    data["links_until"] = time.time() + settings.COMMS_CUSTOMER_LINK_SECONDS
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE usermix_fixture SET data = %s WHERE size = %s",
            [json.dumps(data), len(data["reps"])],
        )
    return data


def _build(sizes: dict) -> dict:
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import User
    from comms import services as comms_services
    from crm import services as crm_services
    from crm.models import Pipeline

    started = time.monotonic()
    unusable = make_password(None)
    managers = User.objects.bulk_create(
        [
            User(
                username=f"um-manager{i}", first_name="Manager", last_name=str(i), password=unusable
            )
            for i in range(sizes["managers"])
        ]
    )
    reps = User.objects.bulk_create(
        [
            User(
                username=f"um-rep{i}",
                first_name="Rep",
                last_name=str(i),
                password=unusable,
                manager=managers[i % len(managers)],
            )
            for i in range(sizes["reps"])
        ]
    )
    through = User.groups.through
    manager_group, rep_group = (
        Group.objects.get(name=roles.MANAGER),
        Group.objects.get(name=roles.REP),
    )
    through.objects.bulk_create(
        [through(user_id=u.pk, group_id=manager_group.pk) for u in managers]
        + [through(user_id=u.pk, group_id=rep_group.pk) for u in reps]
    )
    n = len(reps)
    contacts: list[list] = [[] for _ in reps]
    for c in range(sizes["contacts"]):
        owner = reps[c % n]
        contacts[c % n].append(
            crm_services.contact_create(
                actor=owner,
                first_name="Customer",
                last_name=f"{c}",
                emails=[f"customer{c}@example.com"],
                allow_duplicate=True,
            )
        )
    print(
        f"user_mix: {sizes['contacts']} contacts {time.monotonic() - started:.0f}s",
        file=sys.stderr,
        flush=True,
    )
    stage = Pipeline.objects.get(is_default=True).stages.order_by("position").first()
    deals: list[list] = [[] for _ in reps]
    for d in range(sizes["deals"]):
        i = d % n
        contact = contacts[i][(d // n) % len(contacts[i])]
        deals[i].append(
            crm_services.deal_create(
                actor=reps[i],
                title=f"Deal {d}",
                stage=stage,
                primary_contact=contact,
                contacts=[contact],
                amount=1000 + d,
            )
        )
    print(
        f"user_mix: {sizes['deals']} deals {time.monotonic() - started:.0f}s",
        file=sys.stderr,
        flush=True,
    )
    first_conversation: list = [None] * n
    for k in range(sizes["conversations"]):
        i = k % n
        j = k // n
        contact = contacts[i][j % len(contacts[i])]
        deal = deals[i][j % len(deals[i])] if j % 2 == 0 else None
        conversation = comms_services.conversation_start(
            actor=reps[i], contact=contact, deal=deal, subject=f"Chat {k}"
        )
        _link, token = comms_services.customer_link_issue(actor=reps[i], conversation=conversation)
        if first_conversation[i] is None:
            first_conversation[i] = (conversation.pk, token)
    print(
        f"user_mix: {sizes['conversations']} conversations {time.monotonic() - started:.0f}s",
        file=sys.stderr,
        flush=True,
    )
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {
        "sizes": sizes,
        "links_until": time.time() + settings.COMMS_CUSTOMER_LINK_SECONDS,
        "reps": [
            {
                "id": rep.pk,
                "conversation": first_conversation[i][0],
                "token": first_conversation[i][1],
                "deals": [d.pk for d in deals[i]],
                "contacts": [c.pk for c in contacts[i]],
            }
            for i, rep in enumerate(reps)
        ],
    }


def sign_in(data: dict) -> list[dict]:
    """A fresh session cookie for each rep (the test client's force_login, like a sign-in)."""
    from django.test import Client

    from accounts.models import User

    users = User.objects.in_bulk([r["id"] for r in data["reps"]])
    out = []
    for r in data["reps"]:
        client = Client()
        client.force_login(users[r["id"]])
        out.append({**r, "cookie": f"sessionid={client.cookies['sessionid'].value}"})
    return out


def setup(args) -> tuple[dict, list[dict], str, str, str]:
    from bench.keepline_chat import django_setup, ensure_database, flush_bench_redis

    sizes = fixture_sizes(max(args.fixture_reps or 0, *args.steps, *args.wsgi_steps))
    base = os.environ.get("USERMIX_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    database = f"keepline_usermix_{sizes['reps']}"
    database_url = f"{base}/{database}"
    redis_url = os.environ.get("USERMIX_REDIS_URL", "redis://127.0.0.1:6379/5")
    var_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), "keepline-usermix-var")
    env = server_env(database_url, redis_url, var_dir)
    ensure_database(database_url)
    flush_bench_redis(redis_url)
    # Static files for DEBUG off (the manifest the templates' {% static %} needs), collected
    # again whenever a file under static/ is newer than the manifest.
    manifest = Path(var_dir) / "static" / "staticfiles.json"
    newest = max(p.stat().st_mtime for p in (ROOT / "static").rglob("*") if p.is_file())
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
        )
    django_setup(env)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    data = fixture_load_or_build(sizes)
    reps = sign_in(data)
    connections.close_all()
    return env, reps, database, database_url, redis_url


class Gunicorn:
    """gunicorn (gthread) serving config.wsgi on a free port, for one with-block."""

    def __init__(self, env: dict, path: str, workers: int, threads: int):
        self.port = free_port()
        self.env = {**os.environ, **env, "PYTHONPATH": path}
        self.args = [
            str(VENV_BIN / "python"), "-m", "gunicorn", "config.wsgi:application",
            "-b", f"127.0.0.1:{self.port}", "-k", "gthread", "-w", str(workers),
            "--threads", str(threads), "--keep-alive", "75", "--log-level", "warning",
        ]  # fmt: skip

    def __enter__(self):
        import socket

        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,  # noqa: PLW1509
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.2)
        self.proc.kill()
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def gunicorn_path() -> str | None:
    path = os.environ.get("BENCH_GUNICORN_PATH", "/tmp/usermix_pkgs")  # noqa: S108
    return path if (Path(path) / "gunicorn").is_dir() else None


async def warm_up(target: Target, rep: dict) -> None:
    """Each page twice on each HTTP port first: a process's first requests (templates, imports)
    are not what a day looks like."""
    import aiohttp

    async with aiohttp.ClientSession(headers={"Cookie": rep["cookie"]}) as session:
        for port in target.http_ports:
            for path in [page_path(kind, rep) for kind in PAGES] * 2:
                async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                    await response.read()


async def run_steps(
    target: Target, reps: list[dict], steps: list[int], ramp: float, window: float, cpu_of,
    label: str, pace: float = 1.0,
) -> list[dict]:  # fmt: skip
    gen = Generator(target, reps, pace)
    out = []
    await warm_up(target, reps[0])
    try:
        for step in steps:
            await gen.grow(step, ramp)
            await asyncio.sleep(ramp / 2)
            before = cpu_of()
            start = time.monotonic()
            await asyncio.sleep(window)
            end = time.monotonic()
            figures = summarise(gen.rec, start, end, step)
            figures["cpu"] = cpu_rates(before, cpu_of())
            print(f"user_mix {label}: {json.dumps(figures)}", file=sys.stderr, flush=True)
            out.append(figures)
    finally:
        await gen.stop()
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--baseline-steps", type=lambda s: [int(x) for x in s.split(",") if x])
    parser.add_argument("--wsgi-steps", type=lambda s: [int(x) for x in s.split(",") if x])
    parser.add_argument("--window", type=float)
    parser.add_argument("--ramp", type=float)
    parser.add_argument(
        "--fixture-reps", type=int, help="the fixture's size (default: the largest step)"
    )
    parser.add_argument("--pace", type=float, default=1.0, help="compress the day (tests)")
    parser.add_argument("--build-only", action="store_true", help="build the fixture, no load")
    args = parser.parse_args()
    if args.quick:
        defaults = ([10, 30], [10, 30], [], 20.0, 5.0)
    else:
        defaults = ([10, 30, 100, 200, 300, 400, 500], [10, 30, 100], [100, 300], 60.0, 10.0)
    args.steps = args.steps or defaults[0]
    base_steps = defaults[1] if args.baseline_steps is None else args.baseline_steps
    wsgi_steps = args.wsgi_steps = defaults[2] if args.wsgi_steps is None else args.wsgi_steps
    window = args.window or defaults[3]
    ramp = args.ramp if args.ramp is not None else defaults[4]

    started = time.monotonic()
    env, reps, database, database_url, redis_url = setup(args)
    print(f"user_mix: setup {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    if args.build_only:
        return
    log = os.environ.get("BENCH_DAPHNE_LOG")

    def two(app: str, extra_env: dict) -> list[Daphne]:
        return [Daphne(app, env=extra_env, log=log) for _ in range(2)]

    def serve(stack, servers):
        for s in servers:
            s.start()
            stack.callback(s.__exit__)
        for s in servers:
            s.ready()

    with ExitStack() as stack:
        servers = two("config.asgi:application", env)
        serve(stack, servers)
        ports = [s.port for s in servers]
        pids = {f"daphne{i}": s.proc.pid for i, s in enumerate(servers)}
        keepline = asyncio.run(
            run_steps(
                Target(ports, ports), reps, args.steps, ramp, window,
                lambda: cpu_snapshot(pids, database), "keepline", args.pace,
            )
        )  # fmt: skip

    baseline: list[dict] = []
    if base_steps:
        bare_env = {
            "DJANGO_SETTINGS_MODULE": "bench.usermix_bare.settings",
            "SECRET_KEY": env["SECRET_KEY"],
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
        }
        with ExitStack() as stack:
            servers = two("bench.usermix_bare.asgi:application", bare_env)
            serve(stack, servers)
            ports = [s.port for s in servers]
            pids = {f"daphne{i}": s.proc.pid for i, s in enumerate(servers)}
            baseline = asyncio.run(
                run_steps(
                    Target(ports, ports, bare=True), reps, base_steps, ramp, window,
                    lambda: cpu_snapshot(pids, database), "bare", args.pace,
                )
            )  # fmt: skip

    wsgi: list[dict] = []
    path = gunicorn_path()
    if wsgi_steps and path is None:
        print(
            "user_mix: gunicorn not found (BENCH_GUNICORN_PATH): no WSGI comparison",
            file=sys.stderr,
        )
    elif wsgi_steps:
        with ExitStack() as stack:
            ws_server = Daphne("config.asgi:application", env=env, log=log)
            serve(stack, [ws_server])
            pages = stack.enter_context(Gunicorn(env, path, workers=2, threads=4))
            pids = {"daphne0": ws_server.proc.pid, "gunicorn": pages.proc.pid}
            wsgi = asyncio.run(
                run_steps(
                    Target([pages.port], [ws_server.port]), reps, wsgi_steps, ramp, window,
                    lambda: cpu_snapshot(pids, database), "wsgi", args.pace,
                )
            )  # fmt: skip

    report(keepline, baseline, wsgi)


def report(keepline: list[dict], baseline: list[dict], wsgi: list[dict]) -> None:
    base = {s["reps"]: s for s in baseline}
    for s in keepline:
        b = base.get(s["reps"])
        n = s["reps"]
        for metric in ("http_avg_ms", "http_p99_ms", "ws_ack_p99_ms", "delivery_p99_ms"):
            emit(BENCH, metric, s[metric], "ms", n, b[metric] if b else None)
        emit(BENCH, "errors", s["errors"], "count", n, b["errors"] if b else None)
        for name, rate in sorted(s["cpu"].items()):
            other = b["cpu"].get(name) if b else None
            emit(BENCH, f"cpu_{name}", rate, "cpu_s/s", n, other)
    steps = [s["reps"] for s in keepline]
    emit(
        BENCH, "healthy_reps", healthy_reps(keepline), "reps", max(steps),
        healthy_reps(baseline) if baseline else None,
    )  # fmt: skip
    at = nearest(steps, 100)
    if at is not None:
        chosen = next(s for s in keepline if s["reps"] == at)
        b = base.get(at)
        for page, value in chosen["page_p50_ms"].items():
            emit(
                BENCH,
                f"page_p50_ms_{page}",
                value,
                "ms",
                at,
                b["page_p50_ms"].get(page) if b else None,
            )
    by_step = {s["reps"]: s for s in keepline}
    for s in wsgi:
        daphne = by_step.get(s["reps"])
        for metric in ("http_avg_ms", "http_p99_ms"):
            emit(
                BENCH,
                f"{metric}_wsgi",
                s[metric],
                "ms",
                s["reps"],
                daphne[metric] if daphne else None,
            )
        emit(
            BENCH,
            "errors_wsgi",
            s["errors"],
            "count",
            s["reps"],
            daphne["errors"] if daphne else None,
        )


if __name__ == "__main__":
    main()
