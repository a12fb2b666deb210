"""The Keepline side of bench/chat_throughput.py: live chat on the production process layout.

Layout: `processes` daphne processes serving config.asgi:application with DEBUG off (through
bench.keepline_probe, which only adds counters: statements per send, batch sizes), on PostgreSQL
(`database_url`; created and migrated here if needed) and Redis (`redis_url`: the pub/sub channel
layer and the cache). Clients are spread round-robin over the processes, so most deliveries cross
processes through Redis as they would behind a load balancer.

Setup runs in this process (Django configured like the servers): users with the rep role, their
manager, contacts and deals, the conversations through the comms services, customer links, and
session cookies through the test client's force_login. Every run uses fresh usernames (a run id
prefix), so runs never collide on the same database.

Integrity: besides the delivery counts of bench.chatload.integrity, every acknowledged client_id
is looked up in the database afterwards: a missing row is lost, a second row is duplicated.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import chatload  # noqa: E402
from bench.common import Daphne  # noqa: E402

ORIGIN = "http://127.0.0.1"
SECRET_KEY = "keepline-chat-bench-" + "x" * 40  # the servers and this process must agree
# The per-socket send limit (defaults 50/s, burst 200) protects production from one runaway
# client; the benchmark's clients send as fast as acks allow, which is the point of it, so the
# servers get a limit far above anything reachable here. Every send is still checked.
SEND_RATE, SEND_BURST = "1000000", "1000000"


def server_env(database_url: str, redis_url: str) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "COMMS_SEND_RATE": SEND_RATE,
        "COMMS_SEND_BURST": SEND_BURST,
    }


# --- the target: Keepline's socket protocol (/work/notes/comms-protocol.md) ----------------------


class KeeplineTarget(chatload.Target, chatload.Spread):
    name = "keepline"

    def staff(self, conversation_id: int, cookie: str) -> chatload.Socket:
        return chatload.Socket(
            f"ws://127.0.0.1:{self.port()}/ws/conversations/{conversation_id}/",
            {"Cookie": cookie, "Origin": ORIGIN},
        )

    def customer(self, token: str) -> chatload.Socket:
        # A browser sends Origin on every WebSocket handshake; the server refuses one without.
        return chatload.Socket(f"ws://127.0.0.1:{self.port()}/ws/chat/{token}/", {"Origin": ORIGIN})

    def frame(self, client_id, body):
        return json.dumps({"action": "send", "client_id": client_id, "body": body})

    def ack_of(self, msg):
        return msg.get("client_id") if msg.get("type") == "ack" else None

    def refused(self, msg):
        return msg.get("client_id") if msg.get("type") == "error" else None

    def delivered(self, msg):
        if msg.get("type") != "message.created":
            return None
        m = msg["message"]
        return m["client_id"], m["body"]


# --- database and Redis -------------------------------------------------------------------------


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def flush_bench_redis(redis_url: str) -> None:
    """FLUSHDB only when the URL names the benchmark's own database (5, or BENCH_REDIS_FLUSH_DB
    for a run on another one); never any other."""
    import redis

    if urlsplit(redis_url).path.strip("/") != os.environ.get("BENCH_REDIS_FLUSH_DB", "5"):
        return
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def django_setup(env: dict) -> None:
    import django

    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        django.setup()
        from django.conf import settings

        assert settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    finally:
        # The settings are read now; later subprocesses (the tutorial's daphne) get a clean env.
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --- fixtures -----------------------------------------------------------------------------------


@dataclass
class Setup:
    pairs: list = field(default_factory=list)  # (conversation_id, rep cookie, customer token)
    room_id: int = 0
    sender_cookie: str = ""
    member_cookies: list = field(default_factory=list)
    conversation_ids: list = field(default_factory=list)


def _cookie(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def create_fixtures(run_id: str, pairs: int, room_size: int) -> Setup:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import User
    from comms import services
    from crm.models import Contact, Deal, Pipeline

    rep_group = Group.objects.get(name=roles.REP)
    manager = User.objects.create(
        username=f"{run_id}-manager", first_name="Bench", last_name="Manager"
    )
    manager.groups.add(Group.objects.get(name=roles.MANAGER))
    unusable = make_password(None)

    def people(prefix: str, n: int) -> list:
        users = User.objects.bulk_create(
            [
                User(
                    username=f"{run_id}-{prefix}{i}",
                    first_name=prefix.title(),
                    last_name=str(i),
                    password=unusable,
                    manager=manager,
                )
                for i in range(n)
            ]
        )
        User.groups.through.objects.bulk_create(
            [User.groups.through(user_id=u.pk, group_id=rep_group.pk) for u in users]
        )
        return users

    reps = people("rep", pairs)
    members = people("member", room_size)
    sender = people("sender", 1)[0]

    contacts = Contact.objects.bulk_create(
        [
            Contact(first_name="Customer", last_name=f"{run_id}-{i}", owner=r)
            for i, r in enumerate(reps)
        ]
    )
    stage = Pipeline.objects.get(is_default=True).stages.order_by("position").first()
    deals = Deal.objects.bulk_create(
        [
            Deal(
                title=f"Bench deal {run_id}-{i}",
                owner=r,
                primary_contact=c,
                pipeline_id=stage.pipeline_id,
                stage=stage,
            )
            for i, (r, c) in enumerate(zip(reps, contacts, strict=True))
        ]
    )
    Deal.contacts.through.objects.bulk_create(
        [
            Deal.contacts.through(deal_id=d.pk, contact_id=c.pk)
            for d, c in zip(deals, contacts, strict=True)
        ]
    )

    setup = Setup()
    for rep, contact, deal in zip(reps, contacts, deals, strict=True):
        conversation = services.conversation_start(
            actor=rep, contact=contact, deal=deal, subject="Bench chat"
        )
        _link, token = services.customer_link_issue(actor=rep, conversation=conversation)
        setup.pairs.append((conversation.pk, _cookie(rep), token))
        setup.conversation_ids.append(conversation.pk)
    room = services.internal_conversation_create(
        actor=sender, subject=f"Bench room {run_id}", members=members
    )
    setup.room_id = room.pk
    setup.conversation_ids.append(room.pk)
    setup.sender_cookie = _cookie(sender)
    setup.member_cookies = [_cookie(m) for m in members]
    return setup


def stored_check(conversation_ids: list[int], acked: set) -> tuple[int, int]:
    """(lost, duplicated) rows: each acknowledged client_id must be stored exactly once."""
    from django.db.models import Count

    from comms.models import Message

    counts: dict = {}
    ids = list(acked)
    for i in range(0, len(ids), 5000):
        rows = (
            Message.objects.filter(
                conversation_id__in=conversation_ids, client_id__in=ids[i : i + 5000]
            )
            .values("client_id")
            .annotate(n=Count("id"))
            .values_list("client_id", "n")
        )
        counts.update((str(cid), n) for cid, n in rows)
    lost = sum(1 for cid in ids if cid not in counts)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    return lost, duplicated


# --- probes: the servers' counters (bench/keepline_probe.py), CPU time, py-spy -------------------


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def cpu_snapshot(daphne_pids: list[int]) -> dict:
    """CPU seconds used so far: each daphne, this process (the load), PostgreSQL (every backend),
    Redis."""
    tick = os.sysconf("SC_CLK_TCK")
    snap = {f"daphne{i}": _cpu_ticks(pid) / tick for i, pid in enumerate(daphne_pids)}
    snap["load client"] = _cpu_ticks(os.getpid()) / tick
    snap["postgres"] = sum(_cpu_ticks(p) for p in _pids_named("postgres")) / tick
    snap["redis"] = sum(_cpu_ticks(p) for p in _pids_named("redis-server")) / tick
    snap["wall"] = time.monotonic()
    return snap


def probe_snapshot(daphne_pids: list[int], directory: str) -> list[dict]:
    """Each server's cumulative counters (SIGUSR1 makes it write them)."""
    import signal

    paths = [os.path.join(directory, f"probe-{pid}.json") for pid in daphne_pids]
    before = {p: os.stat(p).st_mtime_ns if os.path.exists(p) else 0 for p in paths}
    for pid in daphne_pids:
        os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if all(os.path.exists(p) and os.stat(p).st_mtime_ns != before[p] for p in paths):
            break
        time.sleep(0.01)
    out = []
    for p in paths:
        with open(p) as f:
            out.append(json.load(f))
    return out


