"""Email as plain data: raw MIME in, a ParsedEmail out; a reply out as a Django EmailMessage.

No models here: the inbound task stores what `parse` returns, the outbound task sends what
`build_reply` returns. Message-IDs are kept in one normal form, "<left@right>", so the caller
matches a reply to its conversation with a plain equality on the stored id (`thread_keys`).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import html as html_lib
import mimetypes
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

import nh3
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.utils.translation import gettext as _


class MailError(ValueError):
    """Input that is not a usable email (the endpoint answers 400 with `str(error)`)."""


@dataclass(frozen=True)
class Address:
    email: str  # lower-cased, validated
    name: str = ""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes = field(repr=False)
    sha256: str
    content_id: str = ""  # "<...>" as referenced by cid: in the HTML body, "" when none
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class ParsedEmail:
    from_address: str
    from_name: str
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    subject: str
    date: datetime | None  # timezone-aware; None when absent or unreadable
    # "<left@right>". A message without one gets "<sha256-of-raw@message-id.invalid>", so the
    # same raw message delivered twice has the same id (idempotent inbound).
    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]  # oldest first, as in the header
    text: str  # the full text body (text/plain, else text taken from the HTML)
    html: str  # sanitised HTML body, "" when the message has none
    attachments: tuple[Attachment, ...]
    # Auto-Submitted / Precedence: bulk|junk|list / X-Autoreply: never answer these (mail loops).
    auto_submitted: bool = False


# --- addresses and ids ----------------------------------------------------------------------

_MSGID_RE = re.compile(r"<([^<>\s]+)>")
MAX_MESSAGE_ID_LENGTH = 200  # comms.Message.external_id holds it
MAX_THREAD_KEYS = 50


def normalise_message_id(value: str) -> str:
    """One id as "<left@right>" ("" when there is none); tolerant of missing brackets."""
    ids = message_ids(value)
    return ids[0] if ids else ""


def message_ids(value: str | None) -> list[str]:
    """Every Message-ID in a header value (In-Reply-To, References), in order, each "<...>"."""
    if not value:
        return []
    value = str(value)
    found = _MSGID_RE.findall(value)
    if not found:
        # Some clients drop the brackets: "abc@example.com" or "abc@x def@y".
        found = [tok.strip("<>,;") for tok in value.split() if "@" in tok]
    out: list[str] = []
    for item in found:
        item = item.strip()
        if not item:
            continue
        mid = f"<{item}>"
        if len(mid) > MAX_MESSAGE_ID_LENGTH:
            # Fits the stored column, and the same long id always maps to the same short one.
            mid = f"<{hashlib.sha256(item.encode()).hexdigest()[:40]}@long-id.invalid>"
        if mid not in out:
            out.append(mid)
    return out


def _clean_header_text(value: object) -> str:
    # A decoded RFC 2047 word may carry CR/LF or tabs: never let them reach a header again.
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _valid_address(addr: str) -> str | None:
    addr = addr.strip().lower()
    if not addr:
        return None
    try:
        validate_email(addr)
    except ValidationError:
        return None
    return addr


def _addresses(msg: Message, name: str) -> tuple[Address, ...]:
    out: list[Address] = []
    try:
        pairs = [
            (a.display_name, f"{a.username}@{a.domain}" if a.domain else a.username)
            for v in msg.get_all(name) or []
            for a in getattr(v, "addresses", ())
        ]
    except Exception:
        # The stdlib's strict parser gives up on some malformed headers (it raises from deep
        # inside); read the raw value with the lenient one instead.
        raw = [str(v) for k, v in msg.raw_items() if k.lower() == name.lower()]
        pairs = getaddresses(raw)
    for display, addr in pairs:
        valid = _valid_address(addr)
        if valid and all(a.email != valid for a in out):
            out.append(Address(valid, _clean_header_text(display)))
    return tuple(out)


def new_message_id(domain: str) -> str:
    """A fresh, unguessable "<...@domain>" for an outbound message."""
    domain = (domain or "").strip().lower().rsplit("@", 1)[-1]
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain):
        raise MailError(_("Invalid domain for a Message-ID."))
    stamp = format(time.time_ns() // 1_000_000, "x")
    return f"<{stamp}.{secrets.token_hex(12)}@{domain}>"


def thread_keys(parsed: ParsedEmail) -> list[str]:
    """Message-IDs this email answers, most specific first: In-Reply-To, then References newest
    first (at most MAX_THREAD_KEYS). The caller takes the first one that matches a stored
    message's id."""
    keys: list[str] = []
    for key in [*parsed.in_reply_to, *reversed(parsed.references)]:
        if key not in keys:
            keys.append(key)
    return keys[:MAX_THREAD_KEYS]


