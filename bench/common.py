"""Shared pieces of the benchmarks: the JSON line contract, servers on free ports, an HTTP load."""

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def emit(bench: str, metric: str, value: float, unit: str, n: int, baseline: float | None = None):
    ratio = round(value / baseline, 3) if baseline else None
    line = {
        "bench": bench,
        "metric": metric,
        "value": round(value, 3),
        "unit": unit,
        "baseline": round(baseline, 3) if baseline is not None else None,
        "ratio": ratio,
        "n": n,
    }
    print(json.dumps(line), flush=True)
    return line


async def read_http_response(reader) -> int:
    """Read one HTTP/1.1 response (Content-Length bodies) off a keep-alive connection: its
    status."""
    status = int((await reader.readline()).split()[1])
    length = 0
    while True:
        header = await reader.readline()
        if header in (b"\r\n", b""):
            break
        if header.lower().startswith(b"content-length:"):
            length = int(header.split(b":")[1])
    await reader.readexactly(length)
    return status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the benchmark process dies, however it dies, so
    no daphne outlives its run (Linux; elsewhere a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def terminate_on_sigterm() -> None:
    """SIGTERM raises SystemExit in the benchmark, so its with-blocks stop their servers."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class Daphne:
    """A daphne process serving an ASGI app on a free loopback port, for one with-block.

    `log`: a file path for daphne's stderr (default: discarded). Several servers start faster
    side by side: call start() on each, then ready() on each (the with-block does both)."""

    def __init__(self, app: str, env: dict | None = None, log: str | None = None):
        self.app, self.port = app, free_port()
        self.env = {**os.environ, **(env or {})}
        self.log = log

    def start(self):
        err = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), self.app],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        if self.log:
            err.close()
        return self

    def ready(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError(f"daphne did not start for {self.app}")

    def __enter__(self):
        return self.start().ready()

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def _worker(port: int, path: str, stop_at: float, counts: list, statuses: dict):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n".encode()
    done = 0
    try:
        while time.monotonic() < stop_at:
            writer.write(request)
            await writer.drain()
            status = await read_http_response(reader)
            statuses[status] = statuses.get(status, 0) + 1
            done += 1
    finally:
        writer.close()
    counts.append(done)


def http_load(port: int, path: str, seconds: float, concurrency: int) -> tuple[float, dict]:
    """Requests per second over keep-alive connections, and the count of each status seen."""

    async def run():
        counts, statuses = [], {}
        stop_at = time.monotonic() + seconds
        start = time.monotonic()
        await asyncio.gather(
            *(_worker(port, path, stop_at, counts, statuses) for _ in range(concurrency))
        )
        return sum(counts) / (time.monotonic() - start), statuses

    return asyncio.run(run())
