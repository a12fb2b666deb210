"""People pickers in a real browser (issue 16, point 2): the share panel's "Share with" at
desktop width, chosen with the keyboard, and the deals list's owner filter on a phone, chosen
with a tap. Both search /api/v1/people/ as you type; the page lists nobody."""

import re

import pytest
from playwright.sync_api import expect

from tests.comms.conftest import daphne_url, deal  # noqa: F401
from tests.comms.test_staff_browser import sign_in
from tests.crm.factories import DealFactory
from tests.factories import ROLE, make_user

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 10_000


@pytest.fixture
def ana(db):
    return make_user(ROLE.REP, username="alima", first_name="Ana", last_name="Lima")


@pytest.fixture
def crowd(db):
    for i in range(30):
        make_user(ROLE.REP, username=f"crowd{i}", first_name="Crowd", last_name=f"Member{i}")


def signed_in_page(browser, base: str, user, *, width: int, height: int):
    context = browser.new_context(
        viewport={"width": width, "height": height}, service_workers="block"
    )
    page = context.new_page()
    page.set_default_timeout(WAIT)
    sign_in(page, base, user)
    return context, page


def test_share_a_deal_by_typing_and_the_keyboard(
    daphne_url,  # noqa: F811
    browser,
    rep,
    ana,
    crowd,
    deal,  # noqa: F811
):
    context, page = signed_in_page(browser, daphne_url, rep, width=1280, height=800)
    try:
        page.goto(f"{daphne_url}/deals/{deal.pk}/")
        panel = page.get_by_test_id("share-panel")
        assert "Crowd" not in page.content()  # nobody is listed
        box = panel.get_by_role("combobox", name="Share with")
        expect(box).to_have_attribute("aria-expanded", "false")
        box.press_sequentially("Lim", delay=40)
        option = panel.get_by_role("option", name=re.compile("Ana Lima"))
        expect(option).to_be_visible()
        expect(box).to_have_attribute("aria-expanded", "true")
        box.press("ArrowDown")
        active = box.get_attribute("aria-activedescendant")
        assert active and page.locator(f"#{active}").inner_text().startswith("Ana Lima")
        expect(option).to_have_attribute("aria-selected", "true")
        box.press("Enter")
        expect(box).to_have_value("Ana Lima")
        expect(box).to_have_attribute("aria-expanded", "false")
        assert panel.locator("input[name=who]").input_value() == f"user:{ana.pk}"
        panel.get_by_role("button", name="Share").click()
        row = page.get_by_test_id("share-row").filter(has_text="Ana Lima")
        expect(row).to_be_visible()
        # Editing the text forgets the choice; an unknown name says so.
        box = page.get_by_test_id("share-panel").get_by_role("combobox", name="Share with")
        box.press_sequentially("zzzq", delay=40)
        expect(page.get_by_test_id("share-panel").get_by_text("No one matches")).to_be_visible()
        box.press("Escape")
        expect(page.get_by_test_id("share-panel").get_by_text("No one matches")).to_be_hidden()
    finally:
        context.close()


def test_owner_filter_on_a_phone(
    daphne_url,  # noqa: F811
    browser,
    rep,
    ana,
    crowd,
    deal,  # noqa: F811
):
    DealFactory(title="Ana's harbour deal", owner=ana)
    context, page = signed_in_page(browser, daphne_url, rep, width=375, height=812)
    try:
        page.goto(f"{daphne_url}/deals/")
        box = page.get_by_role("combobox", name="Owner")
        box_size = box.bounding_box()
        assert box_size and box_size["width"] <= 375
        box.press_sequentially("lim", delay=40)
        option = page.get_by_role("option", name=re.compile("Ana Lima"))
        expect(option).to_be_visible()
        listbox = page.get_by_role("listbox").bounding_box()
        assert listbox["x"] >= 0 and listbox["x"] + listbox["width"] <= 376
        option.click()
        page.wait_for_url(re.compile(rf"owner={ana.pk}"))
        box = page.get_by_role("combobox", name="Owner")
        expect(box).to_have_value("Ana Lima")
        body = page.content()
        assert "Fleet renewal" not in body
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll_width <= 375
        # Clearing the name and pressing Enter shows everyone's deals again.
        box.fill("")
        box.press("Enter")
        page.wait_for_url(re.compile(r"owner=(&|$)"))
        expect(page.get_by_text("Fleet renewal")).to_be_visible()
    finally:
        context.close()
