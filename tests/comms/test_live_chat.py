"""A customer page in a real browser against daphne (a separate process) on PostgreSQL + Redis:
the rep's messages, edits and retractions arrive live; the customer's message is stored inbound."""

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from comms import services
from comms.models import Message
from tests.comms.test_customer_page import in_thread

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def daphne_url(transactional_db):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: the test process and daphne share the channel layer")
    db = settings.DATABASES["default"]
    url = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "ALLOWED_HOSTS": "127.0.0.1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("daphne did not start")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def test_rep_and_customer_chat_live(daphne_url, page, rep, conversation, link_and_token):
    _link, token = link_and_token
    page.goto(f"{daphne_url}/c/{token}/")
    status = page.get_by_test_id("status")
    page.wait_for_function("document.getElementById('chat-status').textContent === ''")
    assert status.inner_text() == ""

    sent = in_thread(
        services.message_send,
        author=rep,
        conversation=conversation,
        body="Hello Clara, here is your quote.",
        client_id=str(uuid.uuid4()),
    )
    item = page.locator(f'#messages li[data-id="{sent.message.pk}"]')
    item.wait_for()
    assert "here is your quote" in item.inner_text()

    composer = page.get_by_test_id("composer")
    composer.fill("Thanks! <b>bold?</b>")
    composer.press("Enter")
    page.wait_for_selector("#messages li.mine:not(.pending)")
    inbound = Message.objects.get(direction="inbound")
    assert inbound.body == "Thanks! <b>bold?</b>" and inbound.author_contact_id

    in_thread(
        services.message_edit,
        editor=rep,
        conversation=conversation,
        message_id=sent.message.pk,
        body="Hello Clara, here is your updated quote.",
    )
    page.wait_for_function(
        f"(document.querySelector('#messages li[data-id=\"{sent.message.pk}\"]') || "
        "{textContent: ''}).textContent.includes('updated quote')"
    )
    in_thread(
        services.message_retract, actor=rep, conversation=conversation, message_id=sent.message.pk
    )
    item.wait_for(state="detached")
    assert page.locator("#messages li").count() == 1
