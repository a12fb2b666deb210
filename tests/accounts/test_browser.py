import pytest

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_through_the_browser_shows_the_home_page(live_server, page, rep, manager):
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", rep.username)
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator(".form-errors").is_visible()
    page.fill("#id_username", rep.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_test_id("profile-name").inner_text() == rep.get_full_name()
    assert page.get_by_test_id("profile-role").inner_text() == "Sales rep"
    assert page.get_by_test_id("profile-manager").inner_text() == manager.get_full_name()
    # 375 px wide: nothing overflows sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
