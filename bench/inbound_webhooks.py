"""Signed WhatsApp webhooks under load (issue 13): accepted per second, accept latency, and each
message carried through Celery to a stored row and a live socket frame, beside a bare Django view.

Layout: two daphne processes (config.asgi:application, DEBUG off) and one Celery worker on
PostgreSQL (DATABASE_URL when it is PostgreSQL, else keepline_bench_hooks, created and migrated
if needed) and Redis (REDIS_URL, default db 9 of the local Redis, flushed only when it is db 9;
channel layer prefix of its own). No balancer: the load generator alternates between the two
processes, connection by connection.

Setup (in this process): a rep, customer contacts with run-unique phone numbers, a WhatsApp
conversation of each assigned to the rep, and a WhatsApp channel account whose app secret the
load generator signs with. The load generator is a separate process (this script with
--generate): it opens one staff WebSocket per conversation as the rep, then posts signed webhooks
(distinct provider message ids, one in ten sent twice, the repeat close behind its first) in two
phases, each waiting for its message.created frames before the next:

- saturated: as fast as they are answered over `--concurrency` keep-alive connections: how many
  a second the servers accept;
- paced: at the target rate (300 a second), open loop over enough connections that none is
  waited for unless the server is slow, each webhook timed from when it was due, so a stall is
  counted for every webhook it delayed (no coordinated omission). At saturation a closed loop's
  latency is its connection count divided by the rate (16 connections at 400/s: 40 ms on
  average, whatever the server), so the latency target is read here, at the rate it names.

Afterwards every accepted id is looked up in the database.

Figures: accepted_per_s (saturated, 2xx/s), accept_p99_ms and accept_p50_ms (paced),
accept_p99_saturated_ms, end_to_end_p99_ms (paced: webhook due -> frame on the rep's socket),
end_to_end_p99_saturated_ms (includes the backlog a burst at full speed leaves the worker), lost
(accepted ids with no stored message or no frame), duplicated (stored messages per provider id
beyond one). Baseline: the same requests, the same two daphne processes, against a view that
only answers 200 (bench/hooks_bare/, not in the product).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    VENV_BIN,
    Daphne,
    _die_with_parent,
    emit,
    read_http_response,
    terminate_on_sigterm,
)

BENCH = "inbound_webhooks"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/keepline_bench_hooks"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
OWN_REDIS_DB = "9"
PREFIX = "khooksbench"
SECRET_KEY = "keepline-hooks-bench-" + "x" * 40  # servers, worker and this process agree
APP_SECRET = "bench-whatsapp-app-secret"
ORIGIN = "http://127.0.0.1"
TARGETS = {"accepted_per_s": 300, "accept_p99_ms": 50}
# The paced phase's keep-alive connections: enough that none is ever waited for at the target
# rate unless the server is slow (a request's time counts from when it was due).
PACED_CONNECTIONS = 64


def server_env(database_url: str, redis_url: str) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CHANNEL_LAYER_PREFIX": PREFIX,
        "LOG_LEVEL": "WARNING",
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# --- the load generator (a process of its own, no Django) ---------------------------------------


def _head(request: dict, body: bytes) -> bytes:
    return (
        f"POST /hooks/whatsapp/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Hub-Signature-256: {request['signature']}\r\n"
        "Connection: keep-alive\r\n\r\n"
    ).encode()


async def _post_all(ports, requests, concurrency, sent_at, results):
    """Each connection takes the next request off the shared queue, keep-alive, until none is
    left. results: (index, status, accept ms)."""
    queue = list(reversed(range(len(requests))))

    async def connection(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                i = queue.pop()
                body = requests[i]["body"].encode()
                start = time.monotonic()
                sent_at.setdefault(requests[i]["client_id"], start)
                writer.write(_head(requests[i], body) + body)
                await writer.drain()
                status = await read_http_response(reader)
                results.append((i, status, 1000 * (time.monotonic() - start)))
        finally:
            writer.close()

    await asyncio.gather(*(connection(ports[c % len(ports)]) for c in range(concurrency)))


async def _post_paced(ports, requests, rate, connections, sent_at, results):
    """Open loop: request i is due at start + i/rate, whatever the answers before it; each goes
    out on a free keep-alive connection and its time counts from when it was due (a request kept
    waiting for a connection is the server's delay too: no coordinated omission)."""
    free: asyncio.Queue = asyncio.Queue()
    for c in range(connections):
        free.put_nowait(await asyncio.open_connection("127.0.0.1", ports[c % len(ports)]))

    async def one(i, due):
        reader, writer = await free.get()
        body = requests[i]["body"].encode()
        writer.write(_head(requests[i], body) + body)
        await writer.drain()
        status = await read_http_response(reader)
        results.append((i, status, 1000 * (time.monotonic() - due)))
        free.put_nowait((reader, writer))

    start = time.monotonic() + 0.05
    tasks = []
    for i in range(len(requests)):
        due = start + i / rate
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        sent_at.setdefault(requests[i]["client_id"], due)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    while not free.empty():
        free.get_nowait()[1].close()


async def _listen(socket_specs, frames, ready):
    import websockets

    async def one(url, cookie):
        async with websockets.connect(
            url, additional_headers={"Cookie": cookie, "Origin": ORIGIN}, max_size=None
        ) as ws:
            ready.append(url)
            async for text in ws:
                now = time.monotonic()
                msg = json.loads(text)
                if msg.get("type") == "message.created":
                    cid = msg["message"].get("client_id")
                    frames.setdefault(cid, []).append(now)

    return [asyncio.create_task(one(url, cookie)) for url, cookie in socket_specs]


async def _await_frames(ids: set, frames: dict, idle_timeout: float) -> None:
    """Until every accepted message has its frame, or nothing new came for idle_timeout s."""
    last, seen = time.monotonic(), -1
    while time.monotonic() - last < idle_timeout:
        have = sum(1 for cid in ids if cid in frames)
        if have == len(ids):
            return
        if have != seen:
            seen, last = have, time.monotonic()
        await asyncio.sleep(0.2)


async def _generate(spec: dict) -> dict:
    """Phase "saturated": as fast as answered on `concurrency` connections (accepted per
    second). Phase "paced": the target rate, open loop (accept and end-to-end latency at that
    rate). Each phase waits for its frames before the next."""
    frames: dict = {}
    ready: list = []
    listeners = await _listen(spec["sockets"], frames, ready)
    deadline = time.monotonic() + 20
    while len(ready) < len(spec["sockets"]) and time.monotonic() < deadline:
        for task in listeners:
            if task.done() and task.exception():
                raise task.exception()
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # the sockets have joined their groups
    out = {}
    for phase in ("saturated", "paced"):
        with open(spec["requests_files"][phase]) as f:
            requests = json.load(f)
        sent_at: dict = {}
        results: list = []
        start = time.monotonic()
        if phase == "saturated":
            await _post_all(spec["ports"], requests, spec["concurrency"], sent_at, results)
        else:
            await _post_paced(
                spec["ports"], requests, spec["rate"], spec["paced_connections"], sent_at, results
            )
        elapsed = time.monotonic() - start
        accepted = {requests[i]["client_id"] for i, status, _ in results if 200 <= status < 300}
        if spec["sockets"]:
            await _await_frames(accepted, frames, spec["idle_timeout"])
        statuses: dict = {}
        for _, status, _ms in results:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        out[phase] = {
            "elapsed": elapsed,
            "statuses": statuses,
            "accept_ms": [ms for _, status, ms in results if 200 <= status < 300],
            "accepted": sorted(accepted),
            "e2e_ms": [1000 * (frames[cid][0] - sent_at[cid]) for cid in accepted if cid in frames],
            "framed": sorted(cid for cid in accepted if cid in frames),
        }
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    out["frame_repeats"] = sum(len(v) - 1 for v in frames.values() if len(v) > 1)
    return out


def run_generator(spec: dict) -> dict:
    """The load generator in a process of its own: spec in, results out (JSON)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--generate", f.name],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- set-up (in this process, Django configured like the servers) ------------------------------


def flush_own_redis(redis_url: str) -> None:
    import redis

    if urlsplit(redis_url).path.strip("/") != OWN_REDIS_DB:
        return
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def _phone(rng: random.Random) -> str:
    from crm import phones

    while True:
        raw = f"+1212{rng.randint(2, 9)}{rng.randint(0, 999999):06d}"
        try:
            return phones.normalise(raw)
        except Exception:
            continue


def create_fixtures(run_id: str, customers: int) -> dict:
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.utils import timezone

    from accounts import roles
    from accounts.models import User
    from comms import services as comms_services
    from connectors import services as connector_services
    from connectors.models import ChannelAccount, InboundEvent
    from crm.models import Contact, ContactPhone

    # Earlier runs' accounts stay in the database, switched off, and what they left unprocessed
    # (an interrupted run) is set aside: this run's drain would work through it first.
    earlier = ChannelAccount.objects.filter(name__startswith="bench-hooks-")
    earlier.update(is_active=False)
    InboundEvent.objects.filter(account__in=earlier, processed_at__isnull=True).update(
        processed_at=timezone.now(), error="left by an earlier benchmark run"
    )
    phone_number_id = str(10**14 + int(time.time() * 1000) % 10**13)
    account = connector_services.channel_account_save(
        actor=None,
        account=ChannelAccount(
            kind="whatsapp",
            name=f"bench-hooks-{run_id}",
            settings={
                "phone_number_id": phone_number_id,
                "business_account_id": "200000000000001",
                "api_base_url": "http://127.0.0.1:9",
                "api_version": "v21.0",
            },
        ),
        secrets={"access_token": "t", "app_secret": APP_SECRET, "verify_token": "v"},
    )
    rep = User.objects.create(username=f"{run_id}-rep", first_name="Bench", last_name="Rep")
    rep.groups.add(Group.objects.get(name=roles.REP))
    rng = random.Random(run_id)
    people = []
    for i in range(customers):
        contact = Contact.objects.create(
            first_name="Customer", last_name=f"{run_id}-{i}", owner=rep
        )
        number = _phone(rng)
        ContactPhone.objects.create(contact=contact, number=number, is_primary=True)
        conversation = comms_services.conversation_start(
            actor=rep, contact=contact, kind="whatsapp", subject="Bench WhatsApp"
        )
        people.append((number, conversation.pk))
    client = Client()
    client.force_login(rep)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return {
        "account": account,
        "phone_number_id": phone_number_id,
        "people": people,
        "cookie": cookie,
    }


def build_requests(fx: dict, count: int, concurrency: int, seed: str) -> list[dict]:
    """`count` webhooks: one in ten repeats an earlier one (same body, same signature), placed
    within a connection's worth of positions after it, so the two are in flight together."""
    from connectors import payloads, signatures
    from connectors.inbound import CLIENT_ID_NAMESPACE

    rng = random.Random(seed)
    repeats = count // 10
    distinct = []
    for i in range(count - repeats):
        number, _ = fx["people"][i % len(fx["people"])]
        message_id = payloads.new_whatsapp_id()
        body = payloads.encode_json(
            payloads.build_whatsapp_message(
                phone_number_id=fx["phone_number_id"],
                display_phone_number="+15550100001",
                from_number=number,
                contact_name="Bench Customer",
                text=f"bench message {i}",
                message_id=message_id,
            )
        )
        distinct.append(
            {
                "body": body.decode(),
                "signature": signatures.whatsapp_signature(APP_SECRET, body),
                "provider_id": message_id,
                "client_id": str(
                    uuid.uuid5(CLIENT_ID_NAMESPACE, f"{fx['account'].pk}:{message_id}")
                ),
            }
        )
    out = list(distinct)
    for j in rng.sample(range(len(distinct)), repeats):
        position = min(out.index(distinct[j]) + rng.randint(1, concurrency), len(out))
        out.insert(position, distinct[j])
    return out


def drain_and_check(fx: dict, accepted_ids: set, timeout: float) -> tuple[set, int, int]:
    """Wait for the worker to process every stored event, then (accepted provider ids with no
    stored message, messages stored beyond one per provider id, events left unprocessed)."""
    from django.db.models import Count

    from comms.models import Message
    from connectors.models import InboundEvent

    deadline = time.monotonic() + timeout
    while True:
        pending = InboundEvent.objects.filter(
            account=fx["account"], processed_at__isnull=True
        ).count()
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    conversation_ids = [c for _, c in fx["people"]]
    counts = dict(
        Message.objects.filter(conversation_id__in=conversation_ids, direction="inbound")
        .values("external_id")
        .annotate(n=Count("id"))
        .values_list("external_id", "n")
    )
    lost = {pid for pid in accepted_ids if pid not in counts}
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    return lost, duplicated, pending


class CeleryWorker:
    def __init__(self, env: dict, log: str):
        self.env, self.log = {**os.environ, **env}, log

    def __enter__(self):
        self.out = open(self.log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "celery"), "-A", "config", "worker", "--concurrency", "2",
                "--loglevel", "INFO", "--without-mingle", "--without-gossip",
                "--hostname", f"hooksbench{os.getpid()}@%h",
            ],
            cwd=Path(__file__).resolve().parent.parent,
            env=self.env,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if b" ready." in Path(self.log).read_bytes():
                return self
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"the Celery worker did not start (log {self.log})")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.out.close()


