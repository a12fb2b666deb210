"""Per-user rate limits counted in Django's cache (Redis when REDIS_URL is set, so every process
shares the count; otherwise each process counts on its own)."""

from __future__ import annotations

import logging
import time

from django.utils.translation import ngettext

from config import cache, counters, errors

logger = logging.getLogger(__name__)


class RateLimited(errors.RateLimited):
    """Too many uses of one action by one user in the current window (429); `retry_after`
    seconds until the next window."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__()

    def default_detail(self) -> str:
        minutes = max(1, -(-self.retry_after // 60))
        return ngettext(
            "You have done this too many times this hour. Try again in %(minutes)s minute.",
            "You have done this too many times this hour. Try again in %(minutes)s minutes.",
            minutes,
        ) % {"minutes": minutes}


def hit(scope: str, user_id: int, *, limit: int, window: int) -> None:
    """Count one use of `scope` by the user in the current fixed window of `window` seconds;
    raise RateLimited once the count passes `limit`. Refused attempts count too."""
    now = int(time.time())
    bucket = now // window
    try:
        count = counters.count(f"crm.rate.{scope}.{user_id}.{bucket}", window)
    except cache.ERRORS as exc:
        # Fails open, like the sign-in throttle: these limits bound load, not access (the action
        # still needs its permission and is audited), and a Redis outage must not stop the work.
        logger.warning("Rate limit %s skipped: the cache is unavailable (%s)", scope, exc)
        return
    if count > limit:
        raise RateLimited(retry_after=(bucket + 1) * window - now)
