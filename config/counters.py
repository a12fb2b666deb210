"""Counting in the cache, atomically: the one mechanism behind the sign-in throttle and the
per-user rate limits (Redis when REDIS_URL is set, so every process shares a count)."""

from django.core.cache import cache


def count(key: str, window: int) -> int:
    """Count one more under `key`, in a window of `window` seconds that starts at the first
    count; returns the count so far. One atomic add or incr, so parallel callers never lose a
    count."""
    if cache.add(key, 1, window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # the window ran out between add and incr
        cache.add(key, 1, window)
        return 1
