"""Sign-in forms (Django's, with brute-force protection: accounts/sign_in_throttle.py) and the
API token form."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import services, sign_in_throttle


def locked_message(locked: sign_in_throttle.Locked) -> str:
    # Says neither whether the username exists nor which limit was hit.
    return ngettext(
        "Too many failed sign-in attempts. Try again in %(minutes)d minute.",
        "Too many failed sign-in attempts. Try again in %(minutes)d minutes.",
        locked.minutes,
    ) % {"minutes": locked.minutes}


class SignInThrottleMixin:
    """For an AuthenticationForm: each attempt is counted before the password is checked; a locked
    username or address is refused with a clear message and its password is never checked. A
    right password that the form still refuses (no admin access) counts as a success: the guess
    was not wrong."""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()
        try:
            attempt = sign_in_throttle.attempt_begin(request=self.request, username=username)
        except sign_in_throttle.Locked as locked:
            raise ValidationError(locked_message(locked), code="locked") from None
        try:
            cleaned = super().clean()
        except ValidationError:
            if self.user_cache is not None:
                sign_in_throttle.attempt_succeeded(attempt)
                raise
            locked = sign_in_throttle.attempt_failed(attempt)
            if locked is not None:
                raise ValidationError(locked_message(locked), code="locked") from None
            raise
        sign_in_throttle.attempt_succeeded(attempt)
        return cleaned


class SignInForm(SignInThrottleMixin, AuthenticationForm):
    pass


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    days = forms.IntegerField(
        label=_("Valid for (days)"), min_value=1, max_value=services.TOKEN_DAYS_MAX, initial=90
    )
