"""The chat panel in a browser against Django's live server (HTTP only: history through the API)."""

import pytest

from comms import services
from tests.comms.conftest import cid
from tests.comms.test_customer_page import in_thread
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base, user):
    page.goto(f"{base}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_compliance_sees_retracted_originals_and_earlier_versions(
    live_server, page, rep, compliance, conversation
):
    # Services broadcast with async_to_sync: outside Playwright's event loop thread.
    sent = in_thread(
        services.message_send,
        author=rep,
        conversation=conversation,
        body="Price is 100",
        client_id=cid(),
    )
    in_thread(
        services.message_edit,
        editor=rep,
        conversation=conversation,
        message_id=sent.message.pk,
        body="Price is 120",
    )
    wrong = in_thread(
        services.message_send,
        author=rep,
        conversation=conversation,
        body="meant for someone else",
        client_id=cid(),
    )
    in_thread(
        services.message_retract, actor=rep, conversation=conversation, message_id=wrong.message.pk
    )

    sign_in(page, live_server.url, compliance)
    page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
    edited = page.locator(f'li.msg[data-id="{sent.message.pk}"]')
    edited.wait_for()
    assert "Price is 120" in edited.inner_text()
    edited.locator("button[data-action=history]").click()
    edited.locator(".revisions li").wait_for()
    assert "Price is 100" in edited.locator(".revisions").inner_text()
    retracted = page.locator(f'li.msg[data-id="{wrong.message.pk}"]')
    assert "Message retracted" in retracted.inner_text()
    assert "meant for someone else" in retracted.inner_text()
    assert page.locator("[data-role=composer]").count() == 0  # compliance never sends


def test_rep_sees_retracted_without_the_original(live_server, page, rep, conversation):
    wrong = in_thread(
        services.message_send,
        author=rep,
        conversation=conversation,
        body="meant for someone else",
        client_id=cid(),
    )
    in_thread(
        services.message_retract, actor=rep, conversation=conversation, message_id=wrong.message.pk
    )
    sign_in(page, live_server.url, rep)
    page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
    row = page.locator(f'li.msg[data-id="{wrong.message.pk}"]')
    row.wait_for()
    assert "Message retracted" in row.inner_text()
    assert "meant for someone else" not in page.content()
