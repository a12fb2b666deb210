"""HTTP clients for the channel providers, taking plain config values (no models).

Shared here: the one error type every client raises (`ProviderError`, retryable or permanent),
the results (`SendResult`, `FetchedMedia`) and one pooled `httpx.Client` per provider base URL
and process, so connections are reused across sends. Clients never retry: the Celery task does,
with backoff, reading `ProviderError.retryable` and `retry_after`.
"""

from __future__ import annotations

import email.utils
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from django.utils.translation import gettext as _

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_MEDIA_BYTES = 100 * 1024 * 1024  # WhatsApp documents go up to 100 MB

_clients: dict[tuple[int, str, float], httpx.Client] = {}
_clients_lock = threading.Lock()


class ProviderError(Exception):
    """A provider call that did not succeed.

    `retryable`: worth trying again later (429, 5xx, timeouts, connection errors); otherwise
    permanent and `reason` is the provider's own message, to be shown on the message.
    `retry_after`: seconds the provider asked us to wait, when it said."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
        provider: str = "",
    ):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.provider = provider

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.reason!r}, retryable={self.retryable}, status={self.status}, "
            f"code={self.code!r}, retry_after={self.retry_after})"
        )


@dataclass(frozen=True)
class SendResult:
    provider_id: str  # wamid... / SM...: what status callbacks will name
    status: str = ""  # the provider's own word at acceptance ("accepted", "queued")
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class FetchedMedia:
    content: bytes
    mime_type: str
    filename: str = ""
    sha256: str = ""  # as the provider announced it (hex for WhatsApp's media URL), if any


def http_client(base_url: str, timeout: float | httpx.Timeout | None = None) -> httpx.Client:
    """The pooled client for a provider base URL in this process (keyed by pid too: a client
    made before a Celery prefork must not share its sockets with the children)."""
    effective = timeout if timeout is not None else DEFAULT_TIMEOUT
    seconds = effective.read if isinstance(effective, httpx.Timeout) else float(effective)
    key = (os.getpid(), base_url.rstrip("/"), seconds or 0.0)
    client = _clients.get(key)
    if client is not None and not client.is_closed:
        return client
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client.is_closed:
            client = httpx.Client(
                base_url=base_url.rstrip("/"),
                timeout=effective,
                limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
                headers={"User-Agent": "Keepline/1 (+connectors)"},
                follow_redirects=False,
            )
            _clients[key] = client
        return client


def close_clients() -> None:
    """Close every pooled client (tests; process shutdown)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(tz=UTC)).total_seconds())


def transport_error(error: httpx.HTTPError, provider: str) -> ProviderError:
    """A request that got no HTTP answer: always retryable."""
    if isinstance(error, httpx.TimeoutException):
        reason = _("The provider did not answer in time.")
    else:
        reason = _("The provider could not be reached.")
    return ProviderError(f"{reason} ({type(error).__name__})", retryable=True, provider=provider)


def is_retryable_status(status: int) -> bool:
    return status == 429 or status == 408 or status >= 500


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def read_media(
    response: httpx.Response, provider: str, error_of: Callable[[httpx.Response], ProviderError]
) -> bytes:
    """The body of a streamed media download, refused past MAX_MEDIA_BYTES; an answer that is
    not 2xx raises the provider's error (`error_of`)."""
    if not response.is_success:
        response.read()
        raise error_of(response)
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_MEDIA_BYTES:
            raise ProviderError(
                _("The media file is too large."), retryable=False, provider=provider
            )
        chunks.append(chunk)
    return b"".join(chunks)
