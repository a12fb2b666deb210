"""Twilio-compatible SMS/MMS client (Programmable Messaging, 2010-04-01 API), from plain config.

POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP basic auth (AccountSid,
AuthToken), form fields To, From, Body, MediaUrl (repeatable), StatusCallback; 201 with the
Message resource {"sid": "SM...", "status": "queued", ...}. Errors: {"code", "message",
"more_info", "status"}. Incoming media URLs point under the same API and redirect to storage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.utils.translation import gettext as _

from connectors.providers import (
    FetchedMedia,
    ProviderError,
    SendResult,
    http_client,
    is_retryable_status,
    json_body,
    parse_retry_after,
    read_media,
    transport_error,
)

PROVIDER = "twilio"
DEFAULT_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"
# 20429 too many requests, 20500 internal error, 20503 service unavailable.
RETRYABLE_CODES = frozenset({20429, 20500, 20503})


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 10.0


def _error_from_response(response: httpx.Response) -> ProviderError:
    data = json_body(response)
    code = data.get("code")
    message = str(data.get("message") or "").strip()
    reason = message or _("Twilio answered HTTP %(status)s.") % {"status": response.status_code}
    if code is not None:
        reason = f"{reason} (#{code})"
    return ProviderError(
        reason,
        retryable=is_retryable_status(response.status_code) or code in RETRYABLE_CODES,
        status=response.status_code,
        code="" if code is None else str(code),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        provider=PROVIDER,
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class TwilioClient:
    """One account and sender number. Never retries: a `ProviderError` says whether to."""

    def __init__(self, config: TwilioConfig):
        self.config = config
        self.http = http_client(config.base_url, config.timeout)

    @property
    def _auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.config.account_sid, self.config.auth_token)

    def send_sms(
        self,
        *,
        to: str,
        body: str,
        media_urls: Sequence[str] = (),
        status_callback: str = "",
    ) -> SendResult:
        """Send an SMS (an MMS with `media_urls`) from the configured number."""
        form: list[tuple[str, str]] = [("To", to), ("From", self.config.from_number)]
        if body:
            form.append(("Body", body))
        form.extend(("MediaUrl", url) for url in media_urls)
        if status_callback:
            form.append(("StatusCallback", status_callback))
        path = f"/{API_VERSION}/Accounts/{self.config.account_sid}/Messages.json"
        try:
            response = self.http.post(path, data=_group(form), auth=self._auth)
        except httpx.HTTPError as error:
            raise transport_error(error, PROVIDER) from error
        if not response.is_success:
            raise _error_from_response(response)
        data: dict[str, Any] = json_body(response)
        if not data.get("sid"):
            raise ProviderError(
                _("Twilio accepted the request without naming the message."),
                retryable=False,
                status=response.status_code,
                provider=PROVIDER,
            )
        return SendResult(
            provider_id=str(data["sid"]), status=str(data.get("status", "")), raw=data
        )

    def fetch_media(self, url: str) -> FetchedMedia:
        """The bytes behind an incoming MediaUrl<N>. Only URLs on the configured API host get
        the credentials; the redirect to storage goes without them (httpx drops Authorization
        on a cross-origin redirect)."""
        if _origin(url) != _origin(self.config.base_url):
            raise ProviderError(
                _("The media address is not on the provider's host."),
                retryable=False,
                provider=PROVIDER,
            )
        try:
            with self.http.stream("GET", url, auth=self._auth, follow_redirects=True) as response:
                content = read_media(response, PROVIDER, _error_from_response)
                mime_type = response.headers.get("Content-Type", "application/octet-stream")
                disposition = response.headers.get("Content-Disposition", "")
        except httpx.HTTPError as error:
            raise transport_error(error, PROVIDER) from error
        match = re.search(r'filename="?([^";]+)"?', disposition)
        return FetchedMedia(
            content=content,
            mime_type=mime_type.split(";")[0].strip(),
            filename=match.group(1) if match else "",
        )


def _group(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """Form pairs as httpx wants them: a repeated name (MediaUrl) becomes a list."""
    grouped: dict[str, str | list[str]] = {}
    for name, value in pairs:
        if name in grouped:
            current = grouped[name]
            grouped[name] = [*current, value] if isinstance(current, list) else [current, value]
        else:
            grouped[name] = value
    return grouped
