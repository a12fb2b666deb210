"""Summarise py-spy raw profiles of Keepline's daphne processes (bench/chat_throughput.py with
BENCH_PYSPY and BENCH_PROFILE_DIR): per thread, where the samples went, by category.

    .venv/bin/python bench/profile_report.py DIR [SENDS]

Each sample is charged to the category of its innermost frame that matches a rule below (rules
are tried frame by frame from the leaf outwards), so a JSON encode inside a presenter counts as
JSON, and a Redis read inside group_send counts as the channel layer. With SENDS (the persisted
sends of the profiled phase) each line also gives milliseconds per send, across all processes.
"""

import collections
import re
import sys
from pathlib import Path

# (category, regex on "function (file:line)"), innermost match wins.
RULES = [
    ("idle: loop waiting for I/O", r"^(select|poll) \(selectors\.py"),
    ("idle: worker thread waiting for work", r"^_worker \(concurrent/futures/thread\.py"),
    ("db: waiting on PostgreSQL", r"psycopg/(waiting|generators)\.py|^wait_c? \(psycopg"),
    ("db: psycopg adapt/convert", r"psycopg/"),
    ("db: Django ORM/SQL compile", r"django/db/"),
    ("db: audit record_many (prepare, hash)", r"audit/"),
    ("db: comms services/permissions SQL", r"comms/(services|permissions)\.py"),
    ("loop: JSON encode/decode", r"json/(encoder|decoder|__init__)\.py|^(dumps|loads) \("),
    ("loop: presenters", r"comms/presenters\.py"),
    ("loop: channel layer (channels_redis)", r"channels_redis/"),
    ("loop: redis-py client", r"redis/"),
    ("loop: msgpack", r"msgpack"),
    ("loop: autobahn WebSocket framing", r"autobahn/"),
    ("loop: daphne (ASGI bridge)", r"daphne/"),
    ("loop: twisted transport", r"twisted/"),
    ("loop: Keepline consumers/batching/events", r"comms/|config/|accounts/"),
    ("loop: channels/asgiref dispatch", r"channels/|asgiref/"),
    ("loop: asyncio machinery", r"asyncio/"),
]
COMPILED = [(name, re.compile(rx)) for name, rx in RULES]


def categorise(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, rx in COMPILED:
            if rx.search(frame):
                return name
    return "other"


def thread_kind(first: str) -> str:
    if "MainThread" in first:
        return "main (event loop)"
    if "ThreadPoolExecutor" in first:
        return "database thread"
    return "other thread"


def load(directory: Path):
    totals = collections.Counter()
    by_thread = collections.defaultdict(collections.Counter)
    for path in sorted(directory.glob("daphne*.txt")):
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            frames = stack.split(";")
            kind = thread_kind(frames[0])
            # py-spy's first element(s) name the process/thread, not Python frames
            py_frames = [f for f in frames[1:] if "(" in f]
            n = int(count)
            totals[kind] += n
            by_thread[kind][categorise(py_frames)] += n
    return totals, by_thread


def main():
    directory = Path(sys.argv[1])
    sends = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    rate = 200  # samples/s, as bench/keepline_chat.py records
    totals, by_thread = load(directory)
    for kind in sorted(by_thread):
        print(f"\n{kind}: {totals[kind]} samples ({totals[kind] / rate:.1f} thread-seconds)")
        for category, n in by_thread[kind].most_common():
            per_send = f"  {1000 * n / rate / sends:7.3f} ms/send" if sends else ""
            print(f"  {100 * n / totals[kind]:5.1f}%  {category}{per_send}")


if __name__ == "__main__":
    main()
