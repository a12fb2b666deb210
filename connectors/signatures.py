"""Sign and verify provider webhooks exactly as the providers document them.

- WhatsApp Cloud API: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, key = app
  secret>`, and the GET subscription handshake (hub.mode / hub.verify_token / hub.challenge).
- Twilio: `X-Twilio-Signature: base64(HMAC-SHA1(auth token, full URL + every POST parameter's
  name and value, sorted by name))`; a repeated name contributes each distinct value, sorted.
- Inbound email: a shared secret in `X-Keepline-Secret`.

Every comparison is constant-time (`hmac.compare_digest`); a missing or empty header, or an
unset secret, never verifies. Plain values in, plain values out: no models, no request objects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

WHATSAPP_SIGNATURE_HEADER = "X-Hub-Signature-256"
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
EMAIL_SECRET_HEADER = "X-Keepline-Secret"

# The same names as Django's request.META keys, for views that read META directly.
WHATSAPP_SIGNATURE_META = "HTTP_X_HUB_SIGNATURE_256"
TWILIO_SIGNATURE_META = "HTTP_X_TWILIO_SIGNATURE"
EMAIL_SECRET_META = "HTTP_X_KEEPLINE_SECRET"

Params = Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]]


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _same(expected: str, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())


# --- WhatsApp ---------------------------------------------------------------------------------


def whatsapp_signature(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` header value Meta sends for `body`: "sha256=<hex>"."""
    digest = hmac.new(_bytes(app_secret), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_whatsapp_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of exactly these raw bytes under `app_secret`."""
    if not app_secret or not header:
        return False
    given = header.strip()
    if not given.lower().startswith("sha256="):
        return False
    return _same(whatsapp_signature(app_secret, body), "sha256=" + given[7:].lower())


def whatsapp_challenge(query: Mapping[str, str], verify_token: str) -> str | None:
    """The subscription handshake: Meta sends GET ?hub.mode=subscribe&hub.verify_token=...&
    hub.challenge=...; answer the challenge (as the 200 body) only when the token matches.
    None: refuse (403)."""
    if not verify_token or query.get("hub.mode") != "subscribe":
        return None
    challenge = query.get("hub.challenge")
    if not challenge or not _same(verify_token, query.get("hub.verify_token")):
        return None
    return challenge


# --- Twilio -----------------------------------------------------------------------------------


def _param_pairs(params: Params | None) -> dict[str, set[str]]:
    """Name -> distinct values, from a dict, a Django QueryDict/MultiValueDict or pairs."""
    values: dict[str, set[str]] = {}
    if params is None:
        return values
    if hasattr(params, "lists"):  # QueryDict / MultiValueDict: every value of a repeated name
        items: Iterable[tuple[str, str | Iterable[str]]] = params.lists()  # type: ignore[union-attr]
    elif isinstance(params, Mapping):
        items = params.items()
    else:
        items = params
    for name, value in items:
        bucket = values.setdefault(name, set())
        if isinstance(value, str):
            bucket.add(value)
        else:
            bucket.update(value)
    return values


def twilio_signature(auth_token: str, url: str, params: Params | None = None) -> str:
    """The `X-Twilio-Signature` Twilio sends for a POST of `params` to `url`."""
    parts = [url]
    for name, values in sorted(_param_pairs(params).items()):
        parts.extend(name + value for value in sorted(values))
    mac = hmac.new(_bytes(auth_token), "".join(parts).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def _url_variants(url: str) -> list[str]:
    """The URL as given, plus with its default port removed or added: Twilio signs the URL it
    called, and a proxy may add or drop an explicit :443 / :80 on the way (the Twilio helper
    libraries accept either)."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    variants = [url]
    if default is None or not parts.hostname:
        return variants
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    if parts.port is None:
        netloc = f"{prefix}{host}:{default}"
    elif parts.port == default:
        netloc = f"{prefix}{host}"
    else:
        return variants
    variants.append(urlunsplit(parts._replace(netloc=netloc)))
    return variants


def verify_twilio_signature(
    auth_token: str, url: str, params: Params | None, header: str | None
) -> bool:
    """True when `header` signs this URL and these POST parameters under `auth_token`."""
    if not auth_token or not header:
        return False
    return any(
        _same(twilio_signature(auth_token, candidate, params), header)
        for candidate in _url_variants(url)
    )


# --- Inbound email ----------------------------------------------------------------------------


def email_secret_header(inbound_secret: str) -> dict[str, str]:
    """Headers a mail relay (or the simulator) sends with a raw MIME POST."""
    return {EMAIL_SECRET_HEADER: inbound_secret}


def verify_email_secret(inbound_secret: str, header: str | None) -> bool:
    """True when the shared-secret header equals the account's inbound secret."""
    if not inbound_secret:
        return False
    return _same(inbound_secret, header)
