"""A rep signs in, creates a deal, moves it a stage on the board and sees it on the timeline,
on a 375 px wide phone screen."""

import pytest

from crm.models import Deal
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rep_creates_a_deal_moves_it_on_the_board_and_sees_the_timeline(live_server, page, rep):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", rep.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/deals/new/")
    page.fill("#id_title", "Phone deal")
    page.fill("#id_amount", "1250")
    page.click("button.primary[type=submit]")
    page.wait_for_url("**/deals/*/")
    assert page.get_by_test_id("record-title").inner_text() == "Phone deal"
    deal = Deal.objects.get(title="Phone deal")
    assert deal.stage.name == "New"

    page.goto(f"{live_server.url}/deals/board/")
    card = page.locator(f"[data-testid=deal-card][data-deal='{deal.pk}']")
    assert card.is_visible()
    qualified = deal.pipeline.stages.get(name="Qualified")
    # On a phone: pick the next stage on the card; the script moves it at once.
    with page.expect_response(f"**/deals/{deal.pk}/move/") as moved:
        card.get_by_test_id("move-select").select_option(str(qualified.pk))
    assert moved.value.ok
    page.locator(
        f"[data-testid=stage-qualified] [data-testid=deal-card][data-deal='{deal.pk}']"
    ).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.goto(f"{live_server.url}/deals/{deal.pk}/")
    # On a phone the deal's page opens on its conversation; its facts are one tap away.
    page.get_by_test_id("record-facts-toggle").click()
    assert "Qualified" in page.get_by_test_id("deal-stage").inner_text()
    timeline = page.get_by_test_id("timeline").inner_text()
    assert "moved the deal from New to Qualified" in timeline
    assert "created the deal at stage New" in timeline
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
