"""The unread badge live in a real browser against daphne (PostgreSQL + Redis): a customer's
message shows on another page (the deals list) within 2 s, in the navigation and the tab title,
with a browser notification and the tone when turned on; reading the conversation clears it."""

import uuid

import pytest

from comms import services
from tests.comms.test_customer_page import in_thread
from tests.comms.test_staff_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
LIVE = "() => document.documentElement.getAttribute('data-attention') === 'live'"
# Records what the page asks the Notification API to show (headless chromium shows nothing).
NOTIFICATIONS = """
window.__shown = [];
class FakeNotification {
  constructor(title, options) { window.__shown.push({title: title, body: options.body}); }
  close() {}
}
FakeNotification.permission = "granted";
FakeNotification.requestPermission = () => Promise.resolve("granted");
Object.defineProperty(window, "Notification", {value: FakeNotification});
localStorage.setItem("keepline.attention.sound", "1");
// The last count the page had from the server (attention.js announces each as keepline:unread).
window.__unread = null;
document.addEventListener("keepline:unread", (e) => { window.__unread = e.detail.total; });
"""
# True once the page has rendered a count the server gave it (not the badge's hidden start).
SERVER_SAYS_NONE = (
    "() => window.__unread === 0"
    " && document.querySelector('[data-testid=nav-unread]').hidden"
    " && !document.title.startsWith('(')"
)


def customer_writes(link, body):
    return in_thread(
        services.message_receive, link=link, body=body, client_id=str(uuid.uuid4())
    ).message


def test_badge_and_title_appear_on_another_page_and_clear_when_read(
    daphne_url, browser, rep, conversation, link_and_token
):
    link, _token = link_and_token
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(NOTIFICATIONS)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, daphne_url, rep)
        page.goto(f"{daphne_url}/deals/")
        page.wait_for_function(LIVE)
        badge = page.get_by_test_id("nav-unread")
        assert badge.is_hidden()
        assert not page.title().startswith("(")

        customer_writes(link, "Is the discount still on?")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=nav-unread]').textContent === '1'",
            timeout=2_000,
        )
        assert badge.is_visible()
        assert page.title().startswith("(1) ")
        shown = page.evaluate("window.__shown")
        assert shown == [{"title": "Clara Cliente", "body": "Is the discount still on?"}]
        page.wait_for_function("() => document.documentElement.hasAttribute('data-attention-rang')")

        customer_writes(link, "And the delivery date?")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=nav-unread]').textContent === '2'",
            timeout=2_000,
        )
        assert page.title().startswith("(2) ")

        # Reading the conversation clears the badge and the title on that page, from a count the
        # server gave after the read was stored (the badge starts hidden in the HTML, so looking
        # at it alone would pass before anything happened)...
        page.goto(f"{daphne_url}/conversations/{conversation.pk}/")
        page.wait_for_function(LIVE)
        page.wait_for_function(SERVER_SAYS_NONE, timeout=3_000)
        # ...and on every other page, at once: the read was stored before the person moved on.
        page.goto(f"{daphne_url}/deals/")
        page.wait_for_function(LIVE)
        page.wait_for_function(SERVER_SAYS_NONE, timeout=2_000)
        assert (
            page.evaluate(
                "fetch('/api/v1/conversations/unread/').then(r => r.json()).then(d => d.total)"
            )
            == 0
        )
    finally:
        context.close()


def test_phone_menu_button_carries_the_count(daphne_url, browser, rep, link_and_token):
    link, _token = link_and_token
    context = browser.new_context(viewport={"width": 375, "height": 812})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, daphne_url, rep)
        page.wait_for_function(LIVE)
        customer_writes(link, "Hello from my phone")
        menu_badge = page.locator(".nav-toggle-label [data-attention-badge]")
        page.wait_for_function(
            "() => document.querySelector('.nav-toggle-label [data-attention-badge]')"
            ".textContent === '1'",
            timeout=2_000,
        )
        assert menu_badge.is_visible()
        assert page.title().startswith("(1) ")
        # The Inbox's Mine tab has the same number, and the page shares the badge's one socket.
        sockets = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto(f"{daphne_url}/inbox/")
        page.wait_for_function(LIVE)
        assert page.get_by_test_id("unread-total").inner_text() == "1"
        customer_writes(link, "Still there?")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=unread-total]').textContent === '2'"
            " && document.querySelector('.nav-toggle-label [data-attention-badge]')"
            ".textContent === '2'",
            timeout=2_000,
        )
        assert [url for url in sockets if url.endswith("/ws/inbox/")] == [
            daphne_url.replace("http", "ws") + "/ws/inbox/"
        ]
    finally:
        context.close()
