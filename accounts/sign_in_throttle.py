"""Brute-force protection: failed sign-ins are counted per username and per client address, and
failed API token authentications per client address; past a limit the username or address is
locked for a while, and the lock is written to the audit ledger once.

Why Django's cache and not django-axes (8.3 was checked): axes has one failure limit for every
lockout parameter, so "5 per username but 50 per office address" cannot be said; its cache handler
counts with get-then-set, so parallel guesses from several daphne processes lose counts; a success
deletes every key of the attempt, so signing in to one's own account resets the address counter an
attacker is running up; it sends its lockout signal on every failure past the limit; and it knows
nothing of DRF token authentication. Here every count is one atomic `cache.add`/`cache.incr`:
with REDIS_URL set the cache is Redis, shared by every process behind the balancer; without it,
the local-memory cache of the single embedded process.

An attempt is counted when it starts, before the password is checked, so N parallel guesses cannot
all slip under the limit; a success then clears the username's count and returns the address's.
The address is the real client (audit.client_address): behind the balancer it is not the
balancer's. IPv6 clients are counted by /64, the block one subscriber usually holds.

A locked username or address is refused without checking the password and without a
`sign_in.failed` event per refusal (which would let an attacker flood the ledger): one
`accounts.sign_in.locked` event says when the lock began.

When the cache is down the throttle fails open: the attempt goes on to the password check, as
before this module existed, and a warning is logged. Failing closed would stop every sign-in in
the building whenever Redis blips; /healthz already reports the cache as down, and every failed
sign-in is still in the audit ledger.
"""

import contextlib
import dataclasses
import hashlib
import ipaddress
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from audit.client_address import client_address
from config import counters

logger = logging.getLogger(__name__)

PREFIX = "signin-throttle"
# What a cache that cannot be reached raises (Redis; the local-memory cache never does). Only
# these fail open: an error writing the audit event is not swallowed.
CACHE_ERRORS = (RedisError, OSError)


class Locked(Exception):
    """The username or address is locked for `seconds` more."""

    def __init__(self, seconds: int):
        super().__init__(seconds)
        self.seconds = seconds

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.seconds / 60))


@dataclasses.dataclass
class Attempt:
    request: object
    username: str
    address: str | None
    username_count: int = 0
    address_count: int = 0


def _window() -> int:
    return settings.SIGN_IN_FAILURE_WINDOW_SECONDS


def _lockout() -> int:
    return settings.SIGN_IN_LOCKOUT_SECONDS


def _username_key(kind: str, username: str) -> str:
    # Hashed: usernames are user input (spaces, any length) and need not sit in Redis in clear.
    digest = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
    return f"{PREFIX}:{kind}:user:{digest}"


def _address_key(kind: str, address: str) -> str:
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        address = str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return f"{PREFIX}:{kind}:addr:{address}"


def _hit(key: str) -> int:
    return counters.count(key, _window())


def _lock_seconds_left(key: str) -> int:
    until = cache.get(key)
    if until is None:
        return 0
    return max(0, math.ceil(until - time.time()))


def _lock(key: str) -> tuple[bool, int]:
    """Lock `key`; (True, seconds) only for the one caller that began the lock."""
    seconds = _lockout()
    if cache.add(key, time.time() + seconds, seconds):
        return True, seconds
    return False, _lock_seconds_left(key) or seconds


def _over(count: int, limit: int) -> bool:
    return bool(limit) and count > limit


def _at(count: int, limit: int) -> bool:
    return bool(limit) and count >= limit


def _cache_down(exc: Exception) -> None:
    logger.warning(
        "Sign-in throttle skipped: the cache is unavailable (%s: %s)", type(exc).__name__, exc
    )


def _audit_lock(attempt: Attempt, *, locked: str, via: str, seconds: int) -> None:
    from accounts import services

    services.user_sign_in_locked(
        username=attempt.username,
        address=attempt.address,
        locked=locked,
        via=via,
        seconds=seconds,
        request=attempt.request,
    )


