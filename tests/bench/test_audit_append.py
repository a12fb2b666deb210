"""bench/audit_append.py runs to the end and prints its figures (PostgreSQL): its writers are
forked processes, and a forked writer that shared the parent's connection pool lost its socket
("server closed the connection unexpectedly"), so `make bench` stopped there."""

import os

import pytest

from tests.bench.runner import run_bench

pytestmark = pytest.mark.postgres


def test_a_short_run_prints_every_figure():
    # The suite's server, a database of the benchmark's own (it empties its ledger).
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/keepline_bench_smoke"
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DATABASE_POOL_MAX", None)
    rows, _stderr = run_bench("audit_append.py", ["--quick", "--seconds", "0.3"], env, timeout=300)
    assert [r["metric"] for r in rows] == [
        "append_1_writer",
        "append_4_writers",
        "append_8_writers",
        "append_4_writers_in_atomic",
        "verify_events_per_s",
        "verify_events_per_s",
    ]
    assert all(r["value"] > 0 and r["baseline"] > 0 for r in rows)
