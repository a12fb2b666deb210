"""bench/user_mix.py: the generator's pure parts, and a tiny run against the real servers."""

import os
import random

import pytest

from bench import user_mix
from tests.bench.runner import run_bench


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert user_mix.percentile(values, 50) == 50
    assert user_mix.percentile(values, 99) == 99
    assert user_mix.percentile(values, 100) == 100
    assert user_mix.percentile([7.0], 99) == 7.0
    assert user_mix.percentile([], 99) == 0.0


def test_healthy_follows_mattermost_definition():
    assert user_mix.is_healthy(100.0, 2000.0, 1, 4000)  # 0.025% exactly
    assert not user_mix.is_healthy(100.1, 50.0, 0, 10)  # average too slow
    assert not user_mix.is_healthy(20.0, 2000.1, 0, 10)  # p99 too slow
    assert not user_mix.is_healthy(20.0, 50.0, 2, 4000)  # 0.05% errors
    assert not user_mix.is_healthy(0.0, 0.0, 0, 0)  # nothing happened: proves nothing
    steps = [
        {"reps": 10, "healthy": True},
        {"reps": 30, "healthy": True},
        {"reps": 100, "healthy": False},
        {"reps": 200, "healthy": False},
    ]
    assert user_mix.healthy_reps(steps) == 30
    assert user_mix.healthy_reps([{"reps": 10, "healthy": False}]) == 0


def test_fixture_is_the_issues_day_scaled():
    assert user_mix.fixture_sizes(300) == {
        "reps": 300,
        "managers": 15,
        "contacts": 9200,
        "deals": 3080,
        "conversations": 1513,
    }
    small = user_mix.fixture_sizes(2)
    assert small["managers"] == 1 and small["conversations"] >= 2 and small["deals"] >= 2


def test_page_picker_visits_every_page_and_only_the_reps_own_records():
    rep = {"deals": [11, 12], "contacts": [21, 22, 23]}
    rng = random.Random(1)
    picks = [user_mix.pick_page(rng, rep) for _ in range(500)]
    kinds = {kind for kind, _ in picks}
    assert kinds == set(user_mix.PAGES)
    paths = {path for _, path in picks}
    assert paths == {
        "/",
        "/inbox/",
        "/deals/",
        "/deals/11/",
        "/deals/12/",
        "/contacts/21/",
        "/contacts/22/",
        "/contacts/23/",
    }
    assert all(15 <= user_mix.jittered(rng, 30.0) <= 45 for _ in range(100))


def test_summary_counts_only_the_window():
    rec = user_mix.Recorder()
    rec.http += [
        (0.5, "home", 999.0),
        (1.0, "home", 10.0),
        (1.5, "inbox", 30.0),
        (3.0, "home", 5.0),
    ]
    rec.acks += [(1.2, 4.0), (9.0, 500.0)]
    rec.deliveries += [(1.3, 8.0)]
    rec.sends += [(1.1,), (2.5,)]
    rec.errors += [(1.4, "http_500"), (0.1, "http_failed")]
    s = user_mix.summarise(rec, 1.0, 3.0, reps=5)
    assert s["requests"] == 2 and s["sends"] == 2
    assert s["http_avg_ms"] == 20.0 and s["http_p99_ms"] == 30.0
    assert s["ws_ack_p99_ms"] == 4.0 and s["delivery_p99_ms"] == 8.0
    assert s["errors"] == 1 and s["error_kinds"] == {"http_500": 1}
    assert s["page_p50_ms"] == {"home": 10.0, "inbox": 30.0}
    assert not s["healthy"]  # one error in four operations


@pytest.mark.postgres
def test_tiny_run_reports_every_figure(settings):
    """2 reps for 8 s at ten times the day's pace on two daphne processes (PostgreSQL + Redis):
    every metric line comes out and nothing failed. The fixture is cached in its own database."""
    db = settings.DATABASES["default"]
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis (REDIS_URL)")
    server = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = {**os.environ, "USERMIX_PG": server, "USERMIX_REDIS_URL": redis_url}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    args = ["--steps", "2", "--baseline-steps", "", "--wsgi-steps", ""]
    args += ["--window", "8", "--ramp", "1", "--pace", "10"]
    lines, stderr = run_bench("user_mix.py", args, env, timeout=180)
    metrics = {line["metric"]: line for line in lines}
    for name in (
        "http_avg_ms",
        "http_p99_ms",
        "ws_ack_p99_ms",
        "delivery_p99_ms",
        "errors",
        "cpu_daphne0",
        "cpu_daphne1",
        "cpu_postgres",
        "cpu_redis",
        "cpu_load",
        "healthy_reps",
    ):
        assert name in metrics, (name, stderr[-3000:])
        assert set(metrics[name]) == {"bench", "metric", "value", "unit", "baseline", "ratio", "n"}
    assert any(m.startswith("page_p50_ms_") for m in metrics)
    assert metrics["errors"]["value"] == 0, stderr[-3000:]
    assert metrics["http_avg_ms"]["value"] > 0 and metrics["ws_ack_p99_ms"]["value"] > 0
    assert metrics["delivery_p99_ms"]["value"] > 0
    assert metrics["http_avg_ms"]["n"] == 2
