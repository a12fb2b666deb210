"""DRF authentication by personal API token: `Authorization: Bearer kl_...`.

Tokens are issued on the API tokens page of a signed-in session, never for a password, so the
only guessing to throttle here is of tokens: failures are counted per client address and a locked
address gets 429 (accounts/sign_in_throttle.py)."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts import services, sign_in_throttle

KEYWORDS = (b"bearer", b"token")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        try:
            sign_in_throttle.token_check(request)
        except sign_in_throttle.Locked as locked:
            raise exceptions.Throttled(
                wait=locked.seconds,
                detail=gettext("Too many failed token authentications from this address."),
            ) from None
        if len(parts) != 2:
            sign_in_throttle.token_failed(request)
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        try:
            secret = parts[1].decode()
        except UnicodeError as exc:
            sign_in_throttle.token_failed(request)
            raise exceptions.AuthenticationFailed(_("Invalid token header.")) from exc
        token = services.api_token_authenticate(secret)
        if token is None:
            sign_in_throttle.token_failed(request)
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the API schema describes ApiTokenAuthentication (drf-spectacular registers an
    extension when its module is imported, as DRF's settings import this one)."""

    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token made on the API tokens page.",
        }
