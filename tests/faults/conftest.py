"""Fault injection (issue 11): two daphne processes on the test database and a Redis of the
test's own, clients that behave like chat.js and customer_chat.js (bench/faults_harness.py).

Runs only on PostgreSQL with REDIS_URL set (the CI's second pass); skipped otherwise."""

import asyncio
import os
import secrets
import shutil

import pytest
from django.conf import settings

from bench import faults_harness as fh
from tests.comms.conftest import conversation, deal, link_and_token  # noqa: F401 (the browser test's)

PAIRS = 6


def _skip_reason() -> str | None:
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return "fault injection needs PostgreSQL (DATABASE_URL=postgres://...)"
    if not os.environ.get("REDIS_URL"):
        return "fault injection needs REDIS_URL (the CI pass on PostgreSQL + Redis)"
    if not shutil.which("redis-server"):
        return "fault injection starts its own redis-server: none on PATH"
    return None


@pytest.fixture
def run_faults(transactional_db, tmp_path):
    """run_faults(scenario, **config) -> fh.Report: seeds PAIRS staff/customer pairs, starts a
    Redis and two daphne processes of the test's own, runs the scenario, stops them."""
    reason = _skip_reason()
    if reason:
        if os.environ.get("CI") and "redis-server" in reason:
            pytest.fail(reason)  # the PostgreSQL + Redis pass must run these
        pytest.skip(reason)
    from django.db import connections

    from tests.comms.conftest import ensure_default_pipeline

    ensure_default_pipeline()

    def run(scenario: str, pairs: int = PAIRS, **config) -> fh.Report:
        seeded = fh.seed_pairs(f"t{secrets.token_hex(3)}", pairs)
        # No connection of this process is open during the run (pg_terminate_backend spares
        # only the harness's own); the ORM reconnects afterwards.
        connections.close_all()
        cfg = fh.Config(
            scenario=scenario,
            database_url=fh.database_url_of(settings.DATABASES["default"]),
            secret_key=settings.SECRET_KEY,
            pairs=seeded,
            log_dir=str(tmp_path),
            **config,
        )
        report = asyncio.run(fh.run_scenario(cfg))
        print(report.summary())
        return report

    return run
