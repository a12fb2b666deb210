"""Provider webhook bodies <-> plain dataclasses.

Parsers turn what WhatsApp (Cloud API JSON) and Twilio (form parameters) post to us into
`InboundMessage` and `StatusUpdate` values, gathered in a `WebhookBatch`; anything malformed,
missing or of an unknown type raises `PayloadError(message)`, which the webhook answers with 400.
Builders make the very same bodies for the simulator, so the simulator and the parsers agree by
construction (tests/connectors/test_payloads.py round-trips them). No models here.

Formats, as the providers document them:
- WhatsApp: {"object": "whatsapp_business_account", "entry": [{"id": <WABA id>, "changes":
  [{"field": "messages", "value": {"messaging_product": "whatsapp", "metadata":
  {"display_phone_number", "phone_number_id"}, "contacts": [{"profile": {"name"}, "wa_id"}],
  "messages": [{"from", "id", "timestamp", "type", <type>: {...}}], "statuses": [{"id",
  "status", "timestamp", "recipient_id", "errors": [{"code", "title", "message",
  "error_data": {"details"}}]}]}}]}]}
- Twilio incoming message: MessageSid, AccountSid, From, To, Body, NumMedia, MediaUrl<N>,
  MediaContentType<N> (and SmsStatus=received); status callback: MessageSid, AccountSid,
  MessageStatus (queued|sending|sent|delivered|undelivered|failed|read|...), ErrorCode.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from django.utils.translation import gettext as _

WHATSAPP = "whatsapp"
TWILIO = "twilio"

# The four states a delivery moves through, named like comms.Message.status.
SENT, DELIVERED, READ, FAILED = "sent", "delivered", "read", "failed"
STATUSES = (SENT, DELIVERED, READ, FAILED)

WHATSAPP_MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
# Acknowledged but not stored: they carry no message for the conversation.
WHATSAPP_IGNORED_TYPES = ("reaction", "system", "request_welcome", "ephemeral")
WHATSAPP_IGNORED_STATUSES = ("deleted", "warning", "played")

TWILIO_STATUS_MAP = {
    "sent": SENT,
    "delivered": DELIVERED,
    "read": READ,
    "failed": FAILED,
    "undelivered": FAILED,
    "canceled": FAILED,
}
TWILIO_PENDING_STATUSES = ("accepted", "scheduled", "queued", "sending")
TWILIO_INBOUND_STATUSES = ("received", "receiving")


class PayloadError(ValueError):
    """A webhook body we cannot accept; `message` says why (logged, returned with a 400)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _fields(item) -> dict[str, Any]:
    """A flat dataclass's fields as a dict (dataclasses.asdict deep-copies every value: a third
    of a millisecond per webhook)."""
    return {f.name: getattr(item, f.name) for f in fields(item)}


@dataclass(frozen=True)
class Media:
    """One attachment as announced by the provider: WhatsApp gives an id to fetch through the
    API, Twilio a URL. `sha256` is the provider's own value when it gives one (WhatsApp:
    base64); the stored attachment's SHA-256 is computed from the fetched bytes."""

    mime_type: str
    media_id: str = ""
    url: str = ""
    filename: str = ""
    sha256: str = ""
    caption: str = ""
    voice: bool = False


@dataclass(frozen=True)
class InboundMessage:
    provider: str  # WHATSAPP | TWILIO
    provider_id: str  # wamid... / SM...
    account_key: str  # WhatsApp phone_number_id / Twilio AccountSid: finds the ChannelAccount
    from_address: str  # E.164, "+16505551234"
    to: str  # the business number, E.164 when the provider gives it
    timestamp: datetime
    type: str  # "text", "image", "document", "audio", "video", "sticker", "media", ...
    text: str = ""
    media: tuple[Media, ...] = ()
    contact_name: str = ""
    reply_to: str = ""  # provider id of the message this one answers, when given

    def as_json(self) -> dict[str, Any]:
        data = _fields(self)
        data["timestamp"] = self.timestamp.isoformat()
        data["media"] = [_fields(m) for m in self.media]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InboundMessage:
        values = dict(data)
        values["timestamp"] = datetime.fromisoformat(values["timestamp"])
        values["media"] = tuple(Media(**m) for m in values.get("media", ()))
        return cls(**values)


