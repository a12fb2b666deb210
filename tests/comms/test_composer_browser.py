"""The deal page and the composer in Chromium, as a rep on a desktop (1280x800) and on a phone
(375x812): the composer is on screen on load, note mode ends with the note, `/` picks a quick
reply with the customer's name in it, and an oversized file never leaves the browser."""

import pytest

from comms import services
from comms.models import Message, QuickReply
from tests.comms.conftest import cid, daphne_url  # noqa: F401 (fixture)
from tests.comms.test_customer_page import in_thread
from tests.comms.test_staff_browser import sign_in
from tests.conftest import screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
CHAT_OPEN = (
    "() => { const chat = (document.querySelector('[data-chat]') || {}).keeplineChat;"
    " return !!(chat && chat.ws && chat.ws.readyState === 1); }"
)


def in_view(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] >= 0
        and box["x"] + box["width"] <= size["width"]
    )


@pytest.fixture
def open_page(browser):
    contexts = []

    def make(viewport):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_composer_is_on_screen_on_the_deal_and_conversation_pages(
    live_server, open_page, rep, conversation, deal, viewport
):
    for n in range(30):  # a long history must scroll inside the chat, not push the composer
        in_thread(
            services.message_send,
            author=rep,
            conversation=conversation,
            body=f"Line {n}",
            client_id=cid(),
        )
    page = open_page(viewport)
    sign_in(page, live_server.url, rep)
    page.goto(f"{live_server.url}/deals/{deal.pk}/")
    page.locator("li.msg", has_text="Line 29").wait_for()
    composer = page.locator("[data-role=input]")
    assert in_view(page, composer), composer.bounding_box()
    assert in_view(page, page.locator("[data-role=send]"))
    assert page.evaluate("window.scrollY") == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    facts = page.get_by_test_id("record-facts")
    stage = page.get_by_test_id("deal-stage")
    name = "desktop" if viewport is DESKTOP else "phone"
    page.screenshot(path=str(screenshot_dir() / f"deal-{name}.png"))
    if viewport is DESKTOP:
        # Beside each other: the facts left of the conversation, both on screen.
        assert stage.is_visible()
        assert stage.bounding_box()["x"] < composer.bounding_box()["x"]
    else:
        # The conversation first; the deal's facts one tap away, above it.
        assert not stage.is_visible()
        assert facts.bounding_box()["y"] < composer.bounding_box()["y"]
        page.get_by_test_id("record-facts-toggle").click()
        assert stage.is_visible()
        assert "New" in stage.inner_text()

    page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
    page.locator("li.msg", has_text="Line 29").wait_for()
    assert in_view(page, page.locator("[data-role=input]"))
    page.screenshot(path=str(screenshot_dir() / f"conversation-{name}.png"))


@pytest.mark.postgres
def test_note_mode_is_visible_and_ends_with_the_note(daphne_url, open_page, rep, conversation):  # noqa: F811
    page = open_page(PHONE)
    sign_in(page, daphne_url, rep)
    page.goto(f"{daphne_url}/conversations/{conversation.pk}/")
    page.wait_for_function(CHAT_OPEN)
    composer = page.get_by_test_id("composer")
    box = page.locator("[data-role=input]")
    reply_placeholder = box.get_attribute("placeholder")
    assert not page.get_by_test_id("note-banner").is_visible()

    page.get_by_test_id("note-toggle").check()
    assert page.get_by_test_id("note-banner").is_visible()
    assert composer.get_attribute("data-mode") == "note"
    assert box.get_attribute("placeholder") != reply_placeholder
    box.fill("Customer is price sensitive")
    box.press("Enter")
    page.wait_for_selector("li.msg.note:not(.pending)")

    # Back to replying: unticked, no banner, the reply placeholder; the next text goes out.
    assert not page.get_by_test_id("note-toggle").is_checked()
    assert not page.get_by_test_id("note-banner").is_visible()
    assert composer.get_attribute("data-mode") == "reply"
    assert box.get_attribute("placeholder") == reply_placeholder
    box.fill("Here is the quote")
    box.press("Enter")
    page.wait_for_selector("li.msg.outbound:not(.pending)")
    directions = dict(Message.objects.filter(author_user=rep).values_list("body", "direction"))
    assert directions == {
        "Customer is price sensitive": Message.Direction.NOTE,
        "Here is the quote": Message.Direction.OUTBOUND,
    }


def test_slash_picks_a_quick_reply_with_the_customers_name(
    live_server, open_page, rep, conversation
):
    QuickReply.objects.create(owner=rep, title="hello", body="Hi {first_name}, thanks for writing!")
    QuickReply.objects.create(owner=rep, title="price", body="Our prices, {first_name}.")
    page = open_page(DESKTOP)
    sign_in(page, live_server.url, rep)
    page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
    box = page.locator("[data-role=input]")
    box.click()
    box.press("/")
    options = page.get_by_test_id("quick-option")
    options.first.wait_for()
    assert options.count() == 2
    page.screenshot(path=str(screenshot_dir() / "quick-replies-desktop.png"))
    box.press("p")
    page.wait_for_function("document.querySelectorAll('[data-testid=quick-option]').length === 1")
    box.press("Backspace")
    options.nth(1).wait_for()
    box.press("ArrowDown")
    box.press("ArrowUp")
    box.press("Enter")
    assert box.input_value() == "Hi Clara, thanks for writing!"
    assert not page.get_by_test_id("quick-list").is_visible()
    assert not Message.objects.exists()  # choosing fills the box; it does not send

    box.fill("/pri")
    box.dispatch_event("input")
    options.first.wait_for()
    box.press("Escape")
    assert not page.get_by_test_id("quick-list").is_visible()
    assert box.input_value() == "/pri"


def test_an_oversized_or_refused_file_never_leaves_the_browser(
    live_server, open_page, rep, conversation, settings
):
    # The page is told the limit the server enforces (2 MB here, to keep the test quick).
    settings.COMMS_ATTACHMENT_MAX_BYTES = 2 * 1024 * 1024
    page = open_page(PHONE)
    sign_in(page, live_server.url, rep)
    page.goto(f"{live_server.url}/deals/{conversation.deal_id}/")
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if "/attachments/" in r.url else None)
    too_big = settings.COMMS_ATTACHMENT_MAX_BYTES + 1
    page.get_by_test_id("file-input").set_input_files(
        [{"name": "huge.pdf", "mimeType": "application/pdf", "buffer": b"\0" * too_big}]
    )
    status = page.get_by_test_id("composer-error")
    status.wait_for()
    assert "huge.pdf is too large: files may be at most 2 MB." in status.inner_text()
    page.get_by_test_id("file-input").set_input_files(
        [{"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"}]
    )
    page.wait_for_function(
        "document.querySelector('[data-testid=composer-error]').textContent.includes('tool.exe')"
    )
    assert "this type of file cannot be sent" in status.inner_text()
    assert uploads == []
    assert not Message.objects.exists()

    # A file within the limits goes, with a progress bar, and the refusal line clears.
    with page.expect_response("**/attachments/") as sent:
        page.get_by_test_id("file-input").set_input_files(
            [{"name": "quote.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 quote"}]
        )
    assert sent.value.status == 201
    assert not status.is_visible()
    assert Message.objects.get().attachments.get().name == "quote.pdf"
