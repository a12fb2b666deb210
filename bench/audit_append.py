"""Audit ledger on PostgreSQL: chained appends beside plain inserts of the same rows, and verify.

append_{1,4,8}_writer(s): events/s through audit.record, each writer a process with its own
connection and one transaction per event (autocommit: the append is the transaction); baseline =
the same rows (same preparation, same columns and indexes) INSERTed one per transaction into an
unchained copy of the table. append_4_writers_in_atomic: the same with each event wrapped in
transaction.atomic(), as inside a service, where the chain head stays locked through the client's
COMMIT round trip.
verify_events_per_s: audit.verification.verify over n generated events; baseline = reading the
same rows in the same keyset batches without hashing.

Uses DATABASE_URL when it points at PostgreSQL, else postgres://postgres@127.0.0.1:5432/
keepline_bench, which it creates and migrates. It empties the audit tables of that database, so it
refuses a non-empty ledger in a database whose name lacks "bench" unless given --reset-ledger.
"""

import argparse
import contextlib
import datetime as dt
import hashlib
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keepline_bench"
PLAIN = "bench_plain_auditevent"
BENCH = "audit_append"


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else DEFAULT_URL


def ensure_database(url: str) -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    admin = psycopg.connect(
        host=cfg["HOST"] or None,
        port=cfg["PORT"] or None,
        user=cfg["USER"] or None,
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]])
        if exists.fetchone() is None:
            admin.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    # Plain connections: the writers are forked, and a forked child handed the parent's pool
    # would share its sockets (each writer opens its own connection, as a process of the app does).
    os.environ["DATABASE_POOL_MAX"] = "0"
    import django

    django.setup()


def reset_tables() -> None:
    from django.db import connection

    from audit import ddl

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {PLAIN} (LIKE {ddl.EVENT_TABLE} INCLUDING ALL)")
        cursor.execute(f"SET {ddl.MAINTENANCE_SETTING} = 'on'")
        cursor.execute(
            f"TRUNCATE {ddl.EVENT_TABLE}, {ddl.CHECKPOINT_TABLE}, {ddl.HEAD_TABLE}, {PLAIN}"
        )
        cursor.execute(f"RESET {ddl.MAINTENANCE_SETTING}")


class FakeRequest:
    META = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "Mozilla/5.0 (bench) Keepline/1.0"}

    def __init__(self, n: int):
        self.request_id = f"{n:032x}"


def event_args(worker: int, i: int) -> dict:
    return {
        "actor": None,
        "action": "crm.deal.changed",
        "target": ("crm.deal", str(i), f"Deal {i} of writer {worker}"),
        "data": {"stage": {"before": "qualified", "after": "proposal"}, "amount": "1200.00"},
        "request": FakeRequest(worker * 10_000_000 + i),
    }


def plain_insert(cursor, worker: int, i: int, seq: int) -> None:
    from django.utils import timezone

    from audit import services

    event, parts, data_text = services.prepare(**event_args(worker, i))
    unique = hashlib.sha256("".join(parts).encode() + f"{worker}:{i}".encode()).hexdigest()
    cursor.execute(
        f"INSERT INTO {PLAIN} (seq, version, created_at, actor_type, actor_id, actor_label,"
        " action, target_type, target_id, target_label, data, ip, user_agent, request_id,"
        " prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            seq,
            event.version,
            timezone.now(),
            event.actor_type,
            event.actor_id,
            event.actor_label,
            event.action,
            event.target_type,
            event.target_id,
            event.target_label,
            data_text,
            event.ip,
            event.user_agent,
            event.request_id,
            "",
            unique,
        ],
    )


def writer(kind: str, worker: int, seconds: float, go, counts, atomic: bool) -> None:
    from django.db import connection, transaction

    import audit

    connection.close()  # never share the parent's socket
    connection.ensure_connection()
    if kind == "chained":
        with connection.cursor() as cursor:  # compile the append function before timing
            cursor.execute("SELECT 1 FROM pg_proc WHERE proname = 'keepline_audit_append'")
    done = 0
    go.wait()
    deadline = time.monotonic() + seconds
    # Each event is its own transaction: in autocommit, the one statement (or, with atomic, a
    # BEGIN/statement/COMMIT block as inside a service).
    block = transaction.atomic if atomic else contextlib.nullcontext
    while time.monotonic() < deadline:
        if kind == "chained":
            with block():
                audit.record(**event_args(worker, done))
        else:
            with block(), connection.cursor() as cursor:
                plain_insert(cursor, worker, done, worker * 10_000_000 + done + 1)
        done += 1
    connection.close()
    counts[worker] = done


def run_writers(kind: str, writers: int, seconds: float, atomic: bool = False) -> float:
    from django.db import connections

    connections.close_all()
    ctx = mp.get_context("fork")
    go = ctx.Event()
    counts = ctx.Array("l", writers)
    procs = [
        ctx.Process(target=writer, args=(kind, w, seconds, go, counts, atomic))
        for w in range(writers)
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)  # let every process reach the barrier
    start = time.monotonic()
    go.set()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"{kind} writer failed with exit code {p.exitcode}")
    return sum(counts) / (time.monotonic() - start)