def probe_sum(snaps: list[dict]) -> dict:
    """The servers' counters added up."""
    total: dict = {
        "batches": 0,
        "sends": 0,
        "batch_sizes": {},
        "store_statements_by_size": {},
        "store_s": 0.0,
        "commit_s": 0.0,
        "commits": 0,
        "statements": {},
        "publish_s": 0.0,
        "publishes": 0,
        "published_events": 0,
    }
    for snap in snaps:
        for key, value in snap.items():
            if key == "statements":
                for kind, row in value.items():
                    mine = total["statements"].setdefault(kind, [0, 0.0, 0, 0.0])
                    for i, v in enumerate(row):
                        mine[i] += v
            elif isinstance(value, dict):
                for k, v in value.items():
                    total[key][str(k)] = total[key].get(str(k), 0) + v
            else:
                total[key] += value
    return total


def probe_diff(after: dict, before: dict) -> dict:
    out: dict = {}
    for key, value in after.items():
        if key == "statements":
            out[key] = {
                kind: [v - w for v, w in zip(row, before[key].get(kind, [0] * 4), strict=True)]
                for kind, row in value.items()
            }
        elif isinstance(value, dict):
            out[key] = {k: v - before[key].get(k, 0) for k, v in value.items()}
            out[key] = {k: v for k, v in out[key].items() if v}
        else:
            out[key] = value - before[key]
    return out


