import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s;"
    "db = s.DATABASES['default'];"
    "print(json.dumps({'db': db['ENGINE'], 'name': str(db['NAME']),"
    "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], 'cache': s.CACHES['default']['BACKEND'],"
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG}))"
)


def run_with_env(code: str, **overrides: str) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}
    }
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings", **overrides})
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def probe(**overrides: str) -> dict:
    result = run_with_env(PROBE, **overrides)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_defaults_are_embedded_sqlite_memory_layer_and_eager_celery():
    conf = probe()
    assert conf["db"] == "django.db.backends.sqlite3"
    assert conf["name"].endswith("var/keepline.sqlite3")
    assert conf["layer"] == "channels.layers.InMemoryChannelLayer"
    assert conf["cache"].endswith("LocMemCache")
    assert conf["eager"] is True


def test_postgres_and_redis_urls_switch_every_backend():
    conf = probe(
        DATABASE_URL="postgres://kl:pw@db.internal:5433/keepline",
        REDIS_URL="redis://cache.internal:6379/2",
    )
    assert conf["db"] == "django.db.backends.postgresql"
    assert conf["name"] == "keepline"
    assert conf["layer"] == "config.channel_layer.ResilientPubSubChannelLayer"
    assert conf["cache"] == "config.cache.DegradingRedisCache"
    assert conf["eager"] is False
    assert conf["broker"] == "redis://cache.internal:6379/2"


def test_database_url_parsing_keeps_host_port_and_user():
    pg = env.database("postgres://kl:pw@db.internal:5433/keepline", "/tmp/x.sqlite3")
    assert (pg["HOST"], pg["PORT"], pg["USER"], pg["NAME"]) == (
        "db.internal",
        5433,
        "kl",
        "keepline",
    )
    assert pg["CONN_HEALTH_CHECKS"] is False  # a SELECT 1 per chat message otherwise
    lite = env.database(None, "/tmp/x.sqlite3")
    assert lite["NAME"] == "/tmp/x.sqlite3"
    assert lite["OPTIONS"]["timeout"] == 20


def test_star_in_allowed_hosts_is_refused():
    with pytest.raises(ImproperlyConfigured, match="ALLOWED_HOSTS"):
        env.allowed_hosts(["example.com", "*"])
    result = run_with_env(PROBE, ALLOWED_HOSTS="*")
    assert result.returncode != 0
    assert "ALLOWED_HOSTS may not contain '*'" in result.stderr


def test_secret_key_is_required_when_debug_is_off():
    result = run_with_env(PROBE, DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_bad_boolean_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env.env_bool("DEBUG", default=True)


def test_check_deploy_is_clean_with_production_values():
    result = run_with_env(
        "import sys; from django.core.management import execute_from_command_line;"
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        DEBUG="0",
        SECRET_KEY="k" * 20 + "a-real-looking-secret-key-with-enough-entropy-1234567890",
        ALLOWED_HOSTS="keepline.example.com",
        # Channel secrets' own key (connectors.W001 without it).
        KEEPLINE_CHANNEL_KEYS="hV2xGq3bS1nY0mI8uKc8c7q3vJ9p6Jg1v0oT2bqfM4E=",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_languages_offer_english_spanish_and_brazilian_portuguese(settings):
    assert [code for code, _ in settings.LANGUAGES] == ["en", "es", "pt-br"]


LAYER_PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s;"
    "print(json.dumps(s.CHANNEL_LAYERS['default']['CONFIG']))"
)


def layer_config(redis_url: str) -> dict:
    result = run_with_env(LAYER_PROBE, REDIS_URL=redis_url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.asyncio
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a real Redis (REDIS_URL)")
async def test_deployments_on_two_redis_databases_do_not_hear_each_other():
    """Redis pub/sub ignores the database number; the layer prefix must not."""
    import asyncio
    from urllib.parse import urlsplit, urlunsplit

    from channels_redis.pubsub import RedisPubSubChannelLayer

    parts = urlsplit(os.environ["REDIS_URL"])
    first, second = (layer_config(urlunsplit(parts._replace(path=f"/{db}"))) for db in (11, 12))
    assert first["prefix"] != second["prefix"]
    a, b = RedisPubSubChannelLayer(**first), RedisPubSubChannelLayer(**second)
    try:
        heard_a, heard_b = await a.new_channel(), await b.new_channel()
        await a.group_add("conversation.1.staff", heard_a)
        await b.group_add("conversation.1.staff", heard_b)
        await a.group_send("conversation.1.staff", {"type": "message.created", "n": 1})
        assert (await asyncio.wait_for(a.receive(heard_a), 3))["n"] == 1
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(b.receive(heard_b), 0.5)
    finally:
        await a.flush()
        await b.flush()