def check_chain() -> int:
    from audit import verification
    from audit.models import AuditEvent

    result = verification.verify()
    if not result.ok:
        raise SystemExit(f"chain damaged after the append run: {result.damage}")
    n = AuditEvent.objects.count()
    if result.last_seq != n:
        raise SystemExit(f"gaps: {n} events but last seq {result.last_seq}")
    return n


def generate_events(start_seq: int, n: int, prev_hash: str) -> str:
    """COPY n valid chained events after start_seq - 1; returns the last hash."""
    from django.db import connection

    from audit import ddl
    from audit.serialization import canonical_parts, chain_hash, dumps_data

    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    columns = (
        "seq, version, created_at, actor_type, actor_id, actor_label, action, target_type,"
        " target_id, target_label, data, ip, user_agent, request_id, prev_hash, hash"
    )
    raw = connection.connection  # the psycopg connection, for COPY
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {ddl.EVENT_TABLE} ({columns}) FROM STDIN") as copy,
    ):
        for seq in range(start_seq, start_seq + n):
            when = base + dt.timedelta(microseconds=seq * 1_001)
            data_text = dumps_data(
                {"stage": {"before": "qualified", "after": "proposal"}, "n": seq}
            )
            fields = {
                "version": 1,
                "actor_type": "user",
                "actor_id": seq % 50 + 1,
                "actor_label": f"rep{seq % 50 + 1}",
                "action": "crm.deal.changed",
                "target_type": "crm.deal",
                "target_id": str(seq % 5000),
                "target_label": f"Deal {seq % 5000}",
                "ip": "203.0.113.7",
                "user_agent": "Mozilla/5.0 (bench) Keepline/1.0",
                "request_id": f"{seq:032x}",
            }
            head, mid, tail = canonical_parts(data_text=data_text, **fields)
            time_text = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            digest = chain_hash(prev_hash, f"{head}{seq}{mid}{time_text}{tail}".encode())
            copy.write_row(
                (
                    seq,
                    1,
                    when,
                    fields["actor_type"],
                    fields["actor_id"],
                    fields["actor_label"],
                    fields["action"],
                    fields["target_type"],
                    fields["target_id"],
                    fields["target_label"],
                    data_text,
                    fields["ip"],
                    fields["user_agent"],
                    fields["request_id"],
                    prev_hash,
                    digest,
                )
            )
            prev_hash = digest
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ddl.HEAD_TABLE} (id, seq, hash) VALUES (1, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
            [start_seq + n - 1, prev_hash],
        )
        cursor.execute(f"ANALYZE {ddl.EVENT_TABLE}")
    return prev_hash


def read_rate(n: int) -> float:
    from audit import verification

    ledger = verification._Ledger("default")
    start, seq, seen = time.perf_counter(), 1, 0
    while rows := ledger.rows_from(seq, verification.BATCH):
        seen += len(rows)
        seq = rows[-1][0] + 1
    assert seen == n
    return n / (time.perf_counter() - start)


def verify_rate(n: int) -> float:
    from audit import verification

    start = time.perf_counter()
    result = verification.verify()
    elapsed = time.perf_counter() - start
    if not result.ok or result.count != n:
        raise SystemExit(f"verify failed on generated events: {result.damage} ({result.count})")
    return n / elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--reset-ledger", action="store_true", help="allow emptying a non-bench database's ledger"
    )
    parser.add_argument("--seconds", type=float, help="each phase's length (tests: a short run)")
    args = parser.parse_args()
    seconds = args.seconds or (3 if args.quick else 10)
    verify_sizes = (20_000, 100_000) if args.quick else (100_000, 1_000_000)

    url = database_url()
    ensure_database(url)
    setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    from audit.models import AuditEvent

    if (
        "bench" not in connection.settings_dict["NAME"]
        and AuditEvent.objects.exists()
        and not args.reset_ledger
    ):
        raise SystemExit(
            f"{connection.settings_dict['NAME']} holds an audit ledger this benchmark would empty; "
            "unset DATABASE_URL (a keepline_bench database is used) or pass --reset-ledger"
        )
    reset_tables()

    for writers in (1, 4, 8):
        plain = run_writers("plain", writers, seconds)
        chained = run_writers("chained", writers, seconds)
        n = check_chain()
        metric = "append_1_writer" if writers == 1 else f"append_{writers}_writers"
        emit(BENCH, metric, chained, "events/s", n, baseline=plain)
        reset_tables()
    # Inside a service's transaction the head stays locked through the client's COMMIT.
    plain = run_writers("plain", 4, seconds, atomic=True)
    chained = run_writers("chained", 4, seconds, atomic=True)
    emit(BENCH, "append_4_writers_in_atomic", chained, "events/s", check_chain(), baseline=plain)
    reset_tables()

    generated, last_hash = 0, "0" * 64
    for size in verify_sizes:
        last_hash = generate_events(generated + 1, size - generated, last_hash)
        generated = size
        read_rate(size)  # warm the cache for both measurements alike
        baseline = read_rate(size)
        emit(BENCH, "verify_events_per_s", verify_rate(size), "events/s", size, baseline=baseline)
    reset_tables()


if __name__ == "__main__":
    main()
