"""Permissions-Policy on every response: Keepline uses no powerful browser feature.

The Content-Security-Policy comes from django-csp (`CONTENT_SECURITY_POLICY` in settings); this
header is the other half of "what may this page do". Only features Chromium recognises are named:
an unknown name makes the browser log an error on every page (and the browser test counts those).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "Permissions-Policy"

# `()` is the empty allowlist: not this page, not any frame. The chat links attachments rather than
# playing them inline, and nothing else asks for a device, a sensor or a payment.
DISABLED_FEATURES = (
    "accelerometer",
    "autoplay",
    "camera",
    "display-capture",
    "encrypted-media",
    "fullscreen",
    "geolocation",
    "gyroscope",
    "hid",
    "idle-detection",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "picture-in-picture",
    "publickey-credentials-get",
    "screen-wake-lock",
    "serial",
    "usb",
    "xr-spatial-tracking",
)
POLICY = ", ".join(f"{feature}=()" for feature in DISABLED_FEATURES)


class PermissionsPolicyMiddleware:
    """Adds the Permissions-Policy header, unless a view has already set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault(HEADER, POLICY)
        return response
