"""The browser's push subscription for the signed-in person: POST stores it, DELETE removes it.

JSON in and out, session and CSRF like every page (static/js/pwa.js sends the page's token).
Not part of the token API (/api/v1/): a subscription belongs to a signed-in browser session.
"""

import json

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import push
from config.errors import Invalid, ServiceError

MAX_BODY = 8 * 1024


def _body(request) -> dict:
    if len(request.body) > MAX_BODY:
        raise Invalid(_("The request body is too large."), code="too_large")
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Invalid(_("The request body is not valid JSON."), code="malformed_json") from None
    if not isinstance(data, dict):
        raise Invalid(_("Send a JSON object."))
    return data


@require_http_methods(["POST", "DELETE"])
def subscription(request):
    if not request.user.is_authenticated:
        return JsonResponse(
            {"error": "not_authenticated", "detail": _("Sign in first.")}, status=403
        )
    try:
        data = _body(request)
        if request.method == "DELETE":
            push.subscription_delete(user=request.user, endpoint=data.get("endpoint"))
            return JsonResponse({"subscribed": False})
        push.subscription_save(
            user=request.user, session_key=request.session.session_key or "", data=data
        )
    except ServiceError as error:
        return JsonResponse(error.as_dict(), status=error.status)
    return JsonResponse({"subscribed": True}, status=201)
