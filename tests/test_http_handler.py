"""Pages under daphne go through config.http's handler: Django's whole middleware chain, run
synchronously in one hop per request, each request on a thread of its own."""

import asyncio
import threading
import time

import pytest
from asgiref.sync import iscoroutinefunction
from channels.testing import HttpCommunicator
from django.http import HttpResponse
from django.urls import path

from config.asgi import django_asgi_app
from config.http import SyncChainASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)

threads: list[int] = []


def slow(request):
    threads.append(threading.get_ident())
    time.sleep(0.5)
    return HttpResponse(request.session.session_key or "no session")


urlpatterns = [path("slow/", slow)]


async def _get(path_: str) -> dict:
    communicator = HttpCommunicator(
        django_asgi_app, "GET", path_, headers=[(b"host", b"testserver")]
    )
    return await communicator.get_response(timeout=10)


def test_the_application_runs_the_synchronous_chain():
    assert isinstance(django_asgi_app, SyncChainASGIHandler)
    assert not iscoroutinefunction(django_asgi_app._middleware_chain)


@pytest.mark.asyncio
async def test_a_page_gets_every_middleware_and_slow_requests_run_side_by_side(settings):
    settings.ROOT_URLCONF = __name__
    threads.clear()
    started = time.monotonic()
    first, second = await asyncio.gather(_get("/slow/"), _get("/slow/"))
    elapsed = time.monotonic() - started
    for response in (first, second):
        assert response["status"] == 200
        headers = {k.lower(): v for k, v in response["headers"]}
        assert b"content-security-policy" in headers  # CSPMiddleware ran
        assert headers[b"x-frame-options"] == b"DENY"  # XFrameOptionsMiddleware ran
        assert b"x-request-id" in headers  # ours ran
    assert elapsed < 0.9, f"two 0.5 s requests took {elapsed:.2f} s: serialised"
    assert len(set(threads)) == 2
