"""Parse the environment variables documented in .env.example."""

import os

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}.")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}.") from exc


def redis_db(url: str) -> int:
    """The database number of a redis:// URL (0 when it names none)."""
    from urllib.parse import urlsplit

    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


def allowed_hosts(raw_hosts: list[str]) -> list[str]:
    if "*" in raw_hosts:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS may not contain '*': list the host names this deployment answers to."
        )
    return raw_hosts


def secret_key(debug: bool) -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    if debug:
        # Development only: a fixed key so sessions survive restarts of `make run`.
        return "django-insecure-keepline-development-key-do-not-use-in-production"
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DEBUG is off. Generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )


def database(url: str | None, default_sqlite_path: str) -> dict:
    import dj_database_url

    config = dj_database_url.parse(url or f"sqlite:///{default_sqlite_path}")
    engine = config["ENGINE"]
    if engine.endswith("postgresql"):
        lifetime = env_int("DATABASE_CONN_MAX_AGE", 60)
        pool_max = env_int("DATABASE_POOL_MAX", 8)
        if pool_max > 0:
            # One pool per process (docs/operations.md, "Database connections"). Django's ASGI
            # handler runs each request on a thread of its own, so persistent connections
            # (CONN_MAX_AGE) were neither reused nor closed: a burst left one idle server
            # connection per request. The pool bounds them at DATABASE_POOL_MAX, closes idle
            # ones beyond DATABASE_POOL_MIN after DATABASE_CONN_MAX_AGE seconds, and a request
            # that waits DATABASE_POOL_TIMEOUT_S for one answers 503 (config.errors).
            config["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django returns them
            pool_min = max(0, min(env_int("DATABASE_POOL_MIN", 1), pool_max))
            config.setdefault("OPTIONS", {})["pool"] = {
                "min_size": pool_min,
                "max_size": pool_max,
                # psycopg_pool closes one unused connection per max_idle interval: this spacing
                # closes every idle one beyond the minimum within about the configured lifetime.
                "max_idle": max(1.0, lifetime / max(1, pool_max - pool_min)),
                "timeout": env_float("DATABASE_POOL_TIMEOUT_S", 10.0),
                "max_lifetime": env_float("DATABASE_POOL_MAX_LIFETIME_S", 3600.0),
            }
        else:
            # DATABASE_POOL_MAX=0: no pool (e.g. behind PgBouncer in transaction mode).
            config["CONN_MAX_AGE"] = lifetime
        # Off by default: with Channels every database_sync_to_async call starts a "request", so
        # health checks cost a SELECT 1 per chat message (bench/chat_throughput.py). A dropped
        # connection is still replaced: Django discards connections that raised errors.
        config["CONN_HEALTH_CHECKS"] = env_bool("DATABASE_CONN_HEALTH_CHECKS", default=False)
        # JIT compilation costs 100-200 ms whenever the planner's estimate passes jit_above_cost,
        # which EXISTS-filtered counts over 100k rows do; short OLTP queries never win it back.
        if env_bool("DATABASE_JIT_OFF", default=True):
            config.setdefault("OPTIONS", {})["options"] = "-c jit=off"
    elif engine.endswith("sqlite3"):
        # WAL and a busy timeout let the web process and a test client share the file safely.
        config.setdefault("OPTIONS", {}).update(
            {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
        )
    return config


def ip_networks(name: str, entries: list[str]) -> list[str]:
    """Comma-separated IPs/CIDRs, each checked now so a typo fails at start-up, not per request."""
    import ipaddress

    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or CIDR networks, got {entry!r}."
            ) from exc
    return entries
