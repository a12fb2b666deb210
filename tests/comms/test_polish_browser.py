"""The staff chat panel in a real browser against daphne: an error line goes once a later send
goes through; when access ends, no control that the server would refuse stays on the page; the
"waiting to go" clock is drawn (no emoji font needed)."""

import pytest

from accounts import services as account_services
from accounts.models import UserSession
from comms import services
from tests.comms.conftest import daphne_url  # noqa: F401 (fixture)
from tests.comms.test_customer_page import in_thread
from tests.comms.test_staff_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CHAT_OPEN = (
    "() => { const chat = (document.querySelector('[data-chat]') || {}).keeplineChat;"
    " return !!(chat && chat.ws && chat.ws.readyState === 1); }"
)
STATUS = "[data-role=status]"


def test_error_line_clears_after_a_later_send_and_the_pending_clock_is_drawn(
    daphne_url,  # noqa: F811
    page,
    rep,
    conversation,
):
    sign_in(page, daphne_url, rep)
    page.goto(f"{daphne_url}/conversations/{conversation.pk}/")
    page.wait_for_function(CHAT_OPEN)
    # An edit of a message that does not exist: the server answers with an error line.
    page.evaluate(
        "() => document.querySelector('[data-chat]').keeplineChat.ws.send(JSON.stringify("
        "{action: 'edit', client_id: 'c0ffee00-0000-4000-8000-000000000000',"
        " message_id: 999999, body: 'x'}))"
    )
    status = page.locator(STATUS)
    status.wait_for(state="visible", timeout=3000)
    assert status.inner_text().strip()

    page.fill("[data-role=input]", "Here is the revised quote.")
    page.press("[data-role=input]", "Enter")
    page.locator("li.msg.mine:not(.pending)").wait_for(timeout=3000)
    status.wait_for(state="hidden", timeout=2000)

    # A message waiting to go shows a drawn clock with a real size, not a missing glyph.
    page.evaluate(
        "() => document.querySelector('[data-chat]').keeplineChat"
        ".renderPending('local-only', {body: 'waiting'})"
    )
    box = page.locator("li.pending .ticks svg.icon-clock").bounding_box()
    assert box and box["width"] >= 10 and box["height"] >= 10


def test_controls_disappear_when_access_ends(
    daphne_url,  # noqa: F811
    page,
    rep,
    conversation,
):
    in_thread(services.customer_link_issue, actor=rep, conversation=conversation)
    sign_in(page, daphne_url, rep)
    page.goto(f"{daphne_url}/conversations/{conversation.pk}/")
    page.wait_for_function(CHAT_OPEN)
    page.fill("[data-role=input]", "Signed copy attached tomorrow.")
    page.press("[data-role=input]", "Enter")
    mine = page.locator("li.msg.mine:not(.pending)")
    mine.wait_for(timeout=3000)
    assert mine.locator("[data-action=edit]").count() == 1
    assert mine.locator("[data-action=retract]").count() == 1
    assert page.locator("[data-needs-access]").count() >= 1  # link issue and revoke forms

    session = UserSession.objects.get(user=rep, ended_at__isnull=True)
    in_thread(account_services.user_session_end, actor=rep, user_session=session)

    page.locator("[data-role=composer]").wait_for(state="hidden", timeout=3000)
    assert page.locator("[data-action=edit], [data-action=retract]").count() == 0
    assert page.locator("[data-needs-access]").count() == 0
    assert page.locator(STATUS).inner_text().strip()  # says access has ended