# --- charsets and bodies -------------------------------------------------------------------

# As browsers do (WHATWG Encoding): a message labelled Latin-1 or ASCII is read as
# windows-1252, a superset that gives the 0x80-0x9F bytes (curly quotes, euro sign) meaning.
_CP1252_ALIASES = {"iso-8859-1", "latin-1", "latin1", "iso8859-1", "us-ascii", "ascii", "l1"}


def _decode_bytes(data: bytes, charset: str | None) -> str:
    charset = (charset or "").strip().strip('"').lower()
    if charset in _CP1252_ALIASES:
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            # Mislabelled UTF-8 is far more common than real Latin-1 with invalid UTF-8.
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                return data.decode("cp1252", errors="replace")
    if charset:
        try:
            return data.decode(charset)
        except LookupError:
            pass  # unknown charset name: guess below
        except UnicodeDecodeError:
            return data.decode(charset, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)  # undoes quoted-printable and base64
    if payload is None:
        payload = b""
    if isinstance(payload, str):  # pragma: no cover - defensive: decode=True returns bytes
        return payload
    return _decode_bytes(payload, part.get_content_charset()).replace("\r\n", "\n")


def _words(text: str) -> list[str]:
    return text.split()


class _HtmlToText(HTMLParser):
    """Readable text from an HTML body: blocks become lines, blockquotes become "> " lines
    (so `visible_reply` can strip them), scripts, styles and the head are dropped."""

    BLOCKS = frozenset(
        _words(
            "p div br tr li h1 h2 h3 h4 h5 h6 table ul ol pre hr blockquote section article "
            "header footer address dl dt dd"
        )
    )
    SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip = 0
        self.quote = 0

    def _flush(self) -> None:
        line = re.sub(r"[ \t\r\n\f\u00a0]+", " ", "".join(self.current)).strip()
        prefix = "> " * self.quote
        self.lines.append(f"{prefix}{line}".rstrip() if line else prefix.rstrip())
        self.current = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCKS:
            self._flush()
            if tag == "blockquote":
                self.quote += 1
        elif tag == "td" and self.current:
            self.current.append(" ")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in ("br", "hr"):
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self._flush()
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.current.append(data)

    def text(self) -> str:
        self._flush()
        out: list[str] = []
        for line in self.lines:
            if line.strip("> ") or (out and out[-1].strip("> ")):
                out.append(line)  # keep single blank lines, squeeze runs of them
        return "\n".join(out).strip()


def html_to_text(html: str) -> str:
    parser = _HtmlToText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; this is a last resort
        return html_lib.unescape(re.sub(r"<[^>]*>", " ", html)).strip()
    return parser.text()


