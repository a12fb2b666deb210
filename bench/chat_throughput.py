"""Live chat under load: Keepline (PostgreSQL + Redis, two daphne processes, the pub/sub channel
layer) beside the Channels tutorial chat (no database) on the same machine, in the same run.

Baselines, both measured in every run:
- fair: the tutorial on the same number of daphne processes, with Keepline's channel layer class
  and config (its own prefix), clients spread over the processes exactly as Keepline's are
  (chatload.spread_pairs / spread_room). The plain metric names compare against this one.
- 1proc_default: the tutorial on one process with the default RedisChannelLayer, the baseline of
  earlier runs; lines `<metric>_vs_1proc_default` keep that comparison visible.

Figures: throughput_pairs (persisted msgs/s, 50 one-to-one conversations sending as fast as acks
allow), fanout_room100 (frames/s delivered in a 100-member room at saturation), latency_p50_ms and
latency_p99_ms (send to delivery at 100 msgs/s), lost and duplicated (over all Keepline phases),
queries_per_send (SQL statements of a send stored alone, PostgreSQL), queries_per_send_under_load
and sends_per_batch (over the timed one-to-one phase, group commit). `--quick` is a small size.

Profiling (not part of `make bench`): BENCH_PYSPY=/path/to/py-spy BENCH_PROFILE_DIR=dir records
each Keepline server over the one-to-one phase (bench/profile_report.py summarises); the phase's
CPU seconds per process and the servers' statement timings go to stderr either way.
"""

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import chatload  # noqa: E402
from bench.common import Daphne, emit, terminate_on_sigterm  # noqa: E402

BENCH = "chat_throughput"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/keepline_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"
PROCESSES = 2
DEFAULT_LAYER = {"BACKEND": "channels_redis.core.RedisChannelLayer"}


class TutorialTarget(chatload.Target, chatload.Spread):
    name = "tutorial"

    def socket(self, room: str) -> chatload.Socket:
        return chatload.Socket(f"ws://127.0.0.1:{self.port()}/ws/chat/{room}/")

    def frame(self, client_id, body):
        return json.dumps({"message": {"client_id": client_id, "body": body}})

    def ack_of(self, msg):
        # The tutorial has no acks: the sender's own echo is the earliest sign the server took it.
        return msg.get("message", {}).get("client_id")

    def delivered(self, msg):
        m = msg.get("message")
        return (m["client_id"], m["body"]) if m else None


def tutorial_layer(layer: dict, redis_url: str) -> dict:
    """Keepline's layer (class and config) for the tutorial, under a prefix of its own so the
    two never hear each other; the default layer keeps the tutorial's stock config."""
    if layer is DEFAULT_LAYER:
        return {**layer, "CONFIG": {"hosts": [redis_url]}}
    config = dict(layer.get("CONFIG", {}))
    config["prefix"] = f"tutorial{urlsplit(redis_url).path.strip('/') or '0'}"
    return {"BACKEND": layer["BACKEND"], "CONFIG": config}


def run_tutorial(redis_url, layer, processes, pairs, room_size, seconds, rate):
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.tutorial.settings",
        "REDIS_URL": redis_url,
        "TUTORIAL_CHANNEL_LAYER": json.dumps(tutorial_layer(layer, redis_url)),
    }
    servers = [Daphne("bench.tutorial.asgi:application", env=env) for _ in range(processes)]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.ready()
        target = TutorialTarget([s.port for s in servers])
        # The same spread as Keepline's: pair i on processes i and i+1, the room's sender on the
        # first process and its members round-robin from the second.
        pair_sockets = chatload.spread_pairs(
            target, pairs, lambda i: target.socket(f"p{i}"), lambda i: target.socket(f"p{i}")
        )
        p = asyncio.run(chatload.pairs(target, pair_sockets, seconds))
        # The sender is also in the room in the tutorial; it is not counted as a member.
        sender, members = chatload.spread_room(
            target, lambda: target.socket("room"), lambda i: target.socket("room"), room_size
        )
        sat = asyncio.run(chatload.room(target, sender, members, seconds, None))
        sender, members = chatload.spread_room(
            target, lambda: target.socket("room"), lambda i: target.socket("room"), room_size
        )
        lat = asyncio.run(chatload.room(target, sender, members, seconds, rate))
    finally:
        for server in servers:
            if hasattr(server, "proc"):
                server.__exit__()
    for name, result, receivers in (("pairs", p, 2), ("room", sat, room_size)):
        lost, dup = chatload.integrity(result, receivers)
        print(
            f"tutorial {processes}x {layer['BACKEND'].rsplit('.', 1)[1]} {name}: "
            f"rate {result.rate:.0f}, acked {len(result.acked)}, lost {lost}, duplicated {dup}",
            file=sys.stderr,
            flush=True,
        )
    return p, sat, lat


