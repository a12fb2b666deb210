"""Provider webhooks: thin views. Each reads the raw body within its limit, verifies the
provider's signature, parses, and hands the items to connectors.inbound, which stores them once
and queues their processing. Answers: 200 accepted (a repeat too), 400 malformed (JSON
{"error": ...}), 403 bad or missing signature, 404 unknown account, 413 too large, 503 when the
account's secrets cannot be read (the provider retries); never a 500
for bad input, and nothing stored unless verified and parsed whole.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from connectors import crypto, inbound, mail, payloads, signatures
from connectors.models import ChannelAccount, ChannelKind

log = logging.getLogger(__name__)

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class Refusal(Exception):
    def __init__(self, status: int, error: str):
        super().__init__(error)
        self.status = status
        self.error = error


def _refuse(request: HttpRequest, refusal: Refusal) -> JsonResponse:
    log.warning("webhook %s refused (%s): %s", request.path, refusal.status, refusal.error)
    return JsonResponse({"error": refusal.error}, status=refusal.status)


def _refusals_answered(view):
    """A Refusal raised by the view answers its status and error; secrets no configured key
    opens answer 503, which providers retry."""

    @functools.wraps(view)
    def answering(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Refusal as refusal:
            return _refuse(request, refusal)
        except crypto.SecretsUnreadable as error:
            return _refuse(request, Refusal(503, error.detail))

    return answering


def _body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, refused past `limit` bytes (by its declared length before reading it)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared:
        try:
            if int(declared) > limit:
                raise Refusal(413, "body too large")
        except ValueError:
            raise Refusal(400, "bad Content-Length") from None
    data = request.read(limit + 1)
    if len(data) > limit:
        raise Refusal(413, "body too large")
    return data


def _active(kind: str):
    return ChannelAccount.objects.filter(kind=kind, is_active=True)


def _with_accounts(kind: str, keys: set[str], store) -> None:
    """store(accounts) with the accounts as this process remembers them (no query); once more
    with a fresh read when they fail it (an account changed, switched off, or its secrets
    rotated since: a 403, 404 or unreadable secret on remembered accounts is not trusted, and
    inbound_events_accept stores nothing for a changed account)."""
    accounts, remembered = inbound.webhook_accounts(kind, keys)
    if remembered:
        try:
            return store(accounts)
        except (inbound.AccountChanged, crypto.SecretsUnreadable):
            pass
        except Refusal as refusal:
            if refusal.status not in (403, 404):
                raise
        accounts, _ = inbound.webhook_accounts(kind, keys, fresh=True)
    try:
        return store(accounts)
    except inbound.AccountChanged:
        raise Refusal(503, "channel account changed; try again") from None


# --- WhatsApp ---------------------------------------------------------------------------------


def _whatsapp_handshake(request: HttpRequest) -> HttpResponse:
    for account in _active(ChannelKind.WHATSAPP):
        challenge = signatures.whatsapp_challenge(request.GET, account.secret("verify_token"))
        if challenge is not None:
            return HttpResponse(challenge, content_type="text/plain")
    raise Refusal(403, "verification failed")


def _whatsapp_post(request: HttpRequest) -> HttpResponse:
    body = _body(request, settings.CONNECTORS_WEBHOOK_MAX_BYTES)
    header = request.META.get(signatures.WHATSAPP_SIGNATURE_META)
    if not header:
        raise Refusal(403, "missing signature")
    try:
        batch = payloads.parse_whatsapp(body)
    except payloads.PayloadError as error:
        raise Refusal(400, error.message) from None
    keys = batch.account_keys
    if not keys:
        return HttpResponse(status=200)  # nothing to store (e.g. reactions only)

    def store(accounts: dict[str, ChannelAccount]) -> None:
        if set(accounts) != keys:
            raise Refusal(404, "unknown phone_number_id")
        for account in accounts.values():
            if not signatures.verify_whatsapp_signature(account.secret("app_secret"), body, header):
                raise Refusal(403, "bad signature")
        events = [(accounts[m.account_key], inbound.message_event(m)) for m in batch.messages]
        events += [(accounts[s.account_key], inbound.status_event(s)) for s in batch.statuses]
        inbound.inbound_events_accept(events=events)

    _with_accounts(ChannelKind.WHATSAPP, keys, store)
    return HttpResponse(status=200)


@csrf_exempt
@require_http_methods(["GET", "POST"])
@_refusals_answered
def whatsapp(request: HttpRequest) -> HttpResponse:
    """Meta's webhook: GET subscription handshake, POST signed notifications."""
    if request.method == "GET":
        return _whatsapp_handshake(request)
    return _whatsapp_post(request)


# --- Twilio -----------------------------------------------------------------------------------


@csrf_exempt
@require_POST
@_refusals_answered
def twilio(request: HttpRequest, account_id: int) -> HttpResponse:
    """Twilio messaging webhook of one SMS account: incoming messages and status callbacks."""
    body = _body(request, settings.CONNECTORS_WEBHOOK_MAX_BYTES)
    if not request.content_type.startswith("application/x-www-form-urlencoded"):
        raise Refusal(400, "expected a form body")
    try:
        params = QueryDict(body, encoding="utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "form body is not UTF-8") from None

    def store(accounts: dict[str, ChannelAccount]) -> None:
        account = accounts.get(str(account_id))
        if account is None:
            raise Refusal(404, "unknown account")
        if not signatures.verify_twilio_signature(
            account.secret("auth_token"),
            request.build_absolute_uri(),
            params,
            request.META.get(signatures.TWILIO_SIGNATURE_META),
        ):
            raise Refusal(403, "bad or missing signature")
        try:
            batch = payloads.parse_twilio(params)
        except payloads.PayloadError as error:
            raise Refusal(400, error.message) from None
        if batch.account_keys - {str(account.setting("account_sid"))}:
            raise Refusal(400, "AccountSid does not match this account")
        events = [(account, inbound.message_event(m)) for m in batch.messages]
        events += [(account, inbound.status_event(s)) for s in batch.statuses]
        inbound.inbound_events_accept(events=events)

    _with_accounts(ChannelKind.SMS, {str(account_id)}, store)
    return HttpResponse(TWIML_EMPTY, content_type="text/xml")


# --- email ------------------------------------------------------------------------------------


@csrf_exempt
@require_POST
@_refusals_answered
def email(request: HttpRequest, account_id: int) -> HttpResponse:
    """Raw MIME posted by the mail relay, authenticated by the account's shared secret."""
    read: list[bytes] = []  # the body, read once: after the secret is checked

    def store(accounts: dict[str, ChannelAccount]) -> None:
        account = accounts.get(str(account_id))
        if account is None:
            raise Refusal(404, "unknown account")
        if not signatures.verify_email_secret(
            account.secret("inbound_secret"), request.META.get(signatures.EMAIL_SECRET_META)
        ):
            raise Refusal(403, "bad or missing secret")
        if not read:
            read.append(_body(request, settings.CONNECTORS_EMAIL_MAX_BYTES))
        try:
            parsed = mail.parse(read[0])
        except mail.MailError as error:
            raise Refusal(400, str(error)) from None
        inbound.inbound_events_accept(events=[(account, inbound.email_event(parsed, read[0]))])

    _with_accounts(ChannelKind.EMAIL, {str(account_id)}, store)
    return HttpResponse(status=200)
