"""Django's Redis cache for a Redis that may be away.

Nothing in Keepline keeps its record in the cache, and nothing is authorised from it: the cache
holds counters (the sign-in throttle, per-user rate limits) and "done recently" marks (a session's
last-seen time). So a Redis outage must cost a page milliseconds, never an answer:

- every call has short socket timeouts and no retries, so a Redis that does not answer (stopped,
  paused, behind a dropped route) costs at most `socket_timeout`, not a hung request;
- after a failure the process stops asking Redis for `down_retry_s` seconds (a small circuit
  breaker), so a dead Redis costs nothing per request while it stays dead; the first call after
  that asks again, and one success closes the breaker;
- reads answer a miss and writes are dropped, logged once per outage (not once per request);
- `add` and `incr`/`decr` raise `CacheUnavailable` instead: their answer decides something
  ("am I first?", "how many so far?"), and no value is safe for every caller. Each caller chooses
  to fail open or closed (accounts.sign_in_throttle, accounts.middleware, crm.rate_limits).
  `CacheUnavailable` is an OSError (ConnectionError), so handlers written for an unreachable
  Redis (`except (RedisError, OSError)`) already catch it.

`check()` asks Redis whatever the breaker says: /healthz uses it, so a recovered Redis reads
healthy at once.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

logger = logging.getLogger(__name__)

# What a cache that cannot be reached raises: Redis' own errors, socket errors, and ours.
ERRORS = (RedisError, OSError)

DEFAULT_OPTIONS = {
    # A connect to a live Redis on the local network takes well under a millisecond; a stopped
    # host or a dropped route never answers, and each request would wait this long.
    "socket_connect_timeout": 0.25,
    "socket_timeout": 0.5,
    # redis-py retries failed commands with a backoff by default: seconds per call when down.
    "retry": Retry(NoBackoff(), 0),
    "health_check_interval": 0,
}
DEFAULT_DOWN_RETRY_S = 2.0

# Process-wide, per LOCATION: Django makes one backend instance per thread, and every thread of a
# daphne process should stop asking once one of them found Redis down.
_down_until: dict[str, float] = {}
_state_lock = threading.Lock()
# Process-wide too, per LOCATION and OPTIONS: the redis-py client and its connection pool. Each
# request thread's own backend instance used to build its own pool, so every request under
# daphne (a thread each) that touched the cache opened a new Redis connection.
_clients: dict[tuple[str, str], object] = {}


class SharedRedisClient(RedisCacheClient):
    """Django's client with one redis.Redis per connection pool. Django 5.2 builds a new
    redis.Redis for every cache call (its constructor fills about eighty response callbacks,
    ~0.2 ms of Python: twice per accepted webhook); redis.Redis is safe to share between threads,
    each command takes a connection from the pool."""

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        clients = self.__dict__.setdefault("_shared", {})
        client = clients.get(index)
        if client is None:
            client = clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class CacheUnavailable(ConnectionError):  # noqa: N818 - reads as the condition it names
    """The cache could not answer a call whose answer decides something (add, incr)."""


class DegradingRedisCache(RedisCache):
    """RedisCache whose outages read as misses and no-ops (see the module docstring).

    OPTIONS: anything RedisCache takes (redis-py connection options, which override
    DEFAULT_OPTIONS), plus `down_retry_s`.
    """

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        self.down_retry_s = float(options.pop("down_retry_s", DEFAULT_DOWN_RETRY_S))
        params = {**params, "OPTIONS": {**DEFAULT_OPTIONS, **options}}
        super().__init__(server, params)
        self._class = SharedRedisClient
        self._breaker_key = ",".join(self._servers)

    @cached_property
    def _cache(self):
        key = (self._breaker_key, repr(sorted(self._options.items(), key=lambda item: item[0])))
        client = _clients.get(key)
        if client is None:
            with _state_lock:
                client = _clients.get(key)
                if client is None:
                    client = _clients[key] = self._class(self._servers, **self._options)
        return client

    # --- the breaker ---

    def _is_down(self) -> bool:
        return time.monotonic() < _down_until.get(self._breaker_key, 0.0)

    def _failed(self, operation: str, exc: Exception) -> None:
        with _state_lock:
            was_up = self._breaker_key not in _down_until
            _down_until[self._breaker_key] = time.monotonic() + self.down_retry_s
        if was_up:
            logger.warning(
                "Cache unavailable (%s: %s): reads miss and writes are dropped until it answers",
                type(exc).__name__,
                exc,
            )
        else:
            logger.debug("cache %s failed: %s", operation, exc)

    def _answered(self) -> None:
        if self._breaker_key in _down_until:
            with _state_lock:
                recovered = _down_until.pop(self._breaker_key, None) is not None
            if recovered:
                logger.warning("Cache available again")

    def _call(self, operation: str, fn, fallback=None, *, refuse: str = ""):
        """fn() through the breaker. When Redis is down: `fallback`, or with `refuse`,
        CacheUnavailable(refuse)."""
        if not self._is_down():
            try:
                result = fn()
            except ERRORS as exc:
                self._failed(operation, exc)
            else:
                self._answered()
                return result
        if refuse:
            raise CacheUnavailable(refuse)
        return fallback

    def check(self) -> None:
        """Ask Redis now, breaker or not; raise what it raised. /healthz."""
        try:
            self._cache.get_client(write=True).ping()
        except ERRORS as exc:
            self._failed("ping", exc)
            raise
        self._answered()

    # --- reads: a miss ---

    def get(self, key, default=None, version=None):
        return self._call("get", lambda: RedisCache.get(self, key, default, version), default)

    def get_many(self, keys, version=None):
        return self._call("get_many", lambda: RedisCache.get_many(self, keys, version), {})

    def has_key(self, key, version=None):
        return self._call("has_key", lambda: RedisCache.has_key(self, key, version), False)

    def get_or_set(self, key, default, timeout=DEFAULT_TIMEOUT, version=None):
        value = self.get(key, self._missing_key, version=version)
        if value is not self._missing_key:
            return value
        if callable(default):
            default = default()
        try:
            self.add(key, default, timeout=timeout, version=version)
        except CacheUnavailable:  # computed, not stored
            return default
        return self.get(key, default, version=version)

    # --- writes: dropped ---

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._call("set", lambda: RedisCache.set(self, key, value, timeout, version), None)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # Django's contract: the keys that failed to be stored.
        return self._call(
            "set_many",
            lambda: RedisCache.set_many(self, data, timeout, version),
            list(data),
        )

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", lambda: RedisCache.touch(self, key, timeout, version), False)

    def delete(self, key, version=None):
        return self._call("delete", lambda: RedisCache.delete(self, key, version), False)

    def delete_many(self, keys, version=None):
        self._call("delete_many", lambda: RedisCache.delete_many(self, keys, version), None)

    def clear(self):
        return self._call("clear", lambda: RedisCache.clear(self), False)

    # --- answers that decide something: the caller chooses ---

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(
            "add",
            lambda: RedisCache.add(self, key, value, timeout, version),
            refuse="the cache cannot tell whether the key was added",
        )

    def incr(self, key, delta=1, version=None):
        return self._call(
            "incr",
            lambda: RedisCache.incr(self, key, delta, version),
            refuse="the cache cannot count",
        )
