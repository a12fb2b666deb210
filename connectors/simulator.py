"""A loopback stand-in for the channel providers, speaking their HTTP formats over real sockets.

Provider side (what Keepline's clients call), with the providers' auth and error shapes:
- WhatsApp Cloud API: POST /{version}/{phone_number_id}/messages (Bearer token; text, template
  and media messages), GET /{version}/{media_id} then GET the returned URL (Bearer).
- Twilio: POST /2010-04-01/Accounts/{sid}/Messages.json (basic auth sid:token, form To, From,
  Body, MediaUrl, StatusCallback) -> 201; GET .../Messages/{sid}/Media/{sid} (basic auth),
  which redirects to unauthenticated storage like Twilio's.

Customer side: it posts signed webhooks to a Keepline base URL, built with connectors.payloads
and signed with connectors.signatures (WhatsApp text/media/status, Twilio SMS/MMS/status, raw MIME
email with the shared-secret header).

Test controls: every accepted send is recorded; `fail_next()` makes the next N provider calls
answer 500, 429 (with Retry-After) or 400 (with a provider error) or answer late. The same
controls are a small JSON API under /_sim/ for other processes (see `_ControlApi`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from connectors import payloads, signatures
from connectors.providers.twilio import TwilioConfig
from connectors.providers.whatsapp import WhatsAppConfig

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 20 * 1024 * 1024
WEBHOOK_TIMEOUT = 10.0


@dataclass(frozen=True)
class SimulatorSettings:
    """The simulated accounts. Configure Keepline's channel accounts with the same values (the
    defaults are fakes, good only for the simulator)."""

    api_version: str = "v21.0"
    phone_number_id: str = "100000000000001"
    whatsapp_number: str = "+15550100001"
    business_account_id: str = "200000000000001"
    access_token: str = "sim-whatsapp-access-token"
    app_secret: str = "sim-whatsapp-app-secret"
    verify_token: str = "sim-whatsapp-verify-token"
    account_sid: str = "AC" + "5" * 32
    auth_token: str = "sim-twilio-auth-token"
    sms_number: str = "+15550100002"
    sms_account_id: str = "1"  # Keepline's ChannelAccount pk: /hooks/twilio/<id>/
    email_address: str = "sales@keepline.example"
    inbound_secret: str = "sim-inbound-email-secret"
    email_account_id: str = "1"  # /hooks/email/<id>/
    customer_number: str = "+12025550143"  # valid for libphonenumber (555-01xx)
    customer_name: str = "Casey Customer"
    customer_email: str = "casey@customer.example"


@dataclass(frozen=True)
class SentMessage:
    """One send the simulator accepted, as a test reads it."""

    provider: str  # "whatsapp" | "twilio"
    provider_id: str
    to: str
    sender: str
    type: str  # text | template | image | ... | sms | mms
    text: str = ""
    template: str = ""
    language: str = ""
    variables: tuple[str, ...] = ()
    media: tuple[str, ...] = ()  # links / media ids / MediaUrls
    status_callback: str = ""
    payload: dict[str, Any] = field(default_factory=dict, compare=False)
    at: str = ""


@dataclass(frozen=True)
class Failure:
    status: int
    provider: str = ""  # "" any, "whatsapp", "twilio"
    retry_after: float | None = None
    code: int | None = None
    message: str = ""
    delay: float = 0.0  # seconds before answering (a client timeout shorter than this times out)


@dataclass(frozen=True)
class Delivery:
    """What Keepline answered to a webhook the simulator delivered."""

    status_code: int
    body: str
    provider_id: str = ""


@dataclass
class _StoredMedia:
    content: bytes
    mime_type: str
    filename: str = ""

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _fbtrace() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(8)).decode().rstrip("=")


def _whatsapp_error(status: int, message: str, code: int, error_type: str = "OAuthException"):
    error: dict[str, Any] = {
        "message": message,
        "type": error_type,
        "code": code,
        "fbtrace_id": _fbtrace(),
    }
    if status >= 500 or status == 429:
        error["is_transient"] = True
    return status, {"error": error}


def _twilio_error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


DEFAULT_FAILURES = {
    "whatsapp": {
        500: (1, "An unknown error has occurred."),
        503: (131016, "Service unavailable"),
        429: (130429, "(#130429) Rate limit hit"),
        400: (131026, "(#131026) Message undeliverable"),
    },
    "twilio": {
        500: (20500, "Internal Server Error"),
        503: (20503, "Service Unavailable"),
        429: (20429, "Too Many Requests"),
        400: (21211, "The 'To' number is not a valid phone number."),
    },
}


def _now_text() -> str:
    return datetime.now(tz=UTC).isoformat()


def _rfc2822_now() -> str:
    return datetime.now(tz=UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


class ProviderSimulator:
    """Start with `start()` (or as a context manager); `base_url` is where clients point."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        target: str = "",
        settings: SimulatorSettings | None = None,
        auto_status: bool = False,
    ):
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError("the simulator listens on a loopback address only")
        self.settings = settings or SimulatorSettings()
        self.target = target.rstrip("/")
        self.auto_status = auto_status
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._sends: list[SentMessage] = []
        self._calls: list[tuple[str, str, int]] = []
        self._peers: list[int] = []
        self._failures: deque[Failure] = deque()
        self._media: dict[str, _StoredMedia] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._webhooks = httpx.Client(timeout=WEBHOOK_TIMEOUT)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> ProviderSimulator:
        server = _Server((self._host, self._port), _Handler)
        server.simulator = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="provider-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._webhooks.close()

    def __enter__(self) -> ProviderSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the simulator first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def whatsapp_config(self, **overrides: Any) -> WhatsAppConfig:
        values = {
            "api_base_url": self.base_url,
            "api_version": self.settings.api_version,
            "phone_number_id": self.settings.phone_number_id,
            "access_token": self.settings.access_token,
            **overrides,
        }
        return WhatsAppConfig(**values)

    def twilio_config(self, **overrides: Any) -> TwilioConfig:
        values = {
            "account_sid": self.settings.account_sid,
            "auth_token": self.settings.auth_token,
            "from_number": self.settings.sms_number,
            "base_url": self.base_url,
            **overrides,
        }
        return TwilioConfig(**values)

    # --- test controls --------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._sends.clear()
            self._calls.clear()
            self._peers.clear()
            self._failures.clear()
            self._media.clear()

    @property
    def sends(self) -> list[SentMessage]:
        with self._lock:
            return list(self._sends)

    @property
    def calls(self) -> list[tuple[str, str, int]]:
        """(method, path, answered status) of every provider API call, in order."""
        with self._lock:
            return list(self._calls)

    @property
    def peers(self) -> list[int]:
        """The client port of each provider call: equal ports mean a reused connection."""
        with self._lock:
            return list(self._peers)

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        provider: str = "",
        retry_after: float | None = None,
        code: int | None = None,
        message: str = "",
        delay: float = 0.0,
    ) -> None:
        """Answer the next `count` provider calls (of `provider`, or any) with this failure."""
        failure = Failure(status, provider, retry_after, code, message, delay)
        with self._lock:
            self._failures.extend([failure] * count)

    def add_media(self, content: bytes, mime_type: str, filename: str = "") -> str:
        """Store a file as a provider-held media item; returns its id."""
        media_id = payloads.new_media_id()
        with self._lock:
            self._media[media_id] = _StoredMedia(content, mime_type, filename)
        return media_id

    def add_twilio_media(self, content: bytes, mime_type: str, *, message_sid: str = "") -> str:
        """Store a file as media of an incoming Twilio message; returns its MediaUrl."""
        media_sid = "ME" + secrets.token_hex(16)
        with self._lock:
            self._media[media_sid] = _StoredMedia(content, mime_type)
        message_sid = message_sid or payloads.new_twilio_sid("MM")
        return (
            f"{self.base_url}/2010-04-01/Accounts/{self.settings.account_sid}"
            f"/Messages/{message_sid}/Media/{media_sid}"
        )

    def _take_failure(self, provider: str) -> Failure | None:
        with self._lock:
            for index, failure in enumerate(self._failures):
                if failure.provider in ("", provider):
                    del self._failures[index]
                    return failure
        return None

    def _record_call(self, method: str, path: str, status: int, peer: int) -> None:
        with self._lock:
            self._calls.append((method, path, status))
            self._peers.append(peer)

    def _record_send(self, sent: SentMessage) -> None:
        with self._lock:
            self._sends.append(sent)

    def _get_media(self, media_id: str) -> _StoredMedia | None:
        with self._lock:
            return self._media.get(media_id)

    # --- customer side: webhooks to Keepline ----------------------------------------------

    def _post(self, path: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        if not self.target:
            raise RuntimeError("the simulator has no target: start it with target=<Keepline URL>")
        return self._webhooks.post(self.target + path, content=content, headers=headers)

    def _post_whatsapp(self, payload: dict[str, Any], provider_id: str) -> Delivery:
        body = payloads.encode_json(payload)
        response = self._post(
            "/hooks/whatsapp/",
            body,
            {
                "Content-Type": "application/json",
                signatures.WHATSAPP_SIGNATURE_HEADER: signatures.whatsapp_signature(
                    self.settings.app_secret, body
                ),
            },
        )
        return Delivery(response.status_code, response.text, provider_id)

    def send_whatsapp(
        self,
        text: str = "",
        *,
        from_number: str = "",
        contact_name: str | None = None,
        media: tuple[bytes, str, str] | None = None,
        reply_to: str = "",
    ) -> Delivery:
        """A customer's WhatsApp message (text, or media as (bytes, mime type, filename) with
        `text` as caption), signed with the app secret, posted to {target}/hooks/whatsapp/."""
        settings = self.settings
        item = None
        if media is not None:
            content, mime_type, filename = media
            media_id = self.add_media(content, mime_type, filename)
            item = payloads.Media(
                mime_type=mime_type,
                media_id=media_id,
                filename=filename,
                sha256=payloads.media_sha256_b64(content),
            )
        message_id = payloads.new_whatsapp_id()
        payload = payloads.build_whatsapp_message(
            phone_number_id=settings.phone_number_id,
            display_phone_number=settings.whatsapp_number,
            waba_id=settings.business_account_id,
            from_number=from_number or settings.customer_number,
            contact_name=settings.customer_name if contact_name is None else contact_name,
            text=text,
            media=item,
            message_id=message_id,
            reply_to=reply_to,
        )
        return self._post_whatsapp(payload, message_id)

    def send_whatsapp_status(
        self,
        message_id: str,
        status: str,
        *,
        recipient: str = "",
        error_code: int | None = None,
        error_title: str = "",
        error_details: str = "",
    ) -> Delivery:
        """A status webhook (sent|delivered|read|failed) for a message Keepline sent."""
        payload = payloads.build_whatsapp_status(
            phone_number_id=self.settings.phone_number_id,
            display_phone_number=self.settings.whatsapp_number,
            waba_id=self.settings.business_account_id,
            message_id=message_id,
            status=status,
            recipient=recipient or self.settings.customer_number,
            error_code=error_code,
            error_title=error_title,
            error_details=error_details,
        )
        return self._post_whatsapp(payload, message_id)

    def twilio_hook_url(self, account_id: str = "") -> str:
        return f"{self.target}/hooks/twilio/{account_id or self.settings.sms_account_id}/"

    def _post_twilio(self, url: str, params: dict[str, str], provider_id: str) -> Delivery:
        if not self.target and url.startswith("/"):
            raise RuntimeError("the simulator has no target: start it with target=<Keepline URL>")
        signature = signatures.twilio_signature(self.settings.auth_token, url, params)
        response = self._webhooks.post(
            url,
            data=params,
            headers={
                signatures.TWILIO_SIGNATURE_HEADER: signature,
                "User-Agent": "TwilioProxy/1.1",
            },
        )
        return Delivery(response.status_code, response.text, provider_id)

    def send_sms(
        self,
        text: str = "",
        *,
        from_number: str = "",
        media: list[tuple[bytes, str]] | None = None,
        account_id: str = "",
    ) -> Delivery:
        """A customer's SMS (MMS with `media` as (bytes, mime type) pairs), signed with the
        auth token, posted to {target}/hooks/twilio/<account_id>/."""
        if not self.target:
            raise RuntimeError("the simulator has no target: start it with target=<Keepline URL>")
        settings = self.settings
        sid = payloads.new_twilio_sid("MM" if media else "SM")
        media_urls = [
            (self.add_twilio_media(content, mime_type, message_sid=sid), mime_type)
            for content, mime_type in media or []
        ]
        params = payloads.build_twilio_message(
            account_sid=settings.account_sid,
            from_number=from_number or settings.customer_number,
            to_number=settings.sms_number,
            body=text,
            media=media_urls,
            message_sid=sid,
        )
        return self._post_twilio(self.twilio_hook_url(account_id), params, sid)

    def send_sms_status(
        self,
        message_sid: str,
        status: str,
        *,
        error_code: str | int | None = None,
        to_number: str = "",
        url: str = "",
        account_id: str = "",
    ) -> Delivery:
        """A Twilio status callback, to `url` (the send's StatusCallback) or the account hook."""
        params = payloads.build_twilio_status(
            account_sid=self.settings.account_sid,
            message_sid=message_sid,
            status=status,
            from_number=self.settings.sms_number,
            to_number=to_number or self.settings.customer_number,
            error_code=error_code,
        )
        if not url and not self.target:
            raise RuntimeError("the simulator has no target: start it with target=<Keepline URL>")
        return self._post_twilio(url or self.twilio_hook_url(account_id), params, message_sid)

    def send_email(
        self,
        text: str,
        *,
        subject: str = "Hello",
        from_address: str = "",
        to_address: str = "",
        message_id: str | None = None,
        in_reply_to: str = "",
        references: tuple[str, ...] = (),
        html: str = "",
        attachments: tuple[tuple[str, str, bytes], ...] = (),
        account_id: str = "",
    ) -> Delivery:
        """A customer's email as raw MIME, posted with the shared secret to
        {target}/hooks/email/<account_id>/."""
        raw = payloads.build_email(
            from_address=from_address or self.settings.customer_email,
            to_address=to_address or self.settings.email_address,
            subject=subject,
            text=text,
            html=html,
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=references,
            attachments=attachments,
        )
        response = self._post(
            f"/hooks/email/{account_id or self.settings.email_account_id}/",
            raw,
            {
                "Content-Type": "message/rfc822",
                **signatures.email_secret_header(self.settings.inbound_secret),
            },
        )
        parsed_id = message_from_bytes(raw).get("Message-ID", "")
        return Delivery(response.status_code, response.text, parsed_id)

    def _auto_statuses(self, sent: SentMessage) -> None:
        """What the real services do after accepting a send: report it sent, then delivered."""

        def run() -> None:
            for status in ("sent", "delivered"):
                time.sleep(0.2)
                try:
                    if sent.provider == "whatsapp" and self.target:
                        self.send_whatsapp_status(sent.provider_id, status, recipient=sent.to)
                    elif sent.provider == "twilio" and sent.status_callback:
                        self.send_sms_status(
                            sent.provider_id,
                            status,
                            to_number=sent.to,
                            url=sent.status_callback,
                        )
                except httpx.HTTPError:
                    logger.warning("status callback for %s failed", sent.provider_id)

        threading.Thread(target=run, name="simulator-status", daemon=True).start()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    simulator: ProviderSimulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the clients' connection reuse is exercised
    server_version = "KeeplineProviderSimulator/1"
    timeout = 30  # an idle keep-alive connection is closed after this

    server: _Server

    @property
    def sim(self) -> ProviderSimulator:
        return self.server.simulator

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator: " + format, *args)

    # --- plumbing -------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            raise ValueError("request too large")
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes | dict[str, Any] | list[Any],
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _answer(self, provider: str, status: int, body: Any, **kwargs: Any) -> None:
        self.sim._record_call(
            self.command, urlsplit(self.path).path, status, self.client_address[1]
        )
        self._send(status, body, **kwargs)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        try:
            body = self._body() if method == "POST" else b""
        except ValueError:
            self._send(413, {"error": "too large"})
            return
        parts = urlsplit(self.path)
        path = parts.path
        segments = [s for s in path.split("/") if s]
        settings = self.sim.settings
        try:
            if segments[:1] == ["_sim"]:
                _ControlApi(self.sim, self).handle(method, segments[1:], body)
            elif segments[:1] == ["2010-04-01"]:
                self._twilio(method, segments, body)
            elif segments[:1] == ["_storage"]:
                self._storage(segments)
            elif segments[:2] == ["whatsapp_business", "attachments"]:
                self._whatsapp_download(parse_qs(parts.query).get("mid", [""])[0])
            elif segments and segments[0] == settings.api_version:
                self._whatsapp(method, segments[1:], body)
            else:
                self._send(404, {"error": f"no route for {method} {path}"})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer
        except Exception:  # a simulator bug must show, not hang the client
            logger.exception("simulator failed on %s %s", method, path)
            self._send(500, {"error": "simulator error"})

    def _inject(self, provider: str) -> bool:
        failure = self.sim._take_failure(provider)
        if failure is None:
            return False
        if failure.delay:
            time.sleep(failure.delay)
        code, message = DEFAULT_FAILURES[provider].get(
            failure.status, (failure.code or 0, f"HTTP {failure.status}")
        )
        code = failure.code or code
        message = failure.message or message
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = f"{failure.retry_after:g}"
        if provider == "whatsapp":
            status, body = _whatsapp_error(failure.status, message, code)
        else:
            status, body = _twilio_error(failure.status, code, message)
        self._answer(provider, status, body, headers=headers)
        return True

    # --- WhatsApp Cloud API ---------------------------------------------------------------

    def _whatsapp_auth(self) -> bool:
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.sim.settings.access_token}"
        if hmac.compare_digest(given.encode(), expected.encode()):
            return True
        message = (
            "Invalid OAuth access token - Cannot parse access token"
            if given
            else "An active access token must be used to query information about the current user."
        )
        status, body = _whatsapp_error(401, message, 190 if given else 2500)
        self._answer("whatsapp", status, body)
        return False

    def _whatsapp(self, method: str, segments: list[str], body: bytes) -> None:
        if self._inject("whatsapp") or not self._whatsapp_auth():
            return
        settings = self.sim.settings
        if method == "POST" and len(segments) == 2 and segments[1] in ("messages", "media"):
            if segments[0] != settings.phone_number_id:
                status, error = _whatsapp_error(
                    400,
                    f"Unsupported post request. Object with ID '{segments[0]}' does not exist, "
                    "cannot be loaded due to missing permissions, or does not support this "
                    "operation.",
                    100,
                    "GraphMethodException",
                )
                self._answer("whatsapp", status, error)
                return
            if segments[1] == "media":
                self._whatsapp_upload(body)
            else:
                self._whatsapp_send(body)
        elif method == "GET" and len(segments) == 1:
            media = self.sim._get_media(segments[0])
            if media is None:
                status, error = _whatsapp_error(
                    400, f"(#100) Invalid parameter: media {segments[0]}", 100
                )
                self._answer("whatsapp", status, error)
                return
            self._answer(
                "whatsapp",
                200,
                {
                    "messaging_product": "whatsapp",
                    "url": f"{self.sim.base_url}/whatsapp_business/attachments/?mid={segments[0]}",
                    "mime_type": media.mime_type,
                    "sha256": media.sha256_hex,
                    "file_size": str(len(media.content)),
                    "id": segments[0],
                },
            )
        else:
            status, error = _whatsapp_error(400, "Unsupported request", 100, "GraphMethodException")
            self._answer("whatsapp", status, error)

    def _whatsapp_invalid(self, detail: str) -> None:
        status, error = _whatsapp_error(400, f"(#100) Invalid parameter: {detail}", 100)
        self._answer("whatsapp", status, error)

    def _whatsapp_upload(self, body: bytes) -> None:
        """POST /{phone-number-id}/media, multipart: messaging_product=whatsapp, type (the MIME
        type) and file. Answers {"id": media id}, usable in a send and downloadable."""
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            self._whatsapp_invalid("the upload must be multipart/form-data")
            return
        form = message_from_bytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        fields: dict[str, str] = {}
        upload = None
        for part in form.get_payload() if form.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            content = part.get_payload(decode=True) or b""
            if name == "file":
                upload = (content, part.get_content_type(), part.get_filename() or "")
            elif name:
                fields[name] = content.decode("utf-8", "replace")
        if fields.get("messaging_product") != "whatsapp":
            self._whatsapp_invalid("messaging_product must be 'whatsapp'")
            return
        if upload is None or not upload[0]:
            self._whatsapp_invalid("file is required")
            return
        content, part_type, filename = upload
        media_id = self.sim.add_media(content, fields.get("type") or part_type, filename)
        self._answer("whatsapp", 200, {"id": media_id})

    def _whatsapp_send(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            self._whatsapp_invalid("the body is not JSON")
            return
        if not isinstance(data, dict) or data.get("messaging_product") != "whatsapp":
            self._whatsapp_invalid("messaging_product must be 'whatsapp'")
            return
        to, kind = str(data.get("to") or ""), data.get("type", "text")
        if not to.lstrip("+").isdigit():
            self._whatsapp_invalid("'to' must be a phone number")
            return
        item = data.get(kind)
        if not isinstance(item, dict):
            self._whatsapp_invalid(f"'{kind}' object is required")
            return
        fields: dict[str, Any] = {}
        if kind == "text":
            if not item.get("body"):
                self._whatsapp_invalid("text.body is required")
                return
            fields["text"] = str(item["body"])
        elif kind == "template":
            language = item.get("language")
            if not item.get("name") or not isinstance(language, dict) or not language.get("code"):
                self._whatsapp_invalid("template.name and template.language.code are required")
                return
            variables = [
                str(parameter.get("text", ""))
                for component in item.get("components") or []
                if component.get("type") == "body"
                for parameter in component.get("parameters") or []
            ]
            fields.update(
                template=str(item["name"]),
                language=str(language["code"]),
                variables=tuple(variables),
            )
        elif kind in ("image", "video", "audio", "document", "sticker"):
            reference = item.get("id") or item.get("link")
            if not reference:
                self._whatsapp_invalid(f"{kind}.id or {kind}.link is required")
                return
            fields.update(media=(str(reference),), text=str(item.get("caption") or ""))
        else:
            self._whatsapp_invalid(f"unsupported message type '{kind}'")
            return
        message_id = payloads.new_whatsapp_id()
        sent = SentMessage(
            provider="whatsapp",
            provider_id=message_id,
            to="+" + to.lstrip("+"),
            sender=self.sim.settings.whatsapp_number,
            type=kind,
            payload=data,
            at=_now_text(),
            **fields,
        )
        self.sim._record_send(sent)
        answer: dict[str, Any] = {"id": message_id}
        if kind == "template":
            answer["message_status"] = "accepted"
        self._answer(
            "whatsapp",
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                "messages": [answer],
            },
        )
        if self.sim.auto_status:
            self.sim._auto_statuses(sent)

    def _whatsapp_download(self, media_id: str) -> None:
        if self._inject("whatsapp") or not self._whatsapp_auth():
            return
        media = self.sim._get_media(media_id)
        if media is None:
            self._answer("whatsapp", 404, b"Not Found", content_type="text/plain")
            return
        self._answer("whatsapp", 200, media.content, content_type=media.mime_type)

    # --- Twilio ---------------------------------------------------------------------------

    def _twilio_auth(self, account_sid: str) -> bool:
        settings = self.sim.settings
        given = self.headers.get("Authorization", "")
        token = base64.b64encode(f"{settings.account_sid}:{settings.auth_token}".encode())
        expected = b"Basic " + token
        if account_sid == settings.account_sid and hmac.compare_digest(given.encode(), expected):
            return True
        status, body = _twilio_error(401, 20003, "Authenticate")
        body["detail"] = "Your AccountSid or AuthToken was incorrect."
        self._answer("twilio", status, body)
        return False

    def _twilio(self, method: str, segments: list[str], body: bytes) -> None:
        # /2010-04-01/Accounts/{sid}/Messages.json | .../Messages/{sid}/Media/{sid}
        if len(segments) < 3 or segments[1] != "Accounts":
            self._send(404, {"error": "no such resource"})
            return
        if self._inject("twilio") or not self._twilio_auth(segments[2]):
            return
        rest = segments[3:]
        if method == "POST" and rest == ["Messages.json"]:
            self._twilio_send(segments[2], body)
        elif method == "GET" and len(rest) == 4 and rest[0] == "Messages" and rest[2] == "Media":
            media_sid = rest[3].removesuffix(".json")
            if self.sim._get_media(media_sid) is None:
                status, error = _twilio_error(
                    404, 20404, f"The requested resource {self.path} was not found"
                )
                self._answer("twilio", status, error)
                return
            self._answer(
                "twilio",
                307,
                b"",
                content_type="text/plain",
                headers={"Location": f"{self.sim.base_url}/_storage/{media_sid}"},
            )
        else:
            status, error = _twilio_error(
                404, 20404, f"The requested resource {self.path} was not found"
            )
            self._answer("twilio", status, error)

    def _twilio_send(self, account_sid: str, body: bytes) -> None:
        settings = self.sim.settings
        form = parse_qs(body.decode(errors="replace"), keep_blank_values=True)
        to = (form.get("To") or [""])[-1]
        sender = (form.get("From") or [""])[-1]
        text = (form.get("Body") or [""])[-1]
        media = tuple(form.get("MediaUrl") or ())
        callback = (form.get("StatusCallback") or [""])[-1]
        if not to:
            self._answer("twilio", *_twilio_error(400, 21604, "A 'To' phone number is required."))
            return
        if not to.startswith("+") or not to[1:].isdigit():
            self._answer(
                "twilio", *_twilio_error(400, 21211, f"The 'To' number {to} is not valid.")
            )
            return
        if sender != settings.sms_number:
            self._answer(
                "twilio",
                *_twilio_error(
                    400,
                    21606,
                    f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
                    "number or short code for your account.",
                ),
            )
            return
        if not text and not media:
            self._answer("twilio", *_twilio_error(400, 21602, "Message body is required."))
            return
        sid = payloads.new_twilio_sid("MM" if media else "SM")
        sent = SentMessage(
            provider="twilio",
            provider_id=sid,
            to=to,
            sender=sender,
            type="mms" if media else "sms",
            text=text,
            media=media,
            status_callback=callback,
            payload={key: values[-1] for key, values in form.items()},
            at=_now_text(),
        )
        self.sim._record_send(sent)
        now = _rfc2822_now()
        resource = {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "body": text,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": str(len(media)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }
        self._answer("twilio", 201, resource)
        if self.sim.auto_status and callback:
            self.sim._auto_statuses(sent)

    def _storage(self, segments: list[str]) -> None:
        media = self.sim._get_media(segments[1]) if len(segments) == 2 else None
        if media is None:
            self._send(404, b"Not Found", content_type="text/plain")
            return
        self._send(200, media.content, content_type=media.mime_type)


class _ControlApi:
    """JSON over HTTP under /_sim/, for tests and other processes:

    GET  /_sim/health                       -> {"ok": true}
    GET  /_sim/config                       -> the simulated accounts' settings (fakes)
    GET  /_sim/sends                        -> {"sends": [...]} every accepted send
    GET  /_sim/calls                        -> {"calls": [[method, path, status], ...]}
    POST /_sim/reset                        -> forget sends, calls, failures, media
    POST /_sim/failures  {"count", "status", "provider", "retry_after", "code", "message",
                          "delay"}         -> fail the next provider calls
    POST /_sim/customer/whatsapp {"text", "from", "name", "media": {"content_base64",
                          "mime_type", "filename"}}
    POST /_sim/customer/sms {"text", "from", "media": [{"content_base64", "mime_type"}],
                          "account_id"}
    POST /_sim/customer/email {"text", "subject", "from", "in_reply_to", "references",
                          "account_id"}
    POST /_sim/status/whatsapp {"message_id", "status", "error_code", "error_title"}
    POST /_sim/status/sms {"message_sid", "status", "error_code", "url", "account_id"}
    Customer and status calls answer {"status_code", "body", "provider_id"}: Keepline's answer.
    """

    def __init__(self, sim: ProviderSimulator, handler: _Handler):
        self.sim = sim
        self.handler = handler

    def handle(self, method: str, segments: list[str], body: bytes) -> None:
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            self.handler._send(400, {"error": "the body is not JSON"})
            return
        if not isinstance(data, dict):
            self.handler._send(400, {"error": "the body must be a JSON object"})
            return
        route = (method, "/".join(segments))
        try:
            result = self._dispatch(route, data)
        except (KeyError, TypeError, ValueError) as error:
            self.handler._send(400, {"error": f"bad request: {error}"})
            return
        except (RuntimeError, httpx.HTTPError) as error:
            self.handler._send(502, {"error": str(error)})
            return
        if result is None:
            self.handler._send(404, {"error": f"no control route {method} /_sim/{route[1]}"})
        else:
            self.handler._send(200, result)

    def _dispatch(self, route: tuple[str, str], data: dict[str, Any]) -> dict[str, Any] | None:
        sim = self.sim
        match route:
            case ("GET", "health"):
                return {"ok": True, "target": sim.target}
            case ("GET", "config"):
                return asdict(sim.settings) | {"base_url": sim.base_url}
            case ("GET", "sends"):
                return {"sends": [asdict(s) for s in sim.sends]}
            case ("GET", "calls"):
                return {"calls": [list(c) for c in sim.calls]}
            case ("POST", "reset"):
                sim.reset()
                return {"ok": True}
            case ("POST", "failures"):
                retry_after = data.get("retry_after")
                sim.fail_next(
                    int(data.get("count", 1)),
                    status=int(data.get("status", 500)),
                    provider=str(data.get("provider", "")),
                    retry_after=None if retry_after is None else float(retry_after),
                    code=int(data["code"]) if data.get("code") else None,
                    message=str(data.get("message", "")),
                    delay=float(data.get("delay", 0)),
                )
                return {"ok": True}
            case ("POST", "customer/whatsapp"):
                media = data.get("media")
                delivery = sim.send_whatsapp(
                    str(data.get("text", "")),
                    from_number=str(data.get("from", "")),
                    contact_name=data.get("name"),
                    media=(
                        (
                            base64.b64decode(media["content_base64"]),
                            str(media["mime_type"]),
                            str(media.get("filename", "")),
                        )
                        if media
                        else None
                    ),
                )
            case ("POST", "customer/sms"):
                delivery = sim.send_sms(
                    str(data.get("text", "")),
                    from_number=str(data.get("from", "")),
                    media=[
                        (base64.b64decode(m["content_base64"]), str(m["mime_type"]))
                        for m in data.get("media") or []
                    ],
                    account_id=str(data.get("account_id", "")),
                )
            case ("POST", "customer/email"):
                delivery = sim.send_email(
                    str(data.get("text", "")),
                    subject=str(data.get("subject", "Hello")),
                    from_address=str(data.get("from", "")),
                    in_reply_to=str(data.get("in_reply_to", "")),
                    references=tuple(data.get("references") or ()),
                    account_id=str(data.get("account_id", "")),
                )
            case ("POST", "status/whatsapp"):
                delivery = sim.send_whatsapp_status(
                    str(data["message_id"]),
                    str(data["status"]),
                    error_code=int(data["error_code"]) if data.get("error_code") else None,
                    error_title=str(data.get("error_title", "")),
                )
            case ("POST", "status/sms"):
                delivery = sim.send_sms_status(
                    str(data["message_sid"]),
                    str(data["status"]),
                    error_code=data.get("error_code"),
                    url=str(data.get("url", "")),
                    account_id=str(data.get("account_id", "")),
                )
            case _:
                return None
        return asdict(delivery)