def run_servers(app_env: dict, spec: dict, worker_env: dict | None, log_dir: str) -> dict:
    with ExitStack() as stack:
        if worker_env is not None:
            stack.enter_context(CeleryWorker(worker_env, os.path.join(log_dir, "celery.log")))
        servers = [
            Daphne("config.asgi:application", env=app_env, log=os.path.join(log_dir, f"d{i}.log"))
            for i in range(2)
        ]
        for server in servers:
            server.start()
            stack.callback(server.__exit__)
        for server in servers:
            server.ready()
        ports = [s.port for s in servers]
        spec = {
            **spec,
            "ports": ports,
            "sockets": [
                (f"ws://127.0.0.1:{ports[k % 2]}/ws/conversations/{conversation_id}/", cookie)
                for k, (conversation_id, cookie) in enumerate(spec["sockets"])
            ],
        }
        return run_generator(spec)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    if args.generate:
        with open(args.generate) as f:
            spec = json.load(f)
        print(json.dumps(asyncio.run(_generate(spec))), flush=True)
        return
    counts = {"saturated": 300, "paced": 450} if args.quick else {"saturated": 3000, "paced": 3000}
    customers = 5 if args.quick else 10
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        database_url = DEFAULT_DB
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS

    from bench import keepline_chat

    env = server_env(database_url, redis_url)
    keepline_chat.ensure_database(database_url)
    flush_own_redis(redis_url)
    keepline_chat.django_setup(env)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    run_id = f"h{int(time.time())}{secrets.token_hex(2)}"
    fx = create_fixtures(run_id, customers)
    requests = {
        phase: build_requests(fx, count, args.concurrency, f"{run_id}-{phase}")
        for phase, count in counts.items()
    }
    connections.close_all()

    with tempfile.TemporaryDirectory(prefix="hooks-bench-") as tmp:
        files = {}
        for phase, items in requests.items():
            files[phase] = os.path.join(tmp, f"{phase}.json")
            with open(files[phase], "w") as f:
                json.dump(items, f)
        base = {
            "requests_files": files,
            "concurrency": args.concurrency,
            "rate": TARGETS["accepted_per_s"],
            "paced_connections": PACED_CONNECTIONS,
            "idle_timeout": 30 if args.quick else 60,
        }
        bare_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.hooks_bare.settings"}
        os.makedirs(os.path.join(tmp, "bare"))
        bare = run_servers(bare_env, {**base, "sockets": []}, None, os.path.join(tmp, "bare"))
        sockets = [(conversation_id, fx["cookie"]) for _, conversation_id in fx["people"]]
        keep = run_servers(env, {**base, "sockets": sockets}, env, tmp)
        accepted_cids = set(keep["saturated"]["accepted"]) | set(keep["paced"]["accepted"])
        by_cid = {r["client_id"]: r["provider_id"] for items in requests.values() for r in items}
        stored_lost, duplicated, pending = drain_and_check(
            fx, {by_cid[c] for c in accepted_cids}, 30
        )
        statuses = {p: keep[p]["statuses"] for p in counts}
        if any(st.keys() - {"200"} for st in statuses.values()):
            print(f"keepline statuses: {statuses}", file=sys.stderr)
            tail = Path(tmp, "d0.log").read_text()[-2000:]
            print(tail, file=sys.stderr)
    framed = set(keep["saturated"]["framed"]) | set(keep["paced"]["framed"])
    unframed = accepted_cids - framed
    unstored = {c for c in accepted_cids if by_cid[c] in stored_lost}
    lost = len(unframed | unstored)
    print(
        f"inbound_webhooks: sent {sum(counts.values())} ({len(accepted_cids)} distinct "
        f"accepted); keepline statuses {statuses}, saturated in "
        f"{keep['saturated']['elapsed']:.1f}s; bare saturated in "
        f"{bare['saturated']['elapsed']:.1f}s; not stored {len(unstored)}, no frame "
        f"{len(unframed)}, events unprocessed after drain {pending}, repeated frames "
        f"{keep['frame_repeats']}",
        file=sys.stderr,
        flush=True,
    )

    def rate(r):
        ok = sum(n for s, n in r["statuses"].items() if s.startswith("2"))
        return ok / r["elapsed"], ok

    k_rate, k_ok = rate(keep["saturated"])
    b_rate, _ = rate(bare["saturated"])
    emit(BENCH, "accepted_per_s", k_rate, "req/s", k_ok, b_rate)
    paced, bare_paced = keep["paced"]["accept_ms"], bare["paced"]["accept_ms"]
    k_p99 = percentile(paced, 99)
    emit(BENCH, "accept_p99_ms", k_p99, "ms", len(paced), percentile(bare_paced, 99))
    emit(
        BENCH, "accept_p50_ms", percentile(paced, 50), "ms", len(paced), percentile(bare_paced, 50)
    )
    saturated, bare_saturated = keep["saturated"]["accept_ms"], bare["saturated"]["accept_ms"]
    emit(
        BENCH, "accept_p99_saturated_ms", percentile(saturated, 99), "ms", len(saturated),
        percentile(bare_saturated, 99),
    )  # fmt: skip
    e2e = keep["paced"]["e2e_ms"]
    emit(BENCH, "end_to_end_p99_ms", percentile(e2e, 99), "ms", len(e2e))
    e2e = keep["saturated"]["e2e_ms"]
    emit(BENCH, "end_to_end_p99_saturated_ms", percentile(e2e, 99), "ms", len(e2e))
    emit(BENCH, "lost", lost, "messages", len(accepted_cids))
    emit(BENCH, "duplicated", duplicated, "messages", len(accepted_cids))
    misses = []
    if k_rate < TARGETS["accepted_per_s"]:
        misses.append(f"accepted_per_s {k_rate:.0f} < {TARGETS['accepted_per_s']}")
    if k_p99 >= TARGETS["accept_p99_ms"]:
        misses.append(f"accept_p99_ms {k_p99:.1f} >= {TARGETS['accept_p99_ms']}")
    if lost:
        misses.append(f"lost {lost}")
    if duplicated:
        misses.append(f"duplicated {duplicated}")
    if misses:
        print(f"# targets missed: {'; '.join(misses)}", file=sys.stderr)


if __name__ == "__main__":
    terminate_on_sigterm()
    main()
