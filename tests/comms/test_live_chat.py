"""A customer page in a real browser against daphne (a separate process) on PostgreSQL + Redis:
the rep's messages, edits and retractions arrive live; the customer's message is stored inbound."""

import uuid

import pytest

from comms import services
from comms.models import Message
from tests.comms.test_customer_page import in_thread

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
# The deal page's chat panel has its socket open (false, not an error, while the page loads).
CHAT_OPEN = (
    "() => { const chat = (document.querySelector('[data-chat]') || {}).keeplineChat;"
    " return !!(chat && chat.ws && chat.ws.readyState === 1); }"
)


def test_rep_and_customer_chat_live(daphne_url, page, rep, conversation, link_and_token):
    _link, token = link_and_token
    page.goto(f"{daphne_url}/c/{token}/")
    status = page.get_by_test_id("status")
    page.wait_for_function("() => document.getElementById('chat-status').textContent === ''")
    assert status.inner_text() == ""

    sent = in_thread(
        services.message_send,
        author=rep,
        conversation=conversation,
        body="Hello Clara, here is your quote.",
        client_id=str(uuid.uuid4()),
    )
    item = page.locator(f'#messages li[data-id="{sent.message.pk}"]')
    item.wait_for()
    assert "here is your quote" in item.inner_text()

    composer = page.get_by_test_id("composer")
    composer.fill("Thanks! <b>bold?</b>")
    composer.press("Enter")
    page.wait_for_selector("#messages li.mine:not(.pending)")
    inbound = Message.objects.get(direction="inbound")
    assert inbound.body == "Thanks! <b>bold?</b>" and inbound.author_contact_id

    in_thread(
        services.message_edit,
        editor=rep,
        conversation=conversation,
        message_id=sent.message.pk,
        body="Hello Clara, here is your updated quote.",
    )
    page.wait_for_function(
        "() => "
        f"(document.querySelector('#messages li[data-id=\"{sent.message.pk}\"]') || "
        "{textContent: ''}).textContent.includes('updated quote')"
    )
    in_thread(
        services.message_retract, actor=rep, conversation=conversation, message_id=sent.message.pk
    )
    item.wait_for(state="detached")
    assert page.locator("#messages li").count() == 1


def test_deal_page_and_customer_link_chat_live_in_two_browsers(
    daphne_url, browser, rep, deal, conversation, link_and_token
):
    """The acceptance scene: a rep on the deal page and a customer on the link page, live."""
    from tests.factories import PASSWORD

    _link, token = link_and_token
    rep_context = browser.new_context(viewport={"width": 1200, "height": 900})
    customer_context = browser.new_context(viewport={"width": 375, "height": 740})
    try:
        rep_page = rep_context.new_page()
        rep_page.set_default_timeout(15_000)
        rep_page.goto(f"{daphne_url}/login/")
        rep_page.fill("#id_username", rep.username)
        rep_page.fill("#id_password", PASSWORD)
        rep_page.click("button[type=submit]")
        rep_page.wait_for_url(f"{daphne_url}/")
        rep_page.goto(f"{daphne_url}{deal.get_absolute_url()}")
        panel = rep_page.get_by_test_id("chat-panel")
        panel.wait_for()
        customer = customer_context.new_page()
        customer.set_default_timeout(15_000)
        customer.goto(f"{daphne_url}/c/{token}/")
        customer.wait_for_function(
            "() => document.getElementById('chat-status').textContent === ''"
        )
        rep_page.wait_for_function(CHAT_OPEN)

        # The rep writes from the deal page; the customer sees it live.
        rep_page.fill("[data-role=input]", "Hi Clara, the quote is ready.")
        rep_page.press("[data-role=input]", "Enter")
        rep_row = rep_page.locator("[data-testid=chat-messages] li.msg.mine:not(.pending)")
        rep_row.wait_for()
        message_id = rep_row.get_attribute("data-id")
        customer_row = customer.locator(f'#messages li[data-id="{message_id}"]')
        customer_row.wait_for()
        assert "the quote is ready" in customer_row.inner_text()

        # The customer answers; the rep sees it live, as an inbound message.
        customer.get_by_test_id("composer").fill("Great, thanks!")
        customer.get_by_test_id("composer").press("Enter")
        rep_page.locator("[data-testid=chat-messages] li.msg.inbound").wait_for()
        assert "Great, thanks!" in rep_page.locator("li.msg.inbound").inner_text()

        # An attachment goes through the upload (with progress) and reaches the customer.
        rep_page.set_input_files(
            "[data-role=file]",
            files=[{"name": "quote.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 q"}],
        )
        rep_page.locator("li.msg a.attachment", has_text="quote.pdf").wait_for()
        customer.locator("#messages a", has_text="quote.pdf").wait_for()

        # An internal note never reaches the customer.
        rep_page.check("[data-role=note]")
        rep_page.fill("[data-role=input]", "Internal: discount approved")
        rep_page.press("[data-role=input]", "Enter")
        rep_page.locator("li.msg.note:not(.pending)").wait_for()

        # The rep edits the first message: both sides show the new text.
        rep_page.locator(f'li.msg[data-id="{message_id}"] button[data-action=edit]').click()
        editor = rep_page.locator(f'li.msg[data-id="{message_id}"] textarea.edit')
        editor.fill("Hi Clara, the updated quote is ready.")
        editor.press("Enter")
        customer.wait_for_function(
            "() => "
            f"(document.querySelector('#messages li[data-id=\"{message_id}\"]') || "
            "{textContent: ''}).textContent.includes('updated quote')"
        )
        rep_page.wait_for_function(
            "() => "
            f"document.querySelector('li.msg[data-id=\"{message_id}\"]')"
            ".textContent.includes('updated quote')"
        )

        # The rep retracts it: gone for the customer, marked retracted for the rep.
        rep_page.once("dialog", lambda dialog: dialog.accept())
        rep_page.locator(f'li.msg[data-id="{message_id}"] button[data-action=retract]').click()
        customer_row.wait_for(state="detached")
        rep_page.wait_for_selector(f'li.msg.retracted[data-id="{message_id}"]')
        assert (
            "Message retracted" in rep_page.locator(f'li.msg[data-id="{message_id}"]').inner_text()
        )
        assert "discount approved" not in customer.content()
        assert Message.objects.filter(conversation=conversation).count() == 4
    finally:
        rep_context.close()
        customer_context.close()


