import re
import uuid

HEADER = "X-Request-ID"
_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    """request.request_id from a well-formed X-Request-ID (a proxy's) or a new UUID; echoed back.

    The audit ledger stores it with each event, tying an event to the proxy's and the app's logs.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = incoming if _SAFE.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response[HEADER] = request.request_id
        return response
