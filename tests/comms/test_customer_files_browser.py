"""The customer page in a real browser against daphne: the customer sends an image, the rep sees
its preview in the chat panel, and the customer sees their messages go to read."""

import io

import pytest

from comms.models import Attachment
from tests.comms.test_staff_browser import sign_in
from tests.conftest import screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CHAT_OPEN = (
    "() => { const chat = (document.querySelector('[data-chat]') || {}).keeplineChat;"
    " return !!(chat && chat.ws && chat.ws.readyState === 1); }"
)


def image_shown(selector: str) -> str:
    """A condition for wait_for_function: the image is there and its pixels were loaded."""
    return (
        f"() => {{ const i = document.querySelector({selector!r});"
        " return !!(i && i.complete && i.naturalWidth > 0); }"
    )


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (800, 500), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def media_env(tmp_path, monkeypatch):
    """daphne (a process of its own) stores files under this test's directory."""
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path))
    return tmp_path


def test_customer_sends_an_image_rep_sees_its_preview_and_customer_sees_read(
    media_env, daphne_url, browser, rep, conversation, link_and_token
):
    _link, token = link_and_token
    staff = browser.new_context(viewport={"width": 1280, "height": 800})
    customer = browser.new_context(viewport={"width": 375, "height": 812})
    try:
        rep_page = staff.new_page()
        rep_page.set_default_timeout(10_000)
        sign_in(rep_page, daphne_url, rep)
        rep_page.goto(f"{daphne_url}/conversations/{conversation.pk}/")
        rep_page.wait_for_function(CHAT_OPEN)

        page = customer.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{daphne_url}/c/{token}/")
        page.wait_for_function("() => document.getElementById('chat-status').textContent === ''")

        # A type the server refuses is refused in the browser, before any upload.
        uploads = []
        page.on(
            "request",
            lambda r: uploads.append(r) if r.method == "POST" and "attachments" in r.url else None,
        )
        page.set_input_files(
            "[data-testid=file-input]",
            files=[{"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"}],
        )
        page.locator("li.error").wait_for()
        assert uploads == []

        page.fill("[data-testid=composer]", "Here is the photo of the damage")
        page.press("[data-testid=composer]", "Enter")
        page.set_input_files(
            "[data-testid=file-input]",
            files=[{"name": "damage.png", "mimeType": "image/png", "buffer": png_bytes()}],
        )
        # The customer's own file: its preview, its size; the earlier error line is gone.
        mine = page.locator("li.mine:not(.pending) img.thumb")
        mine.wait_for()
        page.wait_for_function(image_shown("li.mine img.thumb"))
        assert " KB" in page.locator("li.mine .file-size").inner_text()
        assert page.locator("li.error").count() == 0
        assert len(uploads) == 1 and Attachment.objects.count() == 1

        # The rep sees it live with its preview and size; their open chat reads it.
        rep_page.wait_for_function(image_shown("img.attachment-thumb"))
        assert "damage.png · " in rep_page.locator("a.attachment").inner_text()
        page.wait_for_function(
            "() => { const t = document.querySelectorAll('li.mine .ticks');"
            " return t.length === 2 && [...t].every(x => x.dataset.state === 'read'); }"
        )
        assert page.locator("li.mine .ticks svg").count() == 2  # drawn inline, no icon font
        page.screenshot(path=str(screenshot_dir() / "customer-chat-375.png"))
        rep_page.screenshot(path=str(screenshot_dir() / "conversation-file-1280.png"))
    finally:
        staff.close()
        customer.close()
