"""Phone numbers in E.164, parsed with libphonenumber."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DEFAULT_REGION = getattr(settings, "CRM_DEFAULT_PHONE_REGION", "US")


def normalise(raw: str, region: str | None = None) -> str:
    """'+55 (11) 98765-4321' -> '+5511987654321'. A number without a country code is read in
    `region` (default CRM_DEFAULT_PHONE_REGION). An impossible number is a ValidationError."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="required")
    try:
        number = phonenumbers.parse(
            text, None if text.startswith("+") else (region or DEFAULT_REGION)
        )
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("“%(value)s” is not a phone number."), code="invalid", params={"value": text}
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number."), code="invalid", params={"value": text}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(e164: str) -> str:
    """'+5511987654321' -> '+55 11 98765-4321' for people to read."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
