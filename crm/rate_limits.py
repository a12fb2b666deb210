"""Per-user rate limits counted in Django's cache (Redis when REDIS_URL is set, so every process
shares the count; otherwise each process counts on its own)."""

from __future__ import annotations

import time

from config import counters


class RateLimited(Exception):
    """Too many uses of one action by one user in the current window."""

    def __init__(self, retry_after: int):
        super().__init__(f"rate limited; retry after {retry_after}s")
        self.retry_after = retry_after


def hit(scope: str, user_id: int, *, limit: int, window: int) -> None:
    """Count one use of `scope` by the user in the current fixed window of `window` seconds;
    raise RateLimited once the count passes `limit`. Refused attempts count too."""
    now = int(time.time())
    bucket = now // window
    count = counters.count(f"crm.rate.{scope}.{user_id}.{bucket}", window)
    if count > limit:
        raise RateLimited(retry_after=(bucket + 1) * window - now)
