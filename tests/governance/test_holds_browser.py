"""Placing and releasing a legal hold in a browser, as a compliance officer does."""

import os

import pytest

from governance.models import LegalHold
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_compliance_places_a_time_range_hold_and_releases_it(live_server, page, compliance):
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("#id_username", compliance.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/compliance/")
    page.click("a[href='/compliance/holds/']")
    form = page.locator("[data-testid=hold-place-form]")
    form.locator("#id_scope").select_option("time_range")
    form.locator("#id_since").fill("2026-01-01T00:00")
    form.locator("#id_until").fill("2026-03-31T23:59")
    form.locator("#id_matter").fill("Tax audit 2026")
    form.locator("#id_reason").fill("Letter from the tax office")
    form.locator("button[type=submit]").click()
    page.locator("[data-testid=hold-release-form]").wait_for()
    assert "Tax audit 2026" in page.locator("h1").inner_text()
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "hold.png"), full_page=True)
    page.fill("#id_reason", "Audit closed")
    page.locator("[data-testid=hold-release-form] button[type=submit]").click()
    page.locator("text=Audit closed").wait_for()
    hold = LegalHold.objects.get()
    assert hold.released_by == compliance and hold.since.month == 1
    page.goto(f"{base}/compliance/holds/")
    assert "Released" in page.locator("[data-testid=hold-row]").inner_text()
    page.goto(f"{base}/compliance/retention/")
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(
            path=os.path.join(os.environ["SCREENSHOT_DIR"], "retention.png"), full_page=True
        )
    assert "Messages: web chat" in page.locator("[data-testid=retention-policies]").inner_text()
