"""Error pages: under /api/ a JSON body (the API's own shape) instead of Django's HTML page."""

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


def not_found(request, exception=None):
    """No route matched (or a plain view raised Http404). API clients get the error body the
    API answers everywhere else: `detail`, and the conversations protocol's `error` code."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"error": "not_found", "detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)
