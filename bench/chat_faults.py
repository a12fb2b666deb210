"""Live chat under injected faults (issue 11): Redis stopped for a while, a daphne process
SIGKILLed (several times), the servers' database connections terminated, a stalled reader, a
read flood. Each at 50 msg/s on two daphne processes, PostgreSQL and a Redis of the run's own.

Per scenario, one JSON line per figure: `<scenario>_stored`, `_delivered_after_resync`, `_lost`,
`_duplicated`, `_recovery_s` (from the fault's end until every page is complete; the largest
over the scenario's faults; 99 when some page was not complete within the limit, 15 s, or 10 s
with --quick). The baseline, measured side by side in the same run on the same
processes and the same fault: pages that catch up the old way (`?after=<highest id seen>`, one
page, no seq, no hole detection); its `lost` is what the protocol buys. The read flood also
reports `read_flood_participant_writes`, `read_flood_reads_relayed` and `read_flood_pong_max_ms`.

Shared code: bench/faults_harness.py (also used by tests/faults/). `--quick`: shorter faults
and loads, about a minute. DATABASE_URL (PostgreSQL) names the database (default
keepline_bench, created and migrated if needed); Redis is always the run's own redis-server.
"""

import argparse
import asyncio
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import faults_harness as fh  # noqa: E402
from bench.common import emit, terminate_on_sigterm  # noqa: E402
from bench.keepline_chat import django_setup, ensure_database  # noqa: E402

BENCH = "chat_faults"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/keepline_bench"
SECRET_KEY = "keepline-chat-faults-bench-" + "x" * 40


def scenario_config(name: str, quick: bool, **common) -> fh.Config:
    if quick:
        sizes = {
            "seconds": 5.0, "fault_at": 1.0, "redis_outage_s": 3.0, "kills": 2,
            "kill_every_s": 1.5, "db_kills": 2, "db_kill_every_s": 1.5, "stall_s": 5.5,
            "stall_share": 0.9, "flood_frames": 2500, "flood_s": 2.5, "drain_s": 10.0,
            "recovery_limit_s": 10.0,
        }  # fmt: skip
        if name == "stalled_reader":
            sizes["seconds"] = 7.0
    else:
        sizes = {"seconds": 14.0, "fault_at": 3.0, "drain_s": 20.0, "recovery_limit_s": 15.0}
        if name == "stalled_reader":
            sizes.update(stall_s=10.0, stall_share=0.8)
    return fh.Config(scenario=name, **common, **sizes)


def report(r: fh.Report) -> None:
    seq, base = r.groups["seq"], r.groups.get("legacy")

    def both(metric, unit, of, n):
        emit(BENCH, f"{r.scenario}_{metric}", of(seq), unit, n, of(base) if base else None)

    both("stored", "messages", lambda g: g.stored, seq.sent)
    both("delivered_after_resync", "messages", lambda g: g.delivered_after_resync, seq.expected)
    both("lost", "messages", lambda g: g.lost, seq.expected)
    both("duplicated", "messages", lambda g: g.duplicated, seq.stored)
    limit = 99.0

    def recovery(g):
        return g.recovery_max if g.recovery_max is not None else limit

    both("recovery_s", "s", recovery, len(seq.recovery_s))
    if r.scenario == "read_flood":
        x = r.extra
        emit(
            BENCH,
            "read_flood_participant_writes",
            x["participant_writes"],
            "writes",
            x["flood_frames"],
        )
        relayed = max(x["reads_relayed_to_customer"], x["reads_relayed_to_flooder"])
        emit(BENCH, "read_flood_reads_relayed", relayed, "frames", x["flood_frames"])
        emit(BENCH, "read_flood_pong_max_ms", x["pong_max_ms"], "ms", x["pings"])


async def run_all(scenarios, seeded, database_url, quick) -> None:
    """Every scenario on one stack (Redis and two daphne processes), fresh pages for each."""
    log_dir = os.environ.get("BENCH_FAULTS_LOG_DIR")
    stack = await fh.Stack(database_url, SECRET_KEY, log_dir=log_dir).start()
    try:
        for name in scenarios:
            pairs, legacy = seeded[name]
            cfg = scenario_config(
                name,
                quick,
                database_url=database_url,
                secret_key=SECRET_KEY,
                pairs=pairs,
                legacy_pairs=legacy,
            )
            r = await fh.run_scenario(cfg, stack)
            print(r.summary(), file=sys.stderr, flush=True)
            report(r)
    finally:
        tail = await stack.stop()
        if os.environ.get("BENCH_FAULTS_VERBOSE"):
            print(tail, file=sys.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--scenario", action="append", choices=fh.SCENARIOS)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        database_url = DEFAULT_DB
    started = time.monotonic()
    ensure_database(database_url)
    # Seeding talks to no Redis: in-memory layer and cache in this process.
    django_setup({"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": database_url,
                  "REDIS_URL": "", "SECRET_KEY": SECRET_KEY,
                  "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1"})  # fmt: skip
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    pairs_n = 4 if args.quick else 8
    scenarios = args.scenario or list(fh.SCENARIOS)
    run_id = f"f{int(time.time())}{secrets.token_hex(2)}"
    seeded = {
        name: (
            fh.seed_pairs(f"{run_id}{name[:3]}s", pairs_n),
            [] if args.no_baseline else fh.seed_pairs(f"{run_id}{name[:3]}l", pairs_n),
        )
        for name in scenarios
    }
    connections.close_all()
    print(f"chat_faults: setup {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    asyncio.run(run_all(scenarios, seeded, database_url, args.quick))
    print(f"chat_faults: total {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    terminate_on_sigterm()
    main()
