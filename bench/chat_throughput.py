"""Live chat under load: Keepline (PostgreSQL + Redis, several daphne processes) beside the Channels
tutorial chat (default RedisChannelLayer, no database) on the same machine, in the same run.

Figures: throughput_pairs (persisted msgs/s, 50 one-to-one conversations sending as fast as acks
allow), fanout_room100 (frames/s delivered in a 100-member room at saturation), latency_p50_ms and
latency_p99_ms (send to delivery at 100 msgs/s), lost and duplicated (over both runs).
"""

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import chatload  # noqa: E402
from bench.common import ROOT, Daphne, emit  # noqa: E402

BENCH = "chat_throughput"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/keepline_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"
ORIGIN = "http://127.0.0.1"


class TutorialTarget(chatload.Target):
    name = "tutorial"

    def __init__(self, port: int):
        self.port = port

    def socket(self, room: str) -> chatload.Socket:
        return chatload.Socket(f"ws://127.0.0.1:{self.port}/ws/chat/{room}/")

    def frame(self, client_id, body):
        import json

        return json.dumps({"message": {"client_id": client_id, "body": body}})

    def ack_of(self, msg):
        # The tutorial has no acks: the sender's own echo is the earliest sign the server took it.
        return msg.get("message", {}).get("client_id")

    def delivered(self, msg):
        m = msg.get("message")
        return (m["client_id"], m["body"]) if m else None


def tutorial_env(redis_url: str) -> dict:
    return {"DJANGO_SETTINGS_MODULE": "bench.tutorial.settings", "REDIS_URL": redis_url}


def run_tutorial(redis_url: str, pairs: int, room_size: int, seconds: float, rate: int):
    with Daphne("bench.tutorial.asgi:application", env=tutorial_env(redis_url)) as server:
        target = TutorialTarget(server.port)
        pair_sockets = [(target.socket(f"p{i}"), target.socket(f"p{i}")) for i in range(pairs)]
        p = asyncio.run(chatload.pairs(target, pair_sockets, seconds))
        members = [target.socket("room") for _ in range(room_size)]
        # The sender is also in the room in the tutorial; it is not counted as a member.
        sat = asyncio.run(chatload.room(target, target.socket("room"), members, seconds, None))
        lat = asyncio.run(chatload.room(target, target.socket("room"), members, seconds, rate))
    return p, sat, lat


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

    k_pairs, k_sat, k_lat, k_integrity = keepline_chat.run(
        database_url, redis_url, pairs, room_size, seconds, rate, processes=2
    )
    t_pairs, t_sat, t_lat = run_tutorial(redis_url, pairs, room_size, seconds, rate)

    emit(BENCH, "throughput_pairs", k_pairs.rate, "msg/s", len(k_pairs.acked), t_pairs.rate)
    emit(BENCH, "fanout_room100", k_sat.rate, "frames/s", room_size, t_sat.rate)
    emit(
        BENCH,
        "latency_p50_ms",
        chatload.percentile(k_lat.latencies_ms, 50),
        "ms",
        len(k_lat.latencies_ms),
        chatload.percentile(t_lat.latencies_ms, 50),
    )
    emit(
        BENCH,
        "latency_p99_ms",
        chatload.percentile(k_lat.latencies_ms, 99),
        "ms",
        len(k_lat.latencies_ms),
        chatload.percentile(t_lat.latencies_ms, 99),
    )
    lost, duplicated = k_integrity
    total = len(k_pairs.acked) + len(k_sat.acked) + len(k_lat.acked)
    emit(BENCH, "lost", lost, "messages", total)
    emit(BENCH, "duplicated", duplicated, "messages", total)


if __name__ == "__main__":
    if os.environ.get("BENCH_TUTORIAL_ONLY"):
        p, s, lat = run_tutorial(DEFAULT_REDIS, 10, 20, 3, 50)
        print(p.rate, s.rate, chatload.percentile(lat.latencies_ms, 50), chatload.integrity(s, 20))
        sys.exit(0)
    main()
    _ = (subprocess, ROOT)
