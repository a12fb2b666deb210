# ruff: noqa: F811 - pytest fixtures imported from tests.comms.conftest
"""Issue 15.6 in a real browser against daphne, with the service worker allowed: a message
written offline waits in IndexedDB, survives a reload (the worker answers it with the offline
page), and is delivered exactly once when the network is back."""

import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from comms.models import Message
from tests.comms.conftest import conversation, daphne_url, deal  # noqa: F401
from tests.comms.test_live_chat import CHAT_OPEN
from tests.comms.test_staff_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TEXT = "Written in the lift: the vans can be delivered on the 12th."
CHAT_CLOSED = (
    "() => { const chat = document.querySelector('[data-chat]').keeplineChat;"
    " return !chat.ws || chat.ws.readyState !== 1; }"
)
CONTROLLED = "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)"


def queued(page, conversation_id) -> int | None:
    """What the outbox holds for the conversation (None while the page is between documents).
    Asked with evaluate, which awaits the promise: wait_for_function would take the promise
    itself for a truthy answer and pass at once."""
    try:
        return page.evaluate(
            "(id) => window.KeeplineOutbox.list(id).then((items) => items.length)",
            str(conversation_id),
        )
    except PlaywrightError:  # the execution context went away with a navigation: ask again
        return None


def stored() -> int:
    return Message.objects.filter(body=TEXT).count()


def wait_until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.fixture
def app_page(browser):
    context = browser.new_context(viewport={"width": 375, "height": 812}, service_workers="allow")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_a_message_written_offline_survives_a_reload_and_is_delivered_once(
    daphne_url, app_page, rep, conversation
):
    page = app_page
    sign_in(page, daphne_url, rep)
    page.goto(f"{daphne_url}/conversations/{conversation.pk}/")
    page.wait_for_function(CHAT_OPEN)
    page.wait_for_function(CONTROLLED)  # the worker is installed and in control

    page.context.set_offline(True)
    page.evaluate("document.querySelector('[data-chat]').keeplineChat.ws.close()")
    page.wait_for_function(CHAT_CLOSED)
    page.fill("[data-role=input]", TEXT)
    page.press("[data-role=input]", "Enter")
    page.locator("li.msg.pending").wait_for()
    assert wait_until(lambda: queued(page, conversation.pk) == 1)
    assert stored() == 0

    page.reload()  # no network: the worker's offline page stands in
    page.locator("[data-pwa-offline]").wait_for()
    assert queued(page, conversation.pk) == 1
    assert stored() == 0

    page.context.set_offline(False)  # the offline page reloads itself; the outbox goes out
    assert wait_until(lambda: stored() == 1)
    page.wait_for_function(CHAT_OPEN)
    page.locator("li.msg.mine:not(.pending)", has_text=TEXT).wait_for()
    assert wait_until(lambda: queued(page, conversation.pk) == 0)
    page.reload()
    page.wait_for_function(CHAT_OPEN)
    page.locator("li.msg.mine", has_text=TEXT).wait_for()
    assert page.locator("li.msg.pending").count() == 0
    assert stored() == 1


def test_a_tab_closed_offline_is_sent_by_the_next_page_opened(
    daphne_url, app_page, rep, conversation
):
    page = app_page
    sign_in(page, daphne_url, rep)
    page.goto(f"{daphne_url}/conversations/{conversation.pk}/")
    page.wait_for_function(CHAT_OPEN)
    page.context.set_offline(True)
    page.evaluate("document.querySelector('[data-chat]').keeplineChat.ws.close()")
    page.wait_for_function(CHAT_CLOSED)
    page.fill("[data-role=input]", TEXT)
    page.press("[data-role=input]", "Enter")
    assert wait_until(lambda: queued(page, conversation.pk) == 1)
    context = page.context
    page.close()  # the tab is gone with the message unsent
    assert stored() == 0

    context.set_offline(False)
    home = context.new_page()
    home.goto(f"{daphne_url}/")  # any page of the app: it sends what the outbox holds
    assert wait_until(lambda: stored() == 1)
    assert wait_until(lambda: queued(home, conversation.pk) == 0)
    home.goto(f"{daphne_url}/")
    home.wait_for_timeout(500)  # a second drain, if any, would have sent by now
    assert stored() == 1
    message = Message.objects.get(body=TEXT)
    assert message.author_user == rep and message.direction == Message.Direction.OUTBOUND


def test_a_message_left_by_someone_who_signed_out_is_not_sent_as_the_next_person(
    daphne_url, app_page, rep, admin_user, conversation
):
    """rep writes offline and signs out; an admin (who may write there too) signs in on the
    same device: rep's message is not sent under the admin's name."""
    page = app_page
    sign_in(page, daphne_url, rep)
    page.goto(f"{daphne_url}/conversations/{conversation.pk}/")
    page.wait_for_function(CHAT_OPEN)
    page.context.set_offline(True)
    page.evaluate("document.querySelector('[data-chat]').keeplineChat.ws.close()")
    page.wait_for_function(CHAT_CLOSED)
    page.fill("[data-role=input]", TEXT)
    page.press("[data-role=input]", "Enter")
    assert wait_until(lambda: queued(page, conversation.pk) == 1)
    page.context.clear_cookies()  # rep's session is gone (signed out elsewhere, expired)
    page.context.set_offline(False)
    sign_in(page, daphne_url, admin_user)
    page.goto(f"{daphne_url}/deals/")
    page.wait_for_timeout(1000)
    assert queued(page, conversation.pk) == 1  # still rep's, kept for rep
    assert stored() == 0