def report_probe(run) -> None:
    """Where the servers' time went in the timed one-to-one phase (stderr)."""
    c, cpu = run.pairs_counters, run.pairs_cpu
    sends = max(c["sends"], 1)
    wall = cpu.pop("wall")
    print(f"keepline pairs phase: {wall:.1f} s wall, CPU seconds:", file=sys.stderr)
    for name, seconds in cpu.items():
        print(
            f"  {name:12} {seconds:6.2f} s ({100 * seconds / wall:5.1f}% of a core)",
            file=sys.stderr,
        )
    print(
        f"  batches {c['batches']}, sends {c['sends']},"
        f" mean batch {c['sends'] / max(c['batches'], 1):.1f};"
        f" database thread in messages_store {1000 * c['store_s'] / sends:.3f} ms/send"
        f" (commit {1000 * c['commit_s'] / sends:.3f} ms/send); publish on the loop"
        f" {1000 * c['publish_s'] / sends:.3f} ms/send ({c['published_events']} events)",
        file=sys.stderr,
    )
    statements = sorted(c["statements"].items(), key=lambda kv: -kv[1][1])
    for kind, (n, s, n_store, _s_store) in statements:
        print(
            f"  sql {kind:40} {n:7} stmts {1000 * s / sends:7.3f} ms/send"
            f" ({1000 * s / max(n, 1):.3f} ms each; {n_store} inside messages_store)",
            file=sys.stderr,
        )
    sizes = dict(sorted(c["batch_sizes"].items(), key=lambda kv: int(kv[0])))
    print(f"  batch sizes: {sizes}", file=sys.stderr, flush=True)
    pg = run.pairs_pg
    if pg:
        print(f"  PostgreSQL client backends over {pg['samples']} samples:", file=sys.stderr)
        per = max(pg["samples"], 1)
        for (state, wait, query), n in sorted(pg["counts"].items(), key=lambda kv: -kv[1]):
            print(
                f"    {n / per:6.2f} backends  {state:20} {wait:28} {query}",
                file=sys.stderr,
                flush=True,
            )
    directory = os.environ.get("BENCH_PROFILE_DIR")
    if directory:
        with open(os.path.join(directory, "counters.json"), "w") as f:
            json.dump({"counters": c, "cpu": {**cpu, "wall": wall}, "pg": repr(pg)}, f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    pairs, room_size, seconds, rate = (10, 20, 3, 50) if args.quick else (50, 100, 10, 100)
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        database_url = DEFAULT_DB

    from bench import keepline_chat

    k = keepline_chat.run(
        database_url, redis_url, pairs, room_size, seconds, rate, processes=PROCESSES
    )
    report_probe(k)
    if os.environ.get("BENCH_PROFILE_DIR"):
        return  # a profiling run: Keepline's servers only, no figures
    fair = run_tutorial(redis_url, k.channel_layer, PROCESSES, pairs, room_size, seconds, rate)
    old = run_tutorial(redis_url, DEFAULT_LAYER, 1, pairs, room_size, seconds, rate)

    def both(metric, value, unit, n, of):
        emit(BENCH, metric, value, unit, n, of(fair))
        emit(BENCH, f"{metric}_vs_1proc_default", value, unit, n, of(old))

    both("throughput_pairs", k.pairs.rate, "msg/s", len(k.pairs.acked), lambda t: t[0].rate)
    both("fanout_room100", k.room.rate, "frames/s", room_size, lambda t: t[1].rate)
    for q in (50, 99):
        both(
            f"latency_p{q}_ms",
            chatload.percentile(k.room_at_rate.latencies_ms, q),
            "ms",
            len(k.room_at_rate.latencies_ms),
            lambda t, q=q: chatload.percentile(t[2].latencies_ms, q),
        )
    total = len(k.pairs.acked) + len(k.room.acked) + len(k.room_at_rate.acked)
    emit(BENCH, "lost", k.lost, "messages", total)
    emit(BENCH, "duplicated", k.duplicated, "messages", total)

    # A send stored alone (a batch of one, as at a low rate): the figure tests/comms pins at 3.
    singles = k.counters["batch_sizes"].get("1", 0)
    if singles:
        alone = k.counters["store_statements_by_size"].get("1", 0) / singles
        emit(BENCH, "queries_per_send", alone, "queries", singles)
    c = k.pairs_counters
    if c["sends"]:
        in_store = sum(row[2] for row in c["statements"].values())
        emit(BENCH, "queries_per_send_under_load", in_store / c["sends"], "queries", c["sends"])
        emit(BENCH, "sends_per_batch", c["sends"] / c["batches"], "sends", c["batches"])


if __name__ == "__main__":
    terminate_on_sigterm()
    main()
