# ruff: noqa: F811 - pytest fixtures imported from tests.comms.conftest and dlp_fixtures
"""The composer in a real browser against daphne: a DLP warning holds the message until the rep
clicks "Send anyway"; a block says why and stores nothing."""

import pytest

from comms.models import Message
from governance.models import DlpFlag
from tests.comms.conftest import daphne_url  # noqa: F401 (fixture)
from tests.comms.test_staff_browser import sign_in
from tests.governance.dlp_fixtures import conversation  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CHAT_OPEN = (
    "() => { const chat = (document.querySelector('[data-chat]') || {}).keeplineChat;"
    " return !!(chat && chat.ws && chat.ws.readyState === 1); }"
)


def test_warning_then_send_anyway_and_a_block(daphne_url, page, rep, conversation):
    sign_in(page, daphne_url, rep)
    page.goto(f"{daphne_url}/conversations/{conversation.pk}/")
    page.wait_for_function(CHAT_OPEN)
    composer = page.locator("[data-role=input]")
    composer.fill("Please pay to DE89 3704 0044 0532 0130 00")
    composer.press("Enter")
    warning = page.locator(".dlp-warning")
    warning.wait_for()
    assert "IBAN" in warning.inner_text()
    assert not Message.objects.exists()
    page.locator("[data-role=send-anyway]").click()
    page.wait_for_selector("li.msg.outbound:not(.pending)")
    assert Message.objects.get().body == "Please pay to DE89 3704 0044 0532 0130 00"
    assert DlpFlag.objects.count() == 1

    composer.fill("Card 4111 1111 1111 1111")
    composer.press("Enter")
    page.wait_for_selector("li.msg.pending.failed")
    assert "Payment card number" in page.locator("li.msg.pending.failed").inner_text()
    assert Message.objects.count() == 1
