"""Quiet hours in the chat panel (issue 14, point 7): the sender of an internal message a
colleague will only get at their next working start sees when, in the sender's time zone.
Against Django's live server (HTTP only): the message is a file sent through the upload."""

import pytest

from comms import services
from tests.comms.test_customer_page import in_thread
from tests.comms.test_quiet_hours import off_work
from tests.comms.test_staff_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_sender_sees_when_an_after_hours_message_will_be_delivered(
    live_server, page, rep, other_rep
):
    desk = in_thread(
        services.internal_conversation_create, actor=rep, subject="Desk", members=[other_rep]
    )
    off_work(other_rep)
    sign_in(page, live_server.url, rep)
    page.goto(f"{live_server.url}/conversations/{desk.pk}/")
    page.get_by_test_id("urgent").wait_for()
    page.set_input_files(
        "[data-role=file]",
        files=[{"name": "numbers.txt", "mimeType": "text/plain", "buffer": b"Q4 numbers"}],
    )
    notice = page.get_by_test_id("delivery-notice")
    notice.wait_for()
    text = notice.inner_text()
    assert text.startswith("Will be delivered at") and other_rep.get_full_name() in text

    # Marked urgent: delivered now, and the panel says so.
    page.check("[data-testid=urgent]")
    page.set_input_files(
        "[data-role=file]",
        files=[{"name": "now.txt", "mimeType": "text/plain", "buffer": b"call me"}],
    )
    page.get_by_test_id("delivery-notice").filter(has_text="Urgent: delivered now").wait_for()
    assert not page.is_checked("[data-testid=urgent]")
