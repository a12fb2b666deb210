"""Customer link tokens: signed, expiring, and stored only as a digest."""

import hashlib
import secrets

from django.core import signing

SALT = "comms.customer-link"


def new_token(conversation_id: int) -> str:
    return signing.dumps(
        {"c": conversation_id, "n": secrets.token_urlsafe(18)}, salt=SALT, compress=False
    )


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check(token: str, max_age: int) -> None:
    """Raise signing.SignatureExpired or signing.BadSignature unless the token is ours."""
    signing.loads(token, salt=SALT, max_age=max_age)
