"""Which channel kinds have an active account: read on every page that offers to start a
conversation (deal, contact, inbox), and the same for everyone, so it is cached. The key carries
a version set when a channel account is saved or deleted and again after that commit: a reader
that took an old version can only write under the old key, so no page reads a stale list once
the change has committed (a Redis that is away only costs the query). Services deciding whether
a kind may be used read the database (`fresh=True`)."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "connectors:active-kinds:version"
# A backstop in case a version bump was dropped while Redis was away.
TIMEOUT_S = 300


def _read() -> list[str]:
    from connectors.models import ChannelAccount

    return sorted(
        ChannelAccount.objects.filter(is_active=True)
        .values_list("kind", flat=True)
        .distinct()
        .order_by()
    )


def active_kinds(*, fresh: bool = False) -> list[str]:
    """Channel kinds with at least one active account (comms.channel_registry asks). `fresh`:
    from the database (a service deciding), else from the cache (a page's offer)."""
    if fresh:
        return _read()
    # The cache degrades (config.cache): while Redis is away reads miss and writes are dropped.
    key = f"connectors:active-kinds:{cache.get(VERSION_KEY, 0)}"
    kinds = cache.get(key)
    if kinds is None:
        kinds = _read()
        cache.set(key, kinds, TIMEOUT_S)
    return list(kinds)


def _bump() -> None:
    cache.set(VERSION_KEY, time.time_ns(), None)


def forget_active_kinds(**kwargs) -> None:
    """A channel account was saved or deleted: the cached list is not used again, at once (the
    saving transaction's own next page) and after commit (a page of another transaction may
    have cached the list it saw before the commit)."""
    _bump()
    transaction.on_commit(_bump)
