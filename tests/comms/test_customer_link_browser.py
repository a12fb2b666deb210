"""The rep copies a new customer link with one click."""

import pytest

from tests.comms.test_staff_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_copy_link_puts_the_new_link_on_the_clipboard(live_server, browser, rep, conversation):
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, permissions=["clipboard-read", "clipboard-write"]
    )
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, live_server.url, rep)
        page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
        page.click("text=Create a customer link")
        url = page.locator("[data-testid=new-link-url]").input_value()
        assert "/c/" in url
        button = page.locator("[data-testid=copy-link]")
        button.click()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=copy-link]').textContent === 'Copied'"
        )
        assert page.evaluate("navigator.clipboard.readText()") == url
        # The link works for the customer.
        customer = context.new_page()
        customer.goto(url)
        customer.locator("[data-testid=organisation]").wait_for()
    finally:
        context.close()