@dataclass(frozen=True)
class StatusUpdate:
    provider: str
    provider_id: str  # the id our send returned (wamid... / SM...)
    account_key: str
    status: str  # SENT | DELIVERED | READ | FAILED
    timestamp: datetime
    recipient: str = ""
    error: str = ""  # the provider's reason, shown on the message when it failed
    error_code: str = ""

    def as_json(self) -> dict[str, Any]:
        data = _fields(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatusUpdate:
        values = dict(data)
        values["timestamp"] = datetime.fromisoformat(values["timestamp"])
        return cls(**values)


@dataclass(frozen=True)
class WebhookBatch:
    """Everything one webhook request carried. `skipped`: ids of events acknowledged but not
    stored (reactions, pending Twilio states...)."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    skipped: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def account_keys(self) -> set[str]:
        return {m.account_key for m in self.messages} | {s.account_key for s in self.statuses}


# --- helpers ----------------------------------------------------------------------------------


def _require(container: Mapping[str, Any], key: str, where: str) -> Any:
    value = container.get(key)
    if value is None or value == "":
        raise PayloadError(f"{where}: missing {key!r}")
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where}: expected an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where}: expected a list")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str | int):
        raise PayloadError(f"{where}: expected a string")
    return str(value)


def _timestamp(value: Any, where: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise PayloadError(f"{where}: bad timestamp {value!r}") from None


def _e164(number: Any, where: str) -> str:
    """WhatsApp writes numbers as digits without "+"; Twilio already sends E.164."""
    text = _text(number, where).strip()
    digits = text[1:] if text.startswith("+") else text
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise PayloadError(f"{where}: not a phone number {text!r}")
    return "+" + digits


def _now() -> datetime:
    return datetime.now(tz=UTC)


def new_whatsapp_id() -> str:
    """A message id shaped like WhatsApp's ("wamid." + base64)."""
    return "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()


def new_twilio_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def new_media_id() -> str:
    return str(secrets.randbelow(10**16) + 10**15)


def encode_json(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes a builder's payload is posted (and signed) as."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# --- WhatsApp: parse --------------------------------------------------------------------------


def _load_json(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"malformed JSON: {error}") from None
    return _object(data, "body")


def _whatsapp_media(message: Mapping[str, Any], kind: str, where: str) -> Media:
    item = _object(_require(message, kind, where), f"{where}.{kind}")
    return Media(
        mime_type=_text(_require(item, "mime_type", f"{where}.{kind}"), f"{where}.mime_type"),
        media_id=_text(_require(item, "id", f"{where}.{kind}"), f"{where}.id"),
        filename=_text(item.get("filename") or "", f"{where}.filename"),
        sha256=_text(item.get("sha256") or "", f"{where}.sha256"),
        caption=_text(item.get("caption") or "", f"{where}.caption"),
        voice=bool(item.get("voice", False)),
    )


def _whatsapp_text(message: Mapping[str, Any], kind: str, where: str) -> str:
    """The text of a non-media message type; an unknown type is a PayloadError."""
    body = _object(_require(message, kind, where), f"{where}.{kind}")
    if kind == "text":
        return _text(_require(body, "body", f"{where}.text"), f"{where}.text.body")
    if kind == "button":  # a quick-reply button of a template
        return _text(_require(body, "text", f"{where}.button"), f"{where}.button.text")
    if kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or body.get("nfm_reply")
        reply = _object(reply, f"{where}.interactive")
        return _text(reply.get("title") or reply.get("body") or "", f"{where}.interactive")
    if kind == "location":
        latitude = _require(body, "latitude", f"{where}.location")
        longitude = _require(body, "longitude", f"{where}.location")
        label = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
        where_text = f"{latitude},{longitude}"
        return _("Location: %(place)s") % {
            "place": f"{label} ({where_text})" if label else where_text
        }
    raise PayloadError(f"{where}: unknown message type {kind!r}")


def _whatsapp_contacts_text(message: Mapping[str, Any], where: str) -> str:
    cards = []
    for card in _list(message.get("contacts"), f"{where}.contacts"):
        card = _object(card, f"{where}.contacts[]")
        name = _object(card.get("name") or {}, f"{where}.contacts[].name")
        phones = [
            _object(p, f"{where}.contacts[].phones[]").get("phone", "")
            for p in _list(card.get("phones"), f"{where}.contacts[].phones")
        ]
        cards.append(" ".join([str(name.get("formatted_name", "")), *map(str, phones)]).strip())
    return _("Shared contact: %(cards)s") % {"cards": "; ".join(cards)}


def _whatsapp_message(
    message: Any, where: str, *, account_key: str, to: str, names: Mapping[str, str]
) -> InboundMessage | None:
    message = _object(message, where)
    provider_id = _text(_require(message, "id", where), f"{where}.id")
    kind = _text(_require(message, "type", where), f"{where}.type")
    if kind in WHATSAPP_IGNORED_TYPES:
        return None
    sender = _text(_require(message, "from", where), f"{where}.from")
    media: tuple[Media, ...] = ()
    if kind in WHATSAPP_MEDIA_TYPES:
        item = _whatsapp_media(message, kind, where)
        media, text = (item,), item.caption
    elif kind == "contacts":
        text = _whatsapp_contacts_text(message, where)
    elif kind == "unsupported":
        text = _("[A message type Keepline cannot show was received.]")
    else:
        text = _whatsapp_text(message, kind, where)
    context = message.get("context")
    reply_to = _object(context, f"{where}.context").get("id", "") if context else ""
    return InboundMessage(
        provider=WHATSAPP,
        provider_id=provider_id,
        account_key=account_key,
        from_address=_e164(sender, f"{where}.from"),
        to=to,
        timestamp=_timestamp(_require(message, "timestamp", where), f"{where}.timestamp"),
        type=kind,
        text=text,
        media=media,
        contact_name=names.get(sender, ""),
        reply_to=str(reply_to),
    )


def _whatsapp_error_text(errors: list[Any], where: str) -> tuple[str, str]:
    if not errors:
        return "", ""
    first = _object(errors[0], f"{where}.errors[0]")
    code = str(first.get("code", ""))
    title = str(first.get("title") or first.get("message") or "")
    details = _object(first.get("error_data") or {}, f"{where}.error_data").get("details", "")
    text = title if not details or details == title else f"{title}: {details}"
    return text or _("Error %(code)s") % {"code": code}, code


def _whatsapp_status(
    status: Any, where: str, *, account_key: str
) -> StatusUpdate | tuple[None, str]:
    status = _object(status, where)
    provider_id = _text(_require(status, "id", where), f"{where}.id")
    state = _text(_require(status, "status", where), f"{where}.status")
    if state in WHATSAPP_IGNORED_STATUSES:
        return None, provider_id
    if state not in STATUSES:
        raise PayloadError(f"{where}: unknown status {state!r}")
    error, code = "", ""
    if state == FAILED:
        error, code = _whatsapp_error_text(_list(status.get("errors"), f"{where}.errors"), where)
        error = error or _("The provider reported a failure without a reason.")
    recipient = status.get("recipient_id")
    return StatusUpdate(
        provider=WHATSAPP,
        provider_id=provider_id,
        account_key=account_key,
        status=state,
        timestamp=_timestamp(_require(status, "timestamp", where), f"{where}.timestamp"),
        recipient=_e164(recipient, f"{where}.recipient_id") if recipient else "",
        error=error,
        error_code=code,
    )


def parse_whatsapp(body: bytes | str | Mapping[str, Any]) -> WebhookBatch:
    """Parse a WhatsApp Cloud API webhook POST body (the raw bytes, after the signature check)."""
    data = _load_json(body)
    if data.get("object") != "whatsapp_business_account":
        raise PayloadError(f"body: 'object' is {data.get('object')!r}, not a WhatsApp webhook")
    entries = _list(_require(data, "entry", "body"), "entry")
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    skipped: list[str] = []
    for e, entry in enumerate(entries):
        entry = _object(entry, f"entry[{e}]")
        for c, change in enumerate(_list(entry.get("changes"), f"entry[{e}].changes")):
            where = f"entry[{e}].changes[{c}]"
            change = _object(change, where)
            if change.get("field", "messages") != "messages":
                continue  # account or template updates: not ours to store
            value = _object(_require(change, "value", where), f"{where}.value")
            raw_messages = _list(value.get("messages"), f"{where}.value.messages")
            raw_statuses = _list(value.get("statuses"), f"{where}.value.statuses")
            if not raw_messages and not raw_statuses:
                continue
            metadata = _object(_require(value, "metadata", f"{where}.value"), f"{where}.metadata")
            account_key = _text(
                _require(metadata, "phone_number_id", f"{where}.value.metadata"),
                f"{where}.metadata.phone_number_id",
            )
            display = metadata.get("display_phone_number")
            to = _e164(display, f"{where}.metadata.display_phone_number") if display else ""
            names = {}
            for contact in _list(value.get("contacts"), f"{where}.value.contacts"):
                contact = _object(contact, f"{where}.value.contacts[]")
                profile = _object(contact.get("profile") or {}, f"{where}.contacts[].profile")
                if contact.get("wa_id"):
                    names[str(contact["wa_id"])] = str(profile.get("name") or "")
            for m, message in enumerate(raw_messages):
                mwhere = f"{where}.value.messages[{m}]"
                parsed = _whatsapp_message(
                    message, mwhere, account_key=account_key, to=to, names=names
                )
                if parsed is None:
                    skipped.append(str(_object(message, mwhere).get("id", "")))
                else:
                    messages.append(parsed)
            for s, status in enumerate(raw_statuses):
                parsed_status = _whatsapp_status(
                    status, f"{where}.value.statuses[{s}]", account_key=account_key
                )
                if isinstance(parsed_status, tuple):
                    skipped.append(parsed_status[1])
                else:
                    statuses.append(parsed_status)
    return WebhookBatch(tuple(messages), tuple(statuses), tuple(skipped), raw=data)


# --- WhatsApp: build --------------------------------------------------------------------------


def _whatsapp_envelope(
    *, phone_number_id: str, display_phone_number: str, waba_id: str, value: dict[str, Any]
) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": display_phone_number.lstrip("+"),
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def build_whatsapp_message(
    *,
    phone_number_id: str,
    display_phone_number: str,
    from_number: str,
    text: str = "",
    media: Media | None = None,
    contact_name: str = "",
    message_id: str | None = None,
    timestamp: datetime | None = None,
    waba_id: str = "0",
    reply_to: str = "",
) -> dict[str, Any]:
    """A customer's WhatsApp message as Meta posts it: text, or one media item (its caption is
    `text` for image/video/document) of type image|video|audio|document|sticker."""
    wa_id = from_number.lstrip("+")
    message: dict[str, Any] = {
        "from": wa_id,
        "id": message_id or new_whatsapp_id(),
        "timestamp": str(int((timestamp or _now()).timestamp())),
    }
    if reply_to:
        message["context"] = {"from": display_phone_number.lstrip("+"), "id": reply_to}
    if media is None:
        message.update(type="text", text={"body": text})
    else:
        kind = media.mime_type.split("/")[0]
        kind = {"application": "document", "text": "document"}.get(kind, kind)
        kind = kind if kind in WHATSAPP_MEDIA_TYPES else "document"
        item: dict[str, Any] = {
            "mime_type": media.mime_type,
            "sha256": media.sha256,
            "id": media.media_id,
        }
        if kind == "document" and media.filename:
            item["filename"] = media.filename
        if kind == "audio":
            item["voice"] = media.voice
        if text and kind in ("image", "video", "document"):
            item["caption"] = text
        message.update(type=kind, **{kind: item})
    return _whatsapp_envelope(
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
        waba_id=waba_id,
        value={
            "contacts": [{"profile": {"name": contact_name}, "wa_id": wa_id}],
            "messages": [message],
        },
    )


def build_whatsapp_status(
    *,
    phone_number_id: str,
    display_phone_number: str,
    message_id: str,
    status: str,
    recipient: str,
    error_code: int | None = None,
    error_title: str = "",
    error_details: str = "",
    timestamp: datetime | None = None,
    waba_id: str = "0",
) -> dict[str, Any]:
    """A status webhook for a message we sent (sent|delivered|read|failed)."""
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(int((timestamp or _now()).timestamp())),
        "recipient_id": recipient.lstrip("+"),
    }
    if status == FAILED:
        item["errors"] = [
            {
                "code": error_code or 131026,
                "title": error_title or "Message undeliverable",
                "message": error_title or "Message undeliverable",
                "error_data": {"details": error_details or error_title or "Undeliverable"},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
    return _whatsapp_envelope(
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
        waba_id=waba_id,
        value={"statuses": [item]},
    )


def media_sha256_b64(content: bytes) -> str:
    """WhatsApp's webhook form of a media hash (base64 of the SHA-256 digest)."""
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


# --- Twilio: parse ----------------------------------------------------------------------------


def _form_get(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    if isinstance(value, list | tuple):  # a dict of lists, e.g. from urllib.parse.parse_qs
        value = value[-1] if value else None
    return "" if value is None else str(value)


def parse_twilio(params: Mapping[str, Any]) -> WebhookBatch:
    """Parse a Twilio messaging webhook (form parameters: a QueryDict or a plain dict), either
    an incoming message or a status callback."""
    where = "form"
    sid = _form_get(params, "MessageSid") or _form_get(params, "SmsSid")
    if not sid:
        raise PayloadError(f"{where}: missing 'MessageSid'")
    account = _form_get(params, "AccountSid")
    if not account:
        raise PayloadError(f"{where}: missing 'AccountSid'")
    state = _form_get(params, "MessageStatus") or _form_get(params, "SmsStatus")
    raw = {key: _form_get(params, key) for key in params}
    if state in TWILIO_PENDING_STATUSES:
        return WebhookBatch(skipped=(sid,), raw=raw)
    if state and state not in TWILIO_INBOUND_STATUSES:
        return WebhookBatch(statuses=(_twilio_status(params, sid, account, state),), raw=raw)
    for key in ("From", "To"):
        if not _form_get(params, key):
            raise PayloadError(f"{where}: missing {key!r}")
    count_text = _form_get(params, "NumMedia") or "0"
    if not (count_text.isascii() and count_text.isdigit()) or int(count_text) > 10:
        raise PayloadError(f"{where}: bad 'NumMedia' {count_text!r}")
    media = []
    for index in range(int(count_text)):
        url = _form_get(params, f"MediaUrl{index}")
        mime_type = _form_get(params, f"MediaContentType{index}")
        if not url or not mime_type:
            raise PayloadError(f"{where}: missing 'MediaUrl{index}' or 'MediaContentType{index}'")
        media.append(Media(mime_type=mime_type, url=url))
    message = InboundMessage(
        provider=TWILIO,
        provider_id=sid,
        account_key=account,
        from_address=_e164(_form_get(params, "From"), f"{where}.From"),
        to=_form_get(params, "To"),
        timestamp=_now(),
        type="media" if media else "text",
        text=_form_get(params, "Body"),
        media=tuple(media),
        contact_name=_form_get(params, "ProfileName"),
    )
    return WebhookBatch(messages=(message,), raw=raw)


def _twilio_status(params: Mapping[str, Any], sid: str, account: str, state: str) -> StatusUpdate:
    if state not in TWILIO_STATUS_MAP:
        raise PayloadError(f"form: unknown 'MessageStatus' {state!r}")
    status = TWILIO_STATUS_MAP[state]
    code = _form_get(params, "ErrorCode")
    error = ""
    if status == FAILED:
        detail = _form_get(params, "ErrorMessage")
        if code:
            error = _("Twilio error %(code)s") % {"code": code}
            error = f"{error}: {detail}" if detail else error
        else:
            error = detail or _("The message was %(state)s.") % {"state": state}
    recipient = _form_get(params, "To")
    return StatusUpdate(
        provider=TWILIO,
        provider_id=sid,
        account_key=account,
        status=status,
        timestamp=_now(),
        recipient=recipient,
        error=error,
        error_code=code,
    )


# --- Twilio: build ----------------------------------------------------------------------------


def build_twilio_message(
    *,
    account_sid: str,
    from_number: str,
    to_number: str,
    body: str = "",
    media: Iterable[tuple[str, str]] = (),
    message_sid: str | None = None,
) -> dict[str, str]:
    """An incoming SMS/MMS as Twilio posts it; `media` is (url, content type) pairs."""
    sid = message_sid or new_twilio_sid("MM" if media else "SM")
    media = list(media)
    params = {
        "ToCountry": "US",
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": to_number,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_number,
        "ApiVersion": "2010-04-01",
    }
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    return params


def build_twilio_status(
    *,
    account_sid: str,
    message_sid: str,
    status: str,
    from_number: str,
    to_number: str,
    error_code: str | int | None = None,
) -> dict[str, str]:
    """A status callback for a message we sent (Twilio's MessageStatus vocabulary)."""
    params = {
        "SmsSid": message_sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": to_number,
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": from_number,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = str(error_code)
    return params


# --- Email: build (parsing raw MIME is connectors.mail's) --------------------------------------


def build_email(
    *,
    from_address: str,
    to_address: str,
    subject: str,
    text: str,
    html: str = "",
    message_id: str | None = None,
    in_reply_to: str = "",
    references: Iterable[str] = (),
    attachments: Iterable[tuple[str, str, bytes]] = (),
    date: datetime | None = None,
) -> bytes:
    """A customer's email as raw MIME bytes; `attachments` are (filename, mime type, bytes)."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = to_address
    message["Subject"] = subject
    message["Date"] = format_datetime(date or _now())
    message["Message-ID"] = message_id or make_msgid(domain="customer.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    references = list(references)
    if references:
        message["References"] = " ".join(references)
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for filename, mime_type, content in attachments:
        maintype, _sep, subtype = mime_type.partition("/")
        message.add_attachment(
            content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename
        )
    return message.as_bytes()