ALLOWED_TAGS = frozenset(
    _words(
        "a abbr b blockquote br caption center code col colgroup dd div dl dt em font h1 "
        "h2 h3 h4 h5 h6 hr i img li ol p pre q s small span strike strong sub sup table "
        "tbody td tfoot th thead tr tt u ul"
    )
)
ALLOWED_ATTRIBUTES = {
    "*": {"align", "dir", "lang", "title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "td": {"colspan", "rowspan", "valign", "width"},
    "th": {"colspan", "rowspan", "valign", "width"},
    "table": {"border", "cellpadding", "cellspacing", "width"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "cid"})
_IMG_WITHOUT_SRC = re.compile(r"<img\b(?![^>]*\ssrc=)[^>]*>", re.I)


def sanitize_html(html: str, *, allow_remote_images: bool = False) -> str:
    """HTML safe to show inside the page: no scripts, styles, event handlers, forms or frames;
    links open in a new tab without a referrer; images only from the message itself (cid:)
    unless `allow_remote_images` (remote images track the reader)."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            scheme = value.strip().split(":", 1)[0].lower()
            if scheme == "cid" or (allow_remote_images and scheme == "https"):
                return value
            return None
        if tag == "a" and attribute == "href" and value.strip().lower().startswith("cid:"):
            return None
        return value

    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style", "title", "head", "template", "noscript"},
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=keep,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    # An image whose source was refused is an empty box (or a 1x1 tracker): drop it whole.
    return _IMG_WITHOUT_SRC.sub("", cleaned).strip()


# --- the MIME tree ---------------------------------------------------------------------------

_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def _safe_filename(name: str | None, content_type: str, index: int) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME.sub("_", name).strip(" .")
    if not name:
        ext = mimetypes.guess_extension(content_type) or ".bin"
        if content_type == "message/rfc822":
            ext = ".eml"
        name = f"attachment-{index}{ext}"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext[:9]) if dot and len(ext) < 10 else name[:200]
    return name


@dataclass
class _Collected:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


def _is_attachment(part: Message) -> bool:
    if part.get_content_type() not in ("text/plain", "text/html"):
        return True
    return part.get_content_disposition() == "attachment" or bool(part.get_filename())


def _attachment(part: Message, index: int) -> Attachment:
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        content = inner.as_bytes() if isinstance(inner, Message) else b""
    else:
        content = part.get_payload(decode=True) or b""
    try:
        filename = part.get_filename()
    except Exception:  # a broken RFC 2231 parameter: name it ourselves
        filename = None
    content_id = _header(part, "Content-ID")
    return Attachment(
        filename=_safe_filename(filename, ctype, index),
        content_type=ctype,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        content_id=normalise_message_id(content_id),
        inline=part.get_content_disposition() == "inline" or bool(content_id),
    )


def _collect(part: Message, out: _Collected) -> None:
    ctype = part.get_content_type()
    if part.is_multipart() and ctype != "message/rfc822":
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if part.get_content_subtype() != "alternative":
            for child in children:
                _collect(child, out)
            return
        # Alternatives: the richest (last) one that has each kind of body wins; attachments
        # come from the chosen ones only (they repeat the same images otherwise).
        options = []
        for child in children:
            sub = _Collected()
            _collect(child, sub)
            options.append(sub)
        best_plain = next((o for o in reversed(options) if o.plain), None)
        best_html = next((o for o in reversed(options) if o.html), None)
        if best_plain:
            out.plain.extend(best_plain.plain)
        if best_html:
            out.html.extend(best_html.html)
        seen: set[int] = set()
        for chosen in (best_html, best_plain):
            if chosen and id(chosen) not in seen:
                seen.add(id(chosen))
                out.attachments.extend(chosen.attachments)
        return
    if _is_attachment(part):
        out.attachments.append(_attachment(part, len(out.attachments) + 1))
    elif ctype == "text/html":
        out.html.append(_part_text(part))
    else:
        out.plain.append(_part_text(part))


def _is_auto_submitted(msg: Message) -> bool:
    auto = _header(msg, "Auto-Submitted").strip().lower()
    precedence = _header(msg, "Precedence").strip().lower()
    return (
        (auto not in ("", "no"))
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or "X-Autoreply" in msg
        or "X-Autorespond" in msg
    )


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # an undecodable header reads as absent
        return ""
    return "" if value is None else str(value)


def _date(msg: Message) -> datetime | None:
    raw = _header(msg, "Date")
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse(raw: bytes) -> ParsedEmail:
    """Parse one raw RFC 5322 / MIME message. Raises MailError when it is not a usable email:
    empty, not bytes, no header block, or no valid From address."""
    if isinstance(raw, memoryview | bytearray):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise MailError(_("The email must be raw bytes."))
    if not raw.strip():
        raise MailError(_("The email is empty."))
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the stdlib parser is lenient; belt and braces
        raise MailError(_("The email could not be read.")) from exc
    if not msg.keys():
        raise MailError(_("The email has no headers."))

    try:
        senders = _addresses(msg, "From")
    except Exception:
        senders = ()
    if not senders:
        raise MailError(_("The email has no valid From address."))
    sender = senders[0]

    collected = _Collected()
    try:
        _collect(msg, collected)
    except Exception as exc:  # a MIME tree the stdlib cannot walk
        raise MailError(_("The email body could not be read.")) from exc

    html_raw = "\n".join(h for h in collected.html if h.strip())
    text = "\n\n".join(p.strip("\n") for p in collected.plain if p.strip()).strip()
    if not text and html_raw:
        text = html_to_text(html_raw)

    message_id = normalise_message_id(_header(msg, "Message-ID"))
    if not message_id:
        message_id = f"<{hashlib.sha256(raw).hexdigest()[:40]}@message-id.invalid>"

    return ParsedEmail(
        from_address=sender.email,
        from_name=sender.name,
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        reply_to=_addresses(msg, "Reply-To"),
        subject=_clean_header_text(_header(msg, "Subject")),
        date=_date(msg),
        message_id=message_id,
        in_reply_to=tuple(message_ids(_header(msg, "In-Reply-To"))),
        references=tuple(message_ids(_header(msg, "References"))),
        text=text,
        html=sanitize_html(html_raw) if html_raw.strip() else "",
        attachments=tuple(collected.attachments),
        auto_submitted=_is_auto_submitted(msg),
    )


# --- the visible part of a reply ----------------------------------------------------------

_ATTRIBUTION = [
    re.compile(r"^on\b.{4,300}\bwrote\s?:$", re.I),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^el\b.{4,300}\bescribi[óo]\s?:$", re.I),  # Spanish Gmail / Outlook
    re.compile(r"^em\b.{4,300}\bescreveu\s?:$", re.I),  # Portuguese Gmail
    re.compile(r"^le\b.{4,300}\ba [ée]crit\s?:$", re.I),  # French
    re.compile(r"^am\b.{4,300}\bschrieb\b.{0,200}:$", re.I),  # German
    # "Jane Doe <jane@example.com> wrote:" with no date (some webmails, mailing lists)
    re.compile(r"^.{0,200}<?[^\s<>@]+@[^\s<>@]+>?\s+(wrote|escribi[óo]|escreveu)\s?:$", re.I),
]
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|mensaje original|mensagem original|"
    r"urspr[üu]ngliche nachricht|message d'origine|forwarded by .*)\s*-{2,}\s*$",
    re.I,
)
_HEADER_FROM = re.compile(r"^\s*\*?(from|de|von|da)\s*:\*?\s*\S", re.I)
_HEADER_OTHER = re.compile(
    r"^\s*\*?(sent|date|to|cc|subject|enviado|enviada|fecha|data|para|asunto|assunto|"
    r"gesendet|datum|an|betreff|envoy[ée]|objet|[àa])\s*:",
    re.I,
)
_SIGNATURE_DELIMITER = re.compile(r"^-- ?$")
_MOBILE_SIGNATURE = re.compile(
    r"^(sent from my .{1,60}|sent from (outlook|mail|yahoo mail) for .{1,60}|sent from .{1,30} "
    r"mail|get outlook for .{1,40}|enviado desde mi .{1,60}|enviado desde .{1,30} para .{1,40}|"
    r"enviado do meu .{1,60}|enviado de meu .{1,60}|enviado do .{1,30} para .{1,40}|"
    r"envoy[ée] de mon .{1,60}|von meinem .{1,60} gesendet)\.?$",
    re.I,
)
_RULE = re.compile(r"^\s*[_\-=*]{8,}\s*$")


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _attribution_at(lines: list[str], i: int) -> int:
    """How many lines the reply attribution starting at line i spans (0: none). Gmail wraps a
    long "On ..., Name <address> wrote:" over two or three lines."""
    if not lines[i].strip() or _quoted(lines[i]):
        return 0
    joined = ""
    for span in range(1, 4):
        if i + span > len(lines) or not lines[i + span - 1].strip():
            return 0
        joined = f"{joined} {lines[i + span - 1].strip()}".strip()
        if any(p.match(joined) for p in _ATTRIBUTION):
            return span
    return 0


def _header_block_at(lines: list[str], i: int) -> bool:
    """An Outlook-style "From: ... / Sent: ... / To: ... / Subject: ..." block starts here."""
    if not _HEADER_FROM.match(lines[i]):
        return False
    keys = 0
    for line in lines[i + 1 : i + 7]:
        if not line.strip():
            break
        if _HEADER_OTHER.match(line):
            keys += 1
    return keys >= 2


def _interleaved(tail: list[str]) -> bool:
    """A reply written between the quoted lines (answers follow quotes), not above them."""
    seen_quote = False
    for i, line in enumerate(tail):
        if _SIGNATURE_DELIMITER.match(line):
            return False
        if _quoted(line):
            seen_quote = True
        elif line.strip() and seen_quote and not _MOBILE_SIGNATURE.match(line.strip()):
            return any(_quoted(rest) for rest in tail[i + 1 :])
    return False


def _cut_quoted_history(lines: list[str]) -> list[str]:
    for i in range(len(lines)):
        span = _attribution_at(lines, i)
        if span:
            if _interleaved(lines[i + span :]):
                return lines
            return lines[:i]
        if _SEPARATOR.match(lines[i]) or _header_block_at(lines, i):
            return lines[:i]
    return lines


def _cut_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if i and _SIGNATURE_DELIMITER.match(line):
            return lines[:i]
    content = [i for i, line in enumerate(lines) if line.strip()]
    for i in content[-3:]:
        if _MOBILE_SIGNATURE.match(lines[i].strip()):
            return lines[:i]
    return lines


def _trim(lines: list[str]) -> list[str]:
    """Drop leading and trailing quoted blocks, rules and blank lines (bottom-posting, quotes
    left under the reply); quotes between two pieces of the reply stay as context."""
    start, end = 0, len(lines)
    while start < end and (_quoted(lines[start]) or not lines[start].strip()):
        start += 1
    while end > start and (
        _quoted(lines[end - 1]) or not lines[end - 1].strip() or _RULE.match(lines[end - 1])
    ):
        end -= 1
    return lines[start:end]


def visible_reply(text: str) -> str:
    """What the customer wrote this time, for the chat view: without the quoted history, the
    "On ... wrote:" attribution (English, Spanish, Portuguese, French, German), Outlook's
    "-----Original Message-----" and "From:/Sent:" blocks, the "-- " signature and "Sent from
    my iPhone" lines. Never empty for a non-empty text: when nothing would be left, the full
    text is returned (the record always keeps the full original anyway)."""
    if not text or not text.strip():
        return ""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normalised.split("\n")
    result = lines
    for step in (_cut_quoted_history, _trim, _cut_signature, _trim):
        result = step(result)
        if not any(line.strip() for line in result):
            # Only history, only a signature: this is all there is to show.
            return normalised.strip()
    if result == lines:
        return normalised.strip()
    return "\n".join(line.rstrip() for line in result).strip()


# --- outbound --------------------------------------------------------------------------------

_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|vs|res|rv|antw|odp|r)\s*(\[\d+\])?\s*[:：]\s*)+", re.I)


def reply_subject(subject: str) -> str:
    """ "Re: <subject>" with any earlier "Re:"/"RE:"/"AW:"/"RES:"/"RV:" prefixes folded into
    one."""
    rest = _REPLY_PREFIX.sub("", _clean_header_text(subject))
    return f"Re: {rest or _('(no subject)')}"


def reply_references(in_reply_to: str, references: Iterable[str] = ()) -> list[str]:
    """References for a reply (RFC 5322 3.6.4): the thread's ids oldest first, ending with the
    message answered; long threads keep the first id and the newest ones."""
    ids: list[str] = []
    for value in [*references, in_reply_to]:
        for mid in message_ids(value):
            if mid in ids:
                ids.remove(mid)
            ids.append(mid)
    if len(ids) > 20:
        ids = [ids[0], *ids[-19:]]
    return ids


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"


def _one_address(value: str, what: str) -> str:
    valid = _valid_address(value or "")
    if not valid:
        raise MailError(_("Invalid %(what)s address.") % {"what": what})
    return valid


def build_reply(
    *,
    from_address: str,
    to: str | Sequence[str],
    subject: str,
    body: str,
    from_name: str = "",
    html: str | None = None,
    in_reply_to: str = "",
    references: Sequence[str] = (),
    message_id: str | None = None,
    cc: Sequence[str] = (),
    attachments: Sequence[OutgoingAttachment | tuple[str, bytes, str]] = (),
    connection=None,
) -> EmailMultiAlternatives:
    """The email answering a thread, ready for `.send()` on an SMTP connection.

    From the account address, Subject "Re: ..." (never doubled), a fresh Message-ID on the
    sender's domain unless `message_id` is given (read it back from
    `email.extra_headers["Message-ID"]` to store it), In-Reply-To the message answered and
    References the thread ending with it. Raises MailError on an invalid address.
    """
    sender = _one_address(from_address, "From")
    recipients = [to] if isinstance(to, str) else list(to)
    recipients = [_one_address(r, "To") for r in recipients]
    if not recipients:
        raise MailError(_("Invalid To address."))
    copies = [_one_address(r, "Cc") for r in cc]
    name = _clean_header_text(from_name).replace('"', "")
    headers = {
        "Message-ID": normalise_message_id(message_id or "")
        or new_message_id(sender.rsplit("@", 1)[1]),
    }
    parent = normalise_message_id(in_reply_to)
    refs = reply_references(parent, references)
    if parent:
        headers["In-Reply-To"] = parent
    if refs:
        headers["References"] = " ".join(refs)
    message = EmailMultiAlternatives(
        subject=reply_subject(subject),
        body=body,
        from_email=f'"{name}" <{sender}>' if name else sender,
        to=recipients,
        cc=copies,
        headers=headers,
        connection=connection,
    )
    if html:
        message.attach_alternative(html, "text/html")
    for item in attachments:
        if isinstance(item, OutgoingAttachment):
            message.attach(item.filename, item.content, item.content_type)
        else:
            message.attach(*item)
    return message


__all__ = [
    "Address",
    "Attachment",
    "MailError",
    "OutgoingAttachment",
    "ParsedEmail",
    "build_reply",
    "html_to_text",
    "message_ids",
    "new_message_id",
    "normalise_message_id",
    "parse",
    "reply_references",
    "reply_subject",
    "sanitize_html",
    "thread_keys",
    "visible_reply",
]
