"""The customer's web-chat page: scope, notices, refusals and inert bodies."""

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from comms import services
from comms.models import CustomerLink

XSS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "javascript:alert(document.cookie)",
    '<a href="javascript:alert(1)">click</a>',
]


def cid() -> str:
    return str(uuid.uuid4())


def in_thread(fn, **kwargs):
    """Playwright's sync API keeps an event loop in the test thread; services broadcast with
    async_to_sync, so they run in a plain thread (closing its connection after)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def call():
        try:
            return fn(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def page_config(response) -> dict:
    html = response.content.decode()
    match = re.search(
        r'<script id="chat-config" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(match.group(1))


def test_page_shows_company_rep_notice_and_customer_history(
    client, rep, conversation, link_and_token, settings
):
    settings.ORGANISATION_NAME = "Acme <Tools>"
    _link, token = link_and_token
    services.message_send(author=rep, conversation=conversation, body="visible", client_id=cid())
    services.message_send(
        author=rep, conversation=conversation, body="secret note", client_id=cid(), note=True
    )
    gone = services.message_send(
        author=rep, conversation=conversation, body="retracted text", client_id=cid()
    ).message
    services.message_retract(actor=rep, conversation=conversation, message_id=gone.pk)
    response = client.get(f"/c/{token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme &lt;Tools&gt;" in html
    assert rep.get_full_name() in html
    assert "This conversation is recorded" in html
    assert "secret note" not in html and "retracted text" not in html
    assert [m["body"] for m in page_config(response)["history"]] == ["visible"]
    assert response["Referrer-Policy"] == "no-referrer"
    catch_up = client.get(f"/c/{token}/messages/?after=0").json()
    assert [m["body"] for m in catch_up["results"]] == ["visible"]


def test_xss_payloads_are_inert_on_the_page_and_in_body_html(
    client, rep, conversation, link_and_token
):
    _link, token = link_and_token
    for payload in XSS:
        services.message_send(author=rep, conversation=conversation, body=payload, client_id=cid())
    response = client.get(f"/c/{token}/")
    html = response.content.decode()
    # The only <script> elements are the two JSON blocks and our own file.
    assert html.count("<script") == 3
    assert "<img" not in html and 'onerror="alert' not in html
    for message in page_config(response)["history"]:
        assert "<script" not in message["body_html"] and "<img" not in message["body_html"]
        assert '<a href="javascript' not in message["body_html"]


def test_refused_links_get_a_clear_page(client, rep, conversation, link_and_token):
    link, token = link_and_token
    bad = client.get("/c/not-a-token/")
    assert bad.status_code == 404 and "not valid" in bad.content.decode()
    services.customer_link_revoke(actor=rep, link=link)
    revoked = client.get(f"/c/{token}/")
    assert revoked.status_code == 410 and "withdrawn" in revoked.content.decode()
    link2, token2 = services.customer_link_issue(actor=rep, conversation=conversation)
    CustomerLink.objects.filter(pk=link2.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    expired = client.get(f"/c/{token2}/")
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    assert client.get(f"/c/{token2}/messages/").status_code == 410


def test_customer_downloads_only_customer_visible_files(
    client, rep, conversation, link_and_token, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from audit.models import AuditEvent

    settings.MEDIA_ROOT = tmp_path
    _link, token = link_and_token
    shared = services.attachment_upload(
        actor=rep,
        conversation=conversation,
        upload=SimpleUploadedFile("a.txt", b"hello", content_type="text/plain"),
    )
    internal = services.attachment_upload(
        actor=rep,
        conversation=conversation,
        upload=SimpleUploadedFile("b.txt", b"internal", content_type="text/plain"),
        note=True,
    )
    shared_id = shared.data["attachments"][0]["id"]
    internal_id = internal.data["attachments"][0]["id"]
    response = client.get(f"/c/{token}/attachments/{shared_id}/")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert client.get(f"/c/{token}/attachments/{internal_id}/").status_code == 404
    event = AuditEvent.objects.filter(action="comms.attachment.downloaded").get()
    assert event.actor_type == "contact"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_customer_page_in_a_phone_browser(live_server, page, rep, conversation, link_and_token):
    _link, token = link_and_token
    for body in [*XSS, "see https://example.com"]:
        in_thread(
            services.message_send, author=rep, conversation=conversation, body=body, client_id=cid()
        )
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_server.url}/c/{token}/")
    messages = page.get_by_test_id("messages").locator("li")
    assert messages.count() == len(XSS) + 1
    assert page.locator("#messages img").count() == 0
    assert page.locator("#messages script").count() == 0
    hrefs = page.locator("#messages a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs == ["https://example.com/"]
    assert dialogs == []
    assert page.get_by_test_id("recorded-notice").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # Shift+Enter adds a line, Enter sends (shown as pending until the socket acks).
    composer = page.get_by_test_id("composer")
    composer.fill("line one")
    composer.press("Shift+Enter")
    composer.type("line two")
    assert page.get_by_test_id("composer").input_value() == "line one\nline two"
    composer.press("Enter")
    assert page.locator("#messages li.pending").count() == 1
    assert composer.input_value() == ""
