"""The project's one error model and its three mappings.

A service refuses by raising a `ServiceError`: a stable code, an HTTP status and a translated
message (and, for a form, the field it is about). Each interface maps it once:
- DRF: `api_exception_handler` (REST_FRAMEWORK["EXCEPTION_HANDLER"]) answers the JSON body
  `{"error": code, "detail": message[, "fields": {...}]}` with the status;
- pages: `ServiceErrorMiddleware` turns one a view did not handle into the same status (404 for
  a missing or forbidden object, as everywhere else);
- sockets: consumers send `as_dict()` as the protocol's error frame.

Also the error pages: under /api/ a JSON body instead of Django's HTML page; a request that could
not get a database connection in time (the pool is exhausted) is a 503 to retry, not a 500.
"""

from __future__ import annotations

import sys

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


class ServiceError(Exception):
    code = "invalid"
    status = 400

    def __init__(
        self, detail: str | None = None, *, code: str | None = None, fields: dict | None = None
    ):
        if code is not None:
            self.code = code
        self.fields = {k: [str(m) for m in _as_list(v)] for k, v in (fields or {}).items()}
        if detail is None and self.fields:
            detail = next(iter(self.fields.values()))[0]
        self.detail = str(detail) if detail is not None else self.default_detail()
        super().__init__(self.detail)

    def default_detail(self) -> str:
        return _("This request is not valid.")

    def as_dict(self) -> dict:
        body = {"error": self.code, "detail": self.detail}
        if self.fields:
            body["fields"] = self.fields
        return body

    @property
    def messages(self) -> list[str]:
        """Every message, for a page that shows them (field messages first)."""
        found = [m for ms in self.fields.values() for m in ms]
        return found or [self.detail]


def _as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


class Invalid(ServiceError):
    code = "invalid"


class Forbidden(ServiceError):
    code = "forbidden"
    status = 403

    def default_detail(self) -> str:
        return _("You may not do this.")


class NotFound(ServiceError):
    """Missing, or not the caller's to see: the two answer the same."""

    code = "not_found"
    status = 404

    def default_detail(self) -> str:
        return _("Not found.")


class Conflict(ServiceError):
    code = "conflict"
    status = 409

    def default_detail(self) -> str:
        return _("This conflicts with the current state.")


class RateLimited(ServiceError):
    code = "rate_limited"
    status = 429

    def default_detail(self) -> str:
        return _("Too many requests; wait a moment.")


class Busy(ServiceError):
    code = "busy"
    status = 503

    def default_detail(self) -> str:
        return _("Keepline is busy right now. Try again in a few seconds.")


class UnsupportedType(ServiceError):
    code = "unsupported_type"
    status = 415

    def default_detail(self) -> str:
        return _("This type of content cannot be sent.")


def invalid_from(exc: ValidationError, *, field: str | None = None) -> Invalid:
    """A Django ValidationError (a model's full_clean, a validator) as the project's Invalid:
    its fields kept; a message without one goes to `field` when given."""
    if hasattr(exc, "error_dict"):
        return Invalid(fields=exc.message_dict)
    if field is not None:
        return Invalid(fields={field: exc.messages})
    return Invalid(" ".join(exc.messages))


def api_exception_handler(exc, context):
    """DRF: a ServiceError is its own JSON body and status; a 404 (missing or hidden), a body that
    is not JSON and an unsupported content type answer in the same shape; everything else
    (serializer field errors, authentication, throttling) as DRF answers it."""
    from rest_framework import exceptions as drf
    from rest_framework.response import Response
    from rest_framework.views import exception_handler

    if isinstance(exc, Http404 | drf.NotFound):
        exc = NotFound()
    elif isinstance(exc, drf.ParseError):
        exc = Invalid(_("The request body is not valid JSON."), code="malformed_json")
    elif isinstance(exc, drf.UnsupportedMediaType):
        exc = UnsupportedType()
    if isinstance(exc, ServiceError):
        return Response(exc.as_dict(), status=exc.status)
    return exception_handler(exc, context)


class ServiceErrorMiddleware:
    """Pages: a ServiceError a view let through becomes the matching error page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ServiceError):
            return None
        if request.path.startswith(API_PREFIX):
            return JsonResponse(exception.as_dict(), status=exception.status)
        if exception.status == 404:
            raise Http404(exception.detail) from exception
        if exception.status == 403:
            raise PermissionDenied(exception.detail) from exception
        return render(request, "error.html", {"error": exception}, status=exception.status)


def not_found(request, exception=None):
    """No route matched (or a plain view raised Http404). API clients get the error body the
    API answers everywhere else: `detail`, and the conversations protocol's `error` code."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"error": "not_found", "detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)


# Seconds a client is asked to wait after a 503 for want of a database connection.
BUSY_RETRY_AFTER_S = 5


def _pool_exhausted(exc: BaseException | None) -> bool:
    """Whether `exc` is, or was caused by, psycopg_pool's timeout waiting for a connection
    (Django wraps it in django.db.OperationalError)."""
    try:
        from psycopg_pool import PoolTimeout
    except ImportError:
        return False
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, PoolTimeout):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def server_error(request):
    """handler500. A burst beyond the process's database pool (DATABASE_POOL_MAX) waited
    DATABASE_POOL_TIMEOUT_S and got no connection: 503 with Retry-After, saying to try again,
    JSON under /api/. Anything else is Django's 500 page. Renders without the request's context
    processors: they would ask the database again."""
    if not _pool_exhausted(sys.exc_info()[1]):
        return defaults.server_error(request)
    error = Busy()
    if request.path.startswith(API_PREFIX):
        response = JsonResponse(error.as_dict(), status=error.status)
    else:
        response = HttpResponse(render_to_string("error.html", {"error": error}), status=503)
    response["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    return response
