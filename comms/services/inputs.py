"""Input checks shared by every comms service: the errors a client hears at once."""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.utils.translation import gettext as _

from comms import errors
from config.ids import MAX_ID


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def clean_body(body, *, allow_empty: bool = False) -> str:
    if not isinstance(body, str):
        raise errors.Invalid(_("The message text is missing."))
    if len(body) > settings.COMMS_MAX_BODY:
        raise errors.TooLong()
    if "\x00" in body:
        raise errors.Invalid(_("The message contains characters that cannot be stored."))
    if not body.strip() and not allow_empty:
        raise errors.Invalid(_("Write something before sending."))
    return body


def clean_client_id(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise errors.Invalid(_("client_id must be a UUID.")) from None


def clean_id(value, what: str = "message_id") -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise errors.Invalid(_("%(field)s must be a number.") % {"field": what})
    try:
        number = int(value)
    except ValueError:
        raise errors.Invalid(_("%(field)s must be a number.") % {"field": what}) from None
    if number < 0 or number > MAX_ID:
        raise errors.Invalid(_("%(field)s must be a number.") % {"field": what})
    return number
