"""Issue 12 in real browsers: a manager offboards a rep from the offboard page while the rep has
the conversation open and the customer has their chat page open, on daphne (a separate process)
over PostgreSQL + Redis. The rep loses access at once, the customer sees who continues without
a reload, and the successor finds the conversation in their inbox. One browser context each."""

import re

import pytest
from playwright.sync_api import expect

from tests.comms.conftest import conversation, daphne_url, deal, link_and_token  # noqa: F401
from tests.comms.test_staff_browser import sign_in
from tests.factories import ROLE, make_user

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 10_000  # ms: the bound on every wait in this test
CONTINUITY = "Ana Lima will continue this conversation."
# The staff chat panel's socket is open (false, not an error, while the page loads).
CHAT_OPEN = (
    "() => { const chat = (document.querySelector('[data-chat]') || {}).keeplineChat;"
    " return !!(chat && chat.ws && chat.ws.readyState === 1); }"
)
CHAT_CLOSED = (
    "() => { const chat = (document.querySelector('[data-chat]') || {}).keeplineChat;"
    " return !!(chat && chat.ws && chat.ws.readyState === 3); }"
)


@pytest.fixture
def ana(db, manager, team):
    return make_user(
        ROLE.REP, username="ana", first_name="Ana", last_name="Lima", manager=manager, team=team
    )


def signed_in_page(browser, base: str, user, *, width: int = 1200):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT)
    sign_in(page, base, user)
    return context, page


def test_offboarding_a_rep_ends_their_chat_and_the_customer_sees_who_continues(
    daphne_url,  # noqa: F811
    browser,
    manager,
    rep,
    ana,
    conversation,  # noqa: F811
    link_and_token,  # noqa: F811
):
    _link, token = link_and_token
    contexts = []
    try:
        # The rep, on the conversation page with its socket open.
        rep_context, rep_page = signed_in_page(browser, daphne_url, rep)
        contexts.append(rep_context)
        rep_page.goto(f"{daphne_url}/conversations/{conversation.pk}/")
        rep_page.wait_for_function(CHAT_OPEN, timeout=WAIT)

        # The customer, on their chat page, live.
        customer_context = browser.new_context(viewport={"width": 375, "height": 740})
        contexts.append(customer_context)
        customer = customer_context.new_page()
        customer.set_default_timeout(WAIT)
        customer.goto(f"{daphne_url}/c/{token}/")
        expect(customer.get_by_test_id("rep")).to_have_text(
            f"You are talking with {rep.get_full_name()}", timeout=WAIT
        )
        customer.wait_for_function(
            "() => document.getElementById('chat-status').textContent === ''", timeout=WAIT
        )
        # Gone if the page reloads: the new name must arrive on the open page.
        customer.evaluate("() => { window.keeplineNoReload = true; }")

        # The manager offboards the rep: one successor, Ana Lima; preview, then confirm.
        manager_context, manager_page = signed_in_page(browser, daphne_url, manager)
        contexts.append(manager_context)
        manager_page.goto(f"{daphne_url}/people/{rep.pk}/offboard/")
        manager_page.get_by_test_id("mode-one").check()
        successor = manager_page.get_by_test_id("successor")
        successor.press_sequentially("Lima", delay=40)
        manager_page.get_by_role("option", name=re.compile("Ana Lima")).click()
        expect(successor).to_have_value("Ana Lima")
        manager_page.get_by_test_id("preview-button").click()
        preview = manager_page.get_by_test_id("preview")
        expect(preview).to_be_visible(timeout=WAIT)
        expect(manager_page.get_by_test_id("continuity")).to_contain_text("Ana Lima", timeout=WAIT)
        manager_page.get_by_test_id("confirm").click()
        manager_page.wait_for_url(re.compile(r"/offboard/\?done=\d+$"), timeout=WAIT)
        expect(manager_page.get_by_test_id("inactive")).to_be_visible(timeout=WAIT)

        # The rep's socket closes and the panel says access ended; the composer is off.
        rep_page.wait_for_function(CHAT_CLOSED, timeout=WAIT)
        expect(rep_page.get_by_test_id("chat-status")).to_have_text(
            "You no longer have access to this conversation.", timeout=WAIT
        )
        expect(rep_page.locator("[data-role=input]")).to_be_disabled(timeout=WAIT)
        # Their session is over: a reload lands on the sign-in page.
        rep_page.reload()
        expect(rep_page).to_have_url(re.compile(r"/login/"), timeout=WAIT)
        expect(rep_page.locator("#id_username")).to_be_visible(timeout=WAIT)

        # The customer sees who continues and the continuity message, without a reload.
        expect(customer.get_by_test_id("rep")).to_have_text(
            "You are talking with Ana Lima", timeout=WAIT
        )
        expect(customer.get_by_test_id("messages")).to_contain_text(CONTINUITY, timeout=WAIT)
        assert customer.evaluate("() => window.keeplineNoReload === true")
        expect(customer.get_by_test_id("status")).to_have_text("", timeout=WAIT)

        # Ana, in a browser of her own, finds the conversation in her inbox.
        _ana_context, ana_page = signed_in_page(browser, daphne_url, ana)
        contexts.append(_ana_context)
        ana_page.goto(f"{daphne_url}/inbox/")
        row = ana_page.locator(
            f'[data-testid=inbox-list] li[data-conversation="{conversation.pk}"]'
        )
        expect(row).to_be_visible(timeout=WAIT)
        # Listed with her as the assignee (system messages are not inbox previews).
        expect(row).to_contain_text("Ana Lima", timeout=WAIT)
    finally:
        for context in contexts:
            context.close()
