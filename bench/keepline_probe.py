"""Keepline's ASGI application with counters for the chat benchmark (bench/keepline_chat.py).

The servers run `bench.keepline_probe:application`, which is `config.asgi.application` unchanged
plus, in this process only:
- every SQL statement is counted (and timed) through a Django execute wrapper, by kind, and
  apart when it runs inside `comms.services.messages_store` (a batch of sends);
- each batch's size and time on the database thread (`config.events.run_collecting` around
  `messages_store`) and each commit's time are recorded;
- `config.events.publish` (the batch's broadcasts, from the event loop) is timed.
On SIGUSR1 the cumulative counters are written to `$BENCH_PROBE_DIR/probe-<pid>.json`; the harness
takes one snapshot before and one after a phase and subtracts. The cost is a few microseconds per
statement, against a database round trip of a few hundred.
"""

import collections
import json
import os
import signal
import threading
import time

from django.db.backends.signals import connection_created

from config.asgi import application  # noqa: F401  (imported first: it sets Django up)

# isort: split
from comms import services
from config import events

_local = threading.local()
_lock = threading.Lock()
STATS: dict = {
    "batches": 0,
    "sends": 0,
    "batch_sizes": collections.Counter(),
    # statements inside messages_store, per batch size: size -> statements
    "store_statements_by_size": collections.Counter(),
    "store_s": 0.0,  # wall time of run_collecting(messages_store) on the database thread
    "commit_s": 0.0,
    "commits": 0,
    "statements": {},  # kind -> [count, seconds, in_store_count, in_store_seconds]
    "publish_s": 0.0,  # wall time of events.publish on the loop (awaits Redis)
    "publishes": 0,
    "published_events": 0,
}


def _kind(sql: str) -> str:
    if "keepline_audit_append" in sql:
        return "select keepline_audit_append"
    head = sql.lstrip()[:120].upper()
    if head.startswith("UPDATE"):
        return "update " + head.split()[1].strip('"').lower()
    if head.startswith("INSERT"):
        return "insert " + head.split()[2].strip('"').lower()
    return head.split()[0].lower() if head else "?"


def _wrapper(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed = time.perf_counter() - started
        kind = _kind(sql)
        in_store = getattr(_local, "in_store", None)
        with _lock:
            row = STATS["statements"].setdefault(kind, [0, 0.0, 0, 0.0])
            row[0] += 1
            row[1] += elapsed
            if in_store is not None:
                row[2] += 1
                row[3] += elapsed
                _local.in_store += 1


def _on_connection(sender, connection, **kwargs):
    if _wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_wrapper)
    if getattr(connection, "_bench_probe", False):  # the same wrapper, reconnected
        return
    connection._bench_probe = True
    commit = connection._commit

    def timed_commit():
        started = time.perf_counter()
        try:
            return commit()
        finally:
            with _lock:
                STATS["commit_s"] += time.perf_counter() - started
                STATS["commits"] += 1

    connection._commit = timed_commit


connection_created.connect(_on_connection)

_store = services.messages_store


def messages_store(items):
    _local.in_store = 0
    try:
        return _store(items)
    finally:
        statements, _local.in_store = _local.in_store, None
        with _lock:
            STATS["store_statements_by_size"][len(items)] += statements


services.messages_store = messages_store
_run_collecting = events.run_collecting


def run_collecting(fn, kwargs):
    started = time.perf_counter()
    try:
        return _run_collecting(fn, kwargs)
    finally:
        if fn is messages_store:
            size = len(kwargs["items"])
            with _lock:
                STATS["batches"] += 1
                STATS["sends"] += size
                STATS["batch_sizes"][size] += 1
                STATS["store_s"] += time.perf_counter() - started


events.run_collecting = run_collecting
_publish = events.publish


async def publish(outbox, layer=None):
    started = time.perf_counter()
    outbox = list(outbox)
    try:
        return await _publish(outbox, layer)
    finally:
        STATS["publish_s"] += time.perf_counter() - started
        STATS["publishes"] += 1
        STATS["published_events"] += len(outbox)


events.publish = publish


def _dump(signum, frame):
    directory = os.environ.get("BENCH_PROBE_DIR")
    if not directory:
        return
    with _lock:
        data = json.dumps(STATS, default=dict)
    path = os.path.join(directory, f"probe-{os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


signal.signal(signal.SIGUSR1, _dump)

# An experiment knob, not a setting: the GIL switch interval (Python's default 0.005 s), which
# bounds how long the database thread can wait for the GIL after each round trip while the
# event loop runs.
if os.environ.get("BENCH_SWITCH_INTERVAL"):
    import sys

    sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