class PgSampler:
    """Samples what each PostgreSQL client backend of the benchmark's database is doing, every
    `interval` s, until stopped: (state, wait_event_type:wait_event, statement head) -> count.
    Only with BENCH_PROFILE_DIR (it costs a query per sample)."""

    QUERY = (
        "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'CPU'), left(query, 40)"
        " FROM pg_stat_activity WHERE datname = current_database()"
        " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )

    def __init__(self, database_url: str, interval: float = 0.005):
        import threading

        self.url, self.interval = database_url, interval
        self.counts: dict = {}
        self.samples = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.is_set():
                for row in conn.execute(self.QUERY).fetchall():
                    state, wait, query = row
                    if state == "idle":
                        key = ("idle", "", "")
                    else:
                        key = (state, wait, " ".join((query or "").split()[:3]))
                    self.counts[key] = self.counts.get(key, 0) + 1
                self.samples += 1
                time.sleep(self.interval)

    def start(self):
        self.thread.start()

    def stop(self) -> dict:
        self.stopping.set()
        self.thread.join()
        return {"samples": self.samples, "counts": self.counts}


class PhaseProbe:
    """on_start/on_stop for chatload.pairs: the servers' counters and the CPU time of every
    process over the timed phase; with BENCH_PYSPY (a py-spy binary) and BENCH_PROFILE_DIR, a
    py-spy record (raw, all threads, idle included) of each server over the phase."""

    def __init__(self, daphne_pids: list[int], probe_dir: str, seconds: float, database_url=""):
        self.pids, self.dir, self.seconds = daphne_pids, probe_dir, seconds
        self.spies: list = []
        self.pg = PgSampler(database_url) if os.environ.get("BENCH_PROFILE_DIR") else None
        self.pg_activity: dict = {}

    def on_start(self):
        import subprocess

        self.before = probe_sum(probe_snapshot(self.pids, self.dir))
        spy, out = os.environ.get("BENCH_PYSPY"), os.environ.get("BENCH_PROFILE_DIR")
        if spy and out:
            os.makedirs(out, exist_ok=True)
            for i, pid in enumerate(self.pids):
                self.spies.append(
                    subprocess.Popen(
                        [
                            spy, "record", "--pid", str(pid), "--duration",
                            str(max(1, int(self.seconds) - 1)), "--rate", "200", "--idle",
                            "--threads", "--nonblocking", "--format", "raw",
                            "--output", os.path.join(out, f"daphne{i}.txt"),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )  # fmt: skip
        if self.pg is not None:
            self.pg.start()
        self.cpu_before = cpu_snapshot(self.pids)

    def on_stop(self):
        cpu_after = cpu_snapshot(self.pids)
        if self.pg is not None:
            self.pg_activity = self.pg.stop()
        self.cpu = {k: cpu_after[k] - self.cpu_before[k] for k in cpu_after}
        self.counters = probe_diff(probe_sum(probe_snapshot(self.pids, self.dir)), self.before)
        for spy in self.spies:
            try:
                spy.wait(timeout=self.seconds + 30)
            except Exception:
                spy.kill()


# --- the run ------------------------------------------------------------------------------------


@dataclass
class KeeplineRun:
    pairs: chatload.Result
    room: chatload.Result  # saturation
    room_at_rate: chatload.Result
    lost: int
    duplicated: int
    pairs_counters: dict  # the servers' counters over the timed pairs phase
    pairs_cpu: dict  # CPU seconds per process over the timed pairs phase (and "wall")
    counters: dict  # the servers' counters over the whole run (every phase)
    channel_layer: dict  # the servers' CHANNEL_LAYERS["default"]
    pairs_pg: dict  # with BENCH_PROFILE_DIR: PostgreSQL backends' states over the pairs phase


def run(database_url, redis_url, pairs, room_size, seconds, rate, processes=2) -> KeeplineRun:
    started = time.monotonic()
    env = server_env(database_url, redis_url)
    ensure_database(database_url)
    flush_bench_redis(redis_url)
    django_setup(env)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    run_id = f"b{int(time.time())}{secrets.token_hex(2)}"
    setup = create_fixtures(run_id, pairs, room_size)
    connections.close_all()  # no idle transaction or connection held during the load
    log = os.environ.get("BENCH_DAPHNE_LOG")
    print(
        f"keepline: setup {time.monotonic() - started:.1f}s (run {run_id})",
        file=sys.stderr,
        flush=True,
    )

    with ExitStack() as stack:
        probe_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="keepline-probe-"))
        server_env_probe = {**env, "BENCH_PROBE_DIR": probe_dir}
        servers = [
            Daphne("bench.keepline_probe:application", env=server_env_probe, log=log)
            for _ in range(processes)
        ]
        for server in servers:
            server.start()
            stack.callback(server.__exit__)
        for server in servers:
            server.ready()
        pids = [s.proc.pid for s in servers]
        target = KeeplineTarget([s.port for s in servers])

        pair_sockets = chatload.spread_pairs(
            target,
            pairs,
            lambda i: target.staff(setup.pairs[i][0], setup.pairs[i][1]),
            lambda i: target.customer(setup.pairs[i][2]),
        )
        probe = PhaseProbe(pids, probe_dir, seconds, database_url)
        p = asyncio.run(
            chatload.pairs(target, pair_sockets, seconds, probe.on_start, probe.on_stop)
        )

        sender, members = chatload.spread_room(
            target,
            lambda: target.staff(setup.room_id, setup.sender_cookie),
            lambda i: target.staff(setup.room_id, setup.member_cookies[i]),
            room_size,
        )
        sat = asyncio.run(chatload.room(target, sender, members, seconds, None))
        lat = asyncio.run(chatload.room(target, sender, members, seconds, rate))
        counters = probe_sum(probe_snapshot(pids, probe_dir))

    lost = duplicated = 0
    for name, result, receivers in (
        ("pairs", p, 2),
        ("room", sat, room_size),
        ("room@rate", lat, room_size),
    ):
        d_lost, d_dup = chatload.integrity(result, receivers)
        s_lost, s_dup = stored_check(setup.conversation_ids, result.acked)
        lost, duplicated = lost + d_lost + s_lost, duplicated + d_dup + s_dup
        print(
            f"keepline {name}: sent {result.sent}, acked {len(result.acked)}, "
            f"refused {result.refused}, timed out {result.timed_out}; deliveries lost {d_lost} "
            f"duplicated {d_dup}; rows lost {s_lost} duplicated {s_dup}",
            file=sys.stderr,
            flush=True,
        )
    connections.close_all()
    return KeeplineRun(
        p,
        sat,
        lat,
        lost,
        duplicated,
        probe.counters,
        probe.cpu,
        counters,
        dict(settings.CHANNEL_LAYERS["default"]),
        probe.pg_activity,
    )
