"""Channel account secrets encrypted at rest (cryptography's MultiFernet).

KEEPLINE_CHANNEL_KEYS: comma-separated Fernet keys. The first encrypts, every one decrypts, so a key
is rotated by putting a new one first, running `rotate()` over the stored tokens (the admin's save
does it for one account), then dropping the old one. Unset: one key derived from SECRET_KEY with
HKDF, for the embedded demo only (`manage.py check --deploy` warns, connectors.W001).
"""

from __future__ import annotations

import base64
import json
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from config.errors import ServiceError

__all__ = ["SecretsUnreadable", "decrypt_json", "encrypt_json", "rotate"]
log = logging.getLogger(__name__)


class SecretsUnreadable(ServiceError):
    """No configured key opens an account's stored secrets (KEEPLINE_CHANNEL_KEYS changed
    without rotating them first). The account cannot verify or send until the key is back or its
    secrets are entered again: webhooks answer 503, which providers retry; sends wait and retry."""

    code = "channel_secrets_unreadable"
    status = 503

    def default_detail(self) -> str:
        return _(
            "This channel account's secrets cannot be read with the configured keys "
            "(KEEPLINE_CHANNEL_KEYS): restore the key, or enter the secrets again."
        )


_cache: dict[tuple, MultiFernet] = {}


def _derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"keepline-channels", info=b"channel-secrets"
    )
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def _fernet() -> MultiFernet:
    keys = tuple(settings.KEEPLINE_CHANNEL_KEYS)
    cache_key = keys or ("derived", settings.SECRET_KEY)
    fernet = _cache.get(cache_key)
    if fernet is None:
        try:
            fernets = [Fernet(k.encode()) for k in keys] or [
                Fernet(_derived_key(settings.SECRET_KEY))
            ]
        except ValueError as exc:
            # The message names the variable, never a key.
            raise ImproperlyConfigured(
                "KEEPLINE_CHANNEL_KEYS holds a value that is not a Fernet key "
                "(32 url-safe base64-encoded bytes; Fernet.generate_key())."
            ) from exc
        fernet = _cache[cache_key] = MultiFernet(fernets)
    return fernet


def encrypt_json(values: dict[str, str]) -> str:
    """A token holding `values` (empty dict: empty string, nothing to decrypt)."""
    if not values:
        return ""
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, str]:
    """The values in a token made by encrypt_json. SecretsUnreadable when no configured key
    opens it (logged as an error: an operator must act)."""
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        log.error("channel account secrets cannot be read with KEEPLINE_CHANNEL_KEYS")
        raise SecretsUnreadable() from None


def rotate(token: str) -> str:
    """The same values encrypted with the first (current) key."""
    return _fernet().rotate(token.encode()).decode() if token else ""
