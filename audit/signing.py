"""The Ed25519 key that signs checkpoints, and the signed checkpoint statement.

The key comes from (first found):
  AUDIT_SIGNING_KEY       base64 of the 32-byte Ed25519 private seed, or a PEM (PKCS#8) text
  AUDIT_SIGNING_KEY_FILE  path of a PEM (PKCS#8) file, e.g. `openssl genpkey -algorithm ed25519`
With DEBUG on and neither set, a key is generated once at var/audit-signing-key.pem (demo mode).
With DEBUG off and neither set, signing raises ImproperlyConfigured naming both variables.

Keep the private key away from the database host's backups: whoever holds it can sign a rewritten
chain. The public key is printed with every checkpoint; keep a copy with the checkpoint files.
"""

import base64
import binascii
import os
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ALGORITHM = "ed25519"
DEV_KEY_NAME = "audit-signing-key.pem"


def statement(*, seq: int, head_hash: str, time: str, version: int = 1) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return (
        f"keepline-audit-checkpoint/v{version}\nseq={seq}\nhead={head_hash}\ntime={time}\n".encode()
    )


def _load_pem(data: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("The audit signing key must be an Ed25519 key.")
    return key


def _from_env_value(raw: str) -> Ed25519PrivateKey:
    raw = raw.strip()
    if raw.startswith("-----BEGIN"):
        return _load_pem(raw.encode())
    try:
        seed = base64.b64decode(raw, validate=True)
    except binascii.Error as exc:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY is neither base64 nor PEM.") from exc
    if len(seed) != 32:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY must hold a 32-byte Ed25519 seed.")
    return Ed25519PrivateKey.from_private_bytes(seed)


def _dev_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        return _load_pem(path.read_bytes())
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def private_key() -> Ed25519PrivateKey:
    return _private_key(
        getattr(settings, "AUDIT_SIGNING_KEY", ""),
        getattr(settings, "AUDIT_SIGNING_KEY_FILE", ""),
        settings.DEBUG,
        str(settings.VAR_DIR),
    )


@cache
def _private_key(raw: str, path: str, debug: bool, var_dir: str) -> Ed25519PrivateKey:
    if raw:
        return _from_env_value(raw)
    if path:
        return _load_pem(Path(path).read_bytes())
    if debug:
        return _dev_key(Path(var_dir) / DEV_KEY_NAME)
    raise ImproperlyConfigured(
        "No audit signing key: set AUDIT_SIGNING_KEY (base64 Ed25519 seed or PEM) or "
        "AUDIT_SIGNING_KEY_FILE (PEM file, e.g. `openssl genpkey -algorithm ed25519 -out "
        "audit-signing.pem`). Checkpoints cannot be signed without it."
    )


def public_key_hex(key: Ed25519PrivateKey | None = None) -> str:
    key = key or private_key()
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        .hex()
    )


def trusted_public_key() -> str | None:
    """The configured key's public half, or None when no key is configured (and DEBUG is off)."""
    try:
        return public_key_hex()
    except ImproperlyConfigured:
        return None


def sign(message: bytes) -> tuple[str, str]:
    """(public key hex, signature hex)."""
    key = private_key()
    return public_key_hex(key), key.sign(message).hex()


def signature_ok(public_key: str, signature: str, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
            bytes.fromhex(signature), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True