def _lock_and_audit(
    attempt: Attempt, lock_key: str, count_key: str, *, locked: str, via: str
) -> int:
    began, seconds = _lock(lock_key)
    if began:
        cache.delete(count_key)  # a fresh budget once the lock ends
        _audit_lock(attempt, locked=locked, via=via, seconds=seconds)
    return seconds


# --- Password sign-in (/login/, /admin/login/: accounts.forms.SignInThrottleMixin) ---


def _keys(attempt: Attempt) -> list[tuple[str, str, str, int]]:
    """(what, lock key, count key, limit) for the username and, when known, the address."""
    keys = [
        (
            "username",
            _username_key("lock", attempt.username),
            _username_key("count", attempt.username),
            settings.SIGN_IN_FAILURES_PER_USERNAME,
        )
    ]
    if attempt.address:
        keys.append(
            (
                "address",
                _address_key("lock", attempt.address),
                _address_key("count", attempt.address),
                settings.SIGN_IN_FAILURES_PER_ADDRESS,
            )
        )
    return keys


def attempt_begin(*, request, username: str) -> Attempt:
    """Count a sign-in attempt before its password is checked. Raises Locked when the username
    or the address is locked, or this attempt is past a limit (parallel guesses)."""
    attempt = Attempt(request=request, username=username, address=client_address(request))
    try:
        keys = _keys(attempt)
        for _what, lock_key, _count_key, _limit in keys:
            if left := _lock_seconds_left(lock_key):
                raise Locked(left)
        counts = [_hit(count_key) for _what, _lock_key, count_key, _limit in keys]
        attempt.username_count = counts[0]
        attempt.address_count = counts[1] if len(counts) > 1 else 0
        for (what, lock_key, count_key, limit), count in zip(keys, counts, strict=True):
            if _over(count, limit):
                raise Locked(
                    _lock_and_audit(attempt, lock_key, count_key, locked=what, via="password")
                )
    except CACHE_ERRORS as exc:
        _cache_down(exc)
    return attempt


def attempt_failed(attempt: Attempt) -> Locked | None:
    """The password was wrong. Returns Locked when this failure used up a limit."""
    seconds = 0
    try:
        keys = _keys(attempt)
        counts = (attempt.username_count, attempt.address_count)[: len(keys)]
        for (what, lock_key, count_key, limit), count in zip(keys, counts, strict=True):
            if _at(count, limit):
                locked = _lock_and_audit(attempt, lock_key, count_key, locked=what, via="password")
                seconds = max(seconds, locked)
    except CACHE_ERRORS as exc:
        _cache_down(exc)
    return Locked(seconds) if seconds else None


def attempt_succeeded(attempt: Attempt) -> None:
    """The password was right: the username starts afresh; the address's count gives this
    attempt back (one person signing in must not clear what others behind it ran up)."""
    try:
        if attempt.username_count:
            cache.delete(_username_key("count", attempt.username))
        if attempt.address and attempt.address_count:
            with contextlib.suppress(ValueError):  # its window ended meanwhile
                cache.decr(_address_key("count", attempt.address))
    except CACHE_ERRORS as exc:
        _cache_down(exc)


# --- API tokens (crm.authentication): only the address is known before the token is looked up ---


def token_check(request) -> None:
    """Raise Locked when the request's address is locked for API token authentication."""
    address = client_address(request)
    if not address or not settings.API_TOKEN_FAILURES_PER_ADDRESS:
        return
    try:
        left = _lock_seconds_left(_address_key("token-lock", address))
    except CACHE_ERRORS as exc:
        _cache_down(exc)
        return
    if left:
        raise Locked(left)


def token_failed(request) -> None:
    """A bad, expired or revoked token: count it against the address, locking it at the limit."""
    address = client_address(request)
    limit = settings.API_TOKEN_FAILURES_PER_ADDRESS
    if not address or not limit:
        return
    attempt = Attempt(request=request, username="", address=address)
    count_key = _address_key("token-count", address)
    try:
        if _hit(count_key) >= limit:
            lock_key = _address_key("token-lock", address)
            _lock_and_audit(attempt, lock_key, count_key, locked="address", via="api_token")
    except CACHE_ERRORS as exc:
        _cache_down(exc)
