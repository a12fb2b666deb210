"""Django's HTTP handler under daphne, with the middleware chain run synchronously.

Every view and middleware of this project is synchronous. Django's ASGI handler builds its
chain in async mode, where each of Django's own middleware (MiddlewareMixin) runs
process_request and process_response through sync_to_async, and each of ours (sync only) is
adapted in and out: about twenty hops between the event loop and the request's thread per
request. This handler builds the synchronous chain, as WSGI does, and runs all of it in one hop
on the request's own thread (Django's ThreadSensitiveContext per request, as before: requests
still run side by side, each on a thread of its own). Reading the body, the signals, sending the
response and noticing a client that went away stay with Django's ASGI handler.
"""

from __future__ import annotations

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_http_application() -> SyncChainASGIHandler:
    """As django.core.asgi.get_asgi_application, with the synchronous chain."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