def drop_first_ack(page, socket_path: str) -> tuple[list, list]:
    """Replace the first ack the page gets on `socket_path` with a server_error for the same
    client_id. Returns (client_ids the page sent, client_ids whose ack was replaced)."""
    import json
    import re

    sent_by_page, replaced = [], []

    def intercept(route):
        server = route.connect_to_server()

        def to_server(message):
            frame = json.loads(message)
            if frame.get("action") == "send":
                sent_by_page.append(frame["client_id"])
            server.send(message)

        def to_page(message):
            frame = json.loads(message)
            if frame.get("type") == "ack" and not replaced:
                replaced.append(frame["client_id"])
                error = {"type": "error", "error": "server_error", "detail": "try again"}
                route.send(json.dumps({**error, "client_id": frame["client_id"]}))
                return
            route.send(message)

        route.on_message(to_server)
        server.on_message(to_page)

    page.route_web_socket(re.compile(f".*{re.escape(socket_path)}.*"), intercept)
    return sent_by_page, replaced


def wait_for_resend(page, sent_by_page: list) -> None:
    for _ in range(100):  # the page retries after about a second
        if len(sent_by_page) >= 2:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(2500)  # and stops once the repeat is acknowledged


def test_a_customer_send_answered_with_a_transient_error_is_sent_again_not_lost(
    daphne_url, page, conversation, link_and_token
):
    """The server stored the message but its answer became a server_error (a failed batch, a
    restart): the page keeps the message, sends it again, and the repeat is acknowledged as a
    duplicate of the stored row. Nothing is lost and nothing is stored twice."""
    _link, token = link_and_token
    sent_by_page, replaced = drop_first_ack(page, "/ws/chat/")
    page.goto(f"{daphne_url}/c/{token}/")
    page.wait_for_function("() => document.getElementById('chat-status').textContent === ''")
    composer = page.get_by_test_id("composer")
    composer.fill("Is the quote still valid?")
    composer.press("Enter")
    wait_for_resend(page, sent_by_page)
    assert len(replaced) == 1
    assert sent_by_page == [replaced[0], replaced[0]]  # the same client_id, sent again
    page.wait_for_selector("#messages li.mine:not(.pending)")
    assert page.locator("#messages li.mine").count() == 1
    assert page.locator("#messages li.error").count() == 0
    stored = Message.objects.filter(conversation=conversation, direction="inbound")
    assert [m.body for m in stored] == ["Is the quote still valid?"]


def test_a_rep_send_answered_with_a_transient_error_is_sent_again_not_lost(
    daphne_url, page, rep, deal, conversation
):
    from tests.comms.test_staff_browser import sign_in

    sent_by_page, replaced = drop_first_ack(page, f"/ws/conversations/{conversation.pk}/")
    sign_in(page, daphne_url, rep)
    page.goto(f"{daphne_url}{deal.get_absolute_url()}")
    page.wait_for_function(CHAT_OPEN)
    page.fill("[data-role=input]", "The quote holds until Friday.")
    page.press("[data-role=input]", "Enter")
    wait_for_resend(page, sent_by_page)
    assert sent_by_page == [replaced[0], replaced[0]]
    page.locator("li.msg.mine:not(.pending)").wait_for()
    assert page.locator("li.msg.failed").count() == 0
    outbox = page.evaluate("Object.keys(document.querySelector('[data-chat]').keeplineChat.outbox)")
    assert outbox == []
    stored = Message.objects.filter(conversation=conversation, direction="outbound")
    assert [m.body for m in stored] == ["The quote holds until Friday."]
