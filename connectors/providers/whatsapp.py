"""WhatsApp Business Cloud API client (Graph API), from plain config values.

POST {base}/{version}/{phone_number_id}/messages with `Authorization: Bearer <token>` sends text,
template and media messages; the answer names the message: {"messaging_product": "whatsapp",
"contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}. Media arrive as ids:
GET {base}/{version}/{media_id} gives {"url", "mime_type", "sha256", "file_size", "id"}, then
GET url with the same Bearer token gives the bytes. Errors come as {"error": {"message", "type",
"code", "error_subcode", "error_data": {"details"}, "fbtrace_id"}}.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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

PROVIDER = "whatsapp"
DEFAULT_API_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")

# Graph / Cloud API error codes that mean "later", whatever the HTTP status: 1, 2 (temporary
# API problems), 4, 17, 32, 613, 80007 (call-rate limits), 130429 (throughput), 131000
# (something went wrong), 131016 (service unavailable), 131048 (spam rate), 131056 (pair rate),
# 133004 (server temporarily unavailable).
RETRYABLE_CODES = frozenset(
    {1, 2, 4, 17, 32, 613, 80007, 130429, 131000, 131016, 131048, 131056, 133004}
)


@dataclass(frozen=True)
class WhatsAppConfig:
    api_base_url: str
    api_version: str
    phone_number_id: str
    access_token: str = field(repr=False)
    timeout: float = 10.0


def _error_from_response(response: httpx.Response) -> ProviderError:
    error = json_body(response).get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    message = str(error.get("message") or "").strip()
    details = (
        error.get("error_data", {}).get("details")
        if isinstance(error.get("error_data"), dict)
        else ""
    )
    reason = message or _("WhatsApp answered HTTP %(status)s.") % {"status": response.status_code}
    if details and details != message:
        reason = f"{reason}: {details}"
    if code is not None:
        reason = f"{reason} (#{code})"
    retryable = (
        is_retryable_status(response.status_code)
        or code in RETRYABLE_CODES
        or bool(error.get("is_transient"))
    )
    return ProviderError(
        reason,
        retryable=retryable,
        status=response.status_code,
        code="" if code is None else str(code),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        provider=PROVIDER,
    )


def _filename(response: httpx.Response) -> str:
    disposition = response.headers.get("Content-Disposition", "")
    match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition)
    return match.group(1) if match else ""


class WhatsAppClient:
    """One phone number's sender. Never retries: a `ProviderError` says whether to."""

    def __init__(self, config: WhatsAppConfig):
        self.config = config
        self.http = http_client(config.api_base_url, config.timeout)

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.access_token}"}

    def _path(self, *parts: str) -> str:
        return "/" + "/".join([self.config.api_version.strip("/"), *parts])

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, url, headers=self._auth, **kwargs)
        except httpx.HTTPError as error:
            raise transport_error(error, PROVIDER) from error
        if response.is_success:
            return response
        raise _error_from_response(response)

    def _send(self, payload: dict[str, Any]) -> SendResult:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", **payload}
        response = self._request(
            "POST", self._path(self.config.phone_number_id, "messages"), json=body
        )
        data = json_body(response)
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages or not messages[0].get("id"):
            # Accepted or not, we cannot tell: not retryable, so it is never sent twice.
            raise ProviderError(
                _("WhatsApp accepted the request without naming the message."),
                retryable=False,
                status=response.status_code,
                provider=PROVIDER,
            )
        first = messages[0]
        return SendResult(
            provider_id=str(first["id"]),
            status=str(first.get("message_status") or "accepted"),
            raw=data,
        )

    def send_text(self, *, to: str, body: str, preview_url: bool = False) -> SendResult:
        """A free-form text message (only inside the 24-hour customer-service window)."""
        return self._send(
            {"to": to, "type": "text", "text": {"preview_url": preview_url, "body": body}}
        )

    def send_template(
        self, *, to: str, name: str, language: str, variables: Sequence[str] = ()
    ) -> SendResult:
        """An approved template; `variables` fill the body's {{1}}..{{n}} in order."""
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if variables:
            template["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": str(v)} for v in variables],
                }
            ]
        return self._send({"to": to, "type": "template", "template": template})

    def send_media(
        self,
        *,
        to: str,
        kind: str,
        link: str = "",
        media_id: str = "",
        caption: str = "",
        filename: str = "",
    ) -> SendResult:
        """An image/video/audio/document/sticker by uploaded media id or public link."""
        if kind not in MEDIA_KINDS:
            raise ValueError(f"unknown WhatsApp media kind {kind!r}")
        if bool(link) == bool(media_id):
            raise ValueError("give exactly one of link and media_id")
        item: dict[str, Any] = {"id": media_id} if media_id else {"link": link}
        if caption and kind in ("image", "video", "document"):
            item["caption"] = caption
        if filename and kind == "document":
            item["filename"] = filename
        return self._send({"to": to, "type": kind, kind: item})

    def upload_media(self, *, content: bytes, mime_type: str, filename: str) -> str:
        """Upload a file for a later send (POST /{phone-number-id}/media); its media id."""
        response = self._request(
            "POST",
            self._path(self.config.phone_number_id, "media"),
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, content, mime_type)},
        )
        media_id = json_body(response).get("id")
        if not media_id:
            raise ProviderError(
                _("WhatsApp accepted the upload without naming the media."),
                retryable=True,
                status=response.status_code,
                provider=PROVIDER,
            )
        return str(media_id)

    def fetch_media(self, media_id: str) -> FetchedMedia:
        """The bytes of a media item named in a webhook: its URL first, then the download."""
        info = json_body(self._request("GET", self._path(media_id)))
        url = info.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ProviderError(
                _("WhatsApp gave no download address for the media."),
                retryable=False,
                provider=PROVIDER,
            )
        try:
            with self.http.stream("GET", url, headers=self._auth) as response:
                content = read_media(response, PROVIDER, _error_from_response)
                mime_type = info.get("mime_type") or response.headers.get(
                    "Content-Type", "application/octet-stream"
                )
                filename = _filename(response)
        except httpx.HTTPError as error:
            raise transport_error(error, PROVIDER) from error
        return FetchedMedia(
            content=content,
            mime_type=str(mime_type).split(";")[0].strip() if mime_type else "",
            filename=filename,
            sha256=str(info.get("sha256") or ""),
        )
