"""Outbound: staff replies reach the provider (the simulator, over real sockets) exactly once."""

import socketserver
import threading
from datetime import timedelta
from email import message_from_bytes

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from comms import services as comms_services
from comms.models import Conversation, Message
from config.errors import ServiceError
from connectors import outbound, payloads
from connectors.models import MessageTemplate, OutboundDelivery
from connectors.tasks import outbound_send
from crm.models import ContactConsent
from tests.comms.conftest import cid
from tests.comms.guards import record_guards_off
from tests.comms.sockets import frame, staff_socket
from tests.connectors.conftest import SmtpHandler
from tests.connectors.helpers import (
    CUSTOMER,
    email_account,
    post_email,
    post_twilio,
    post_whatsapp,
    sms_account,
    wa_message,
    whatsapp_account,
)
from tests.factories import make_channel_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa(provider_simulator, team):
    return whatsapp_account(provider_simulator, team=team)


@pytest.fixture
def conversation(
    wa, client, provider_simulator, customer_contact, django_capture_on_commit_callbacks
):
    """Clara wrote on WhatsApp (which records her consent): her conversation, assigned to rep."""
    with django_capture_on_commit_callbacks(execute=True):
        payload = wa_message(provider_simulator, text="Oi, tudo bem?")
        assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    return Conversation.objects.get(kind="whatsapp")


@pytest.fixture
def reply(rep, django_capture_on_commit_callbacks):
    """Send as rep and run the queued send (Celery is eager in tests)."""

    def run(conversation, body="Olá Clara!", **kw):
        with django_capture_on_commit_callbacks(execute=True):
            return comms_services.message_send(
                author=rep, conversation=conversation, body=body, client_id=cid(), **kw
            ).message

    return run


def _retry_now(delivery):
    """Drive the retry the task scheduled: its time has come."""
    OutboundDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    outbound_send(delivery.pk)


def test_whatsapp_reply_reaches_the_provider(conversation, reply, provider_simulator, rep):
    message = reply(conversation)
    [sent] = provider_simulator.sends
    assert (sent.provider, sent.type, sent.text) == ("whatsapp", "text", "Olá Clara!")
    assert sent.to.lstrip("+") == CUSTOMER.lstrip("+")
    message.refresh_from_db()
    delivery = OutboundDelivery.objects.get(message=message)
    assert (delivery.state, delivery.attempts, delivery.provider_id) == (
        "sent",
        1,
        sent.provider_id,
    )
    assert message.status == "sent" and message.external_id == sent.provider_id


def test_delivery_row_is_written_with_the_message(
    conversation, rep, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = comms_services.message_send(
            author=rep, conversation=conversation, body="x", client_id=cid()
        ).message
    delivery = OutboundDelivery.objects.get(message=message)
    assert (delivery.state, delivery.account.kind, message.status) == (
        "pending",
        "whatsapp",
        "queued",
    )
    assert callbacks  # the send is queued only after commit


def test_note_creates_no_delivery(conversation, reply):
    reply(conversation, body="internal", note=True)
    assert not OutboundDelivery.objects.exists()


def test_500_then_200_sends_exactly_once(conversation, reply, provider_simulator):
    provider_simulator.fail_next(1, status=500, provider="whatsapp")
    message = reply(conversation)
    delivery = OutboundDelivery.objects.get(message=message)
    assert delivery.state == "pending" and delivery.next_attempt_at > timezone.now()
    assert provider_simulator.sends == []
    _retry_now(delivery)
    outbound_send(delivery.pk)  # a duplicate task changes nothing
    assert len(provider_simulator.sends) == 1
    delivery.refresh_from_db()
    message.refresh_from_db()
    assert (delivery.state, delivery.attempts, message.status) == ("sent", 2, "sent")


def test_a_send_whose_account_key_was_lost_waits_and_goes_once_the_key_is_back(
    conversation, reply, provider_simulator, settings
):
    from cryptography.fernet import Fernet

    restored = list(settings.KEEPLINE_CHANNEL_KEYS)
    settings.KEEPLINE_CHANNEL_KEYS = [Fernet.generate_key().decode()]
    message = reply(conversation)
    delivery = OutboundDelivery.objects.get(message=message)
    assert delivery.state == "pending" and "KEEPLINE_CHANNEL_KEYS" in delivery.error
    assert provider_simulator.sends == []
    settings.KEEPLINE_CHANNEL_KEYS = restored
    _retry_now(delivery)
    assert len(provider_simulator.sends) == 1
    delivery.refresh_from_db()
    assert delivery.state == "sent"


def test_429_waits_for_retry_after(conversation, reply, provider_simulator):
    provider_simulator.fail_next(1, status=429, provider="whatsapp", retry_after=120)
    message = reply(conversation)
    delivery = OutboundDelivery.objects.get(message=message)
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert delivery.state == "pending" and 100 < wait <= 120
    outbound_send(delivery.pk)  # too early: nothing is sent
    assert provider_simulator.sends == []
    assert outbound.due_delivery_ids() == []
    _retry_now(delivery)
    assert len(provider_simulator.sends) == 1


def test_gives_up_after_the_last_attempt(conversation, reply, provider_simulator):
    provider_simulator.fail_next(outbound.MAX_ATTEMPTS, status=503, provider="whatsapp")
    message = reply(conversation)
    delivery = OutboundDelivery.objects.get(message=message)
    for _ in range(outbound.MAX_ATTEMPTS - 1):
        _retry_now(delivery)
    delivery.refresh_from_db()
    message.refresh_from_db()
    assert (delivery.state, delivery.attempts, message.status) == (
        "failed",
        outbound.MAX_ATTEMPTS,
        "failed",
    )
    assert provider_simulator.sends == []


def test_400_fails_with_the_providers_reason(conversation, reply, provider_simulator):
    provider_simulator.fail_next(
        1, status=400, provider="whatsapp", code=131026, message="Message undeliverable"
    )
    message = reply(conversation)
    message.refresh_from_db()
    assert message.status == "failed" and "Message undeliverable" in message.failed_reason
    assert OutboundDelivery.objects.get(message=message).state == "failed"


def test_read_timeout_fails_and_is_not_resent(conversation, reply, provider_simulator, monkeypatch):
    monkeypatch.setattr(outbound, "SEND_TIMEOUT", 0.3)
    provider_simulator.fail_next(1, status=200, provider="whatsapp", delay=1.0)
    message = reply(conversation)
    delivery = OutboundDelivery.objects.get(message=message)
    assert delivery.state == "failed"
    outbound_send(delivery.pk)
    message.refresh_from_db()
    assert message.status == "failed" and "may have been sent" in message.failed_reason
    assert delivery.attempts == 1


def test_delivery_found_sending_is_not_resent(
    conversation, rep, provider_simulator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        message = comms_services.message_send(
            author=rep, conversation=conversation, body="x", client_id=cid()
        ).message
    delivery = OutboundDelivery.objects.get(message=message)
    OutboundDelivery.objects.filter(pk=delivery.pk).update(state="sending")  # a worker died
    outbound_send(delivery.pk)
    message.refresh_from_db()
    assert provider_simulator.sends == []
    assert message.status == "failed" and "may have been sent" in message.failed_reason


def test_no_consent_refuses_and_stores_nothing(
    conversation, rep, customer_contact, provider_simulator
):
    ContactConsent.objects.filter(contact=customer_contact).update(status="withdrawn")
    before = Message.objects.count()
    with pytest.raises(ServiceError) as refused:
        comms_services.message_send(
            author=rep, conversation=conversation, body="oi", client_id=cid()
        )
    assert refused.value.status == 400 and "consent" in refused.value.detail
    assert Message.objects.count() == before and not OutboundDelivery.objects.exists()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_no_consent_is_an_error_frame_on_the_socket(conversation, rep, customer_contact):
    await sync_to_async(ContactConsent.objects.filter(contact=customer_contact).update)(
        status="withdrawn"
    )
    before = await sync_to_async(Message.objects.count)()
    ws, ok, _ = await staff_socket(rep, conversation.pk)
    assert ok
    await frame(ws, "ready")
    key = str(cid())
    await ws.send_json_to({"action": "send", "client_id": key, "body": "oi"})
    refused = await frame(ws, "error")
    assert (refused["error"], refused["client_id"]) == ("channel_refused", key)
    assert "consent" in refused["detail"]
    assert await sync_to_async(Message.objects.count)() == before
    assert not await sync_to_async(OutboundDelivery.objects.exists)()
    await ws.disconnect()


def test_no_consent_is_a_400_on_the_api(conversation, rep, customer_contact, client):
    ContactConsent.objects.filter(contact=customer_contact).delete()
    client.force_login(rep)
    response = client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"body": "oi", "client_id": str(cid())},
        content_type="application/json",
    )
    assert response.status_code == 400 and "consent" in response.json()["detail"]


def _close_window(conversation):
    with record_guards_off():  # time travel: only the tables' owner could
        Message.objects.filter(conversation=conversation, direction="inbound").update(
            created_at=timezone.now() - timedelta(hours=25)
        )


def test_window_closing_during_retries_fails_the_free_text_unsent(
    conversation, reply, provider_simulator
):
    """Queued while the window was open, the provider down until after it closed: WhatsApp would
    refuse free text now, so it is not sent and the rep is told to use a template."""
    provider_simulator.fail_next(1, status=503, provider="whatsapp")
    message = reply(conversation)
    delivery = OutboundDelivery.objects.get(message=message)
    assert delivery.state == "pending"
    _close_window(conversation)
    _retry_now(delivery)
    assert provider_simulator.sends == []
    delivery.refresh_from_db()
    message.refresh_from_db()
    assert (delivery.state, message.status) == ("failed", "failed")
    assert "approved template" in message.failed_reason


def test_reply_goes_to_the_primary_number(conversation, reply, provider_simulator):
    contact = conversation.contact
    contact.phones.update(is_primary=False)
    contact.phones.create(number="+5511988887777", is_primary=True)
    reply(conversation)
    [sent] = provider_simulator.sends
    assert sent.to.lstrip("+") == "5511988887777"


def test_reply_goes_out_from_the_number_the_customer_wrote_to(
    client, provider_simulator, customer_contact, reply, django_capture_on_commit_callbacks
):
    """Two WhatsApp numbers, neither a team's: the customer wrote to the newer one, so the reply
    leaves from it, not from the older one (which no provider answers)."""
    make_channel_account(
        "whatsapp",
        name="older number",
        settings={"phone_number_id": "109999999999999", "api_base_url": "http://127.0.0.1:9"},
    )
    written_to = whatsapp_account(provider_simulator)
    with django_capture_on_commit_callbacks(execute=True):
        payload = wa_message(provider_simulator, text="Oi")
        assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    conversation = Conversation.objects.get(kind="whatsapp")
    assert outbound.account_for(conversation) == written_to
    message = reply(conversation)
    assert len(provider_simulator.sends) == 1
    assert OutboundDelivery.objects.get(message=message).account == written_to


def test_window_closed_refuses_free_text_accepts_template(
    conversation, wa, rep, provider_simulator, django_capture_on_commit_callbacks
):
    _close_window(conversation)
    assert outbound.whatsapp_window_for(conversation)["open"] is False
    with pytest.raises(ServiceError) as refused:
        comms_services.message_send(
            author=rep, conversation=conversation, body="oi", client_id=cid()
        )
    assert "24-hour window is closed" in refused.value.detail
    template = MessageTemplate.objects.create(
        account=wa,
        name="follow_up",
        language="pt_BR",
        body="Olá {{1}}, podemos falar?",
        approved=True,
    )
    assert list(outbound.whatsapp_window_for(conversation)["templates"]) == [template]
    key = cid()
    with django_capture_on_commit_callbacks(execute=True):
        result = outbound.template_send(
            author=rep,
            conversation=conversation,
            template=template,
            variables=["Clara"],
            client_id=key,
        )
    again = outbound.template_send(
        author=rep, conversation=conversation, template=template, variables=["Clara"], client_id=key
    )
    assert again.message.pk == result.message.pk and not again.created
    [sent] = provider_simulator.sends
    assert (sent.type, sent.template, sent.language, sent.variables) == (
        "template",
        "follow_up",
        "pt_BR",
        ("Clara",),
    )
    result.message.refresh_from_db()
    assert result.message.body == "Olá Clara, podemos falar?" and result.message.status == "sent"
    delivery = OutboundDelivery.objects.get(message=result.message)
    assert delivery.template["name"] == "follow_up" and delivery.template["variables"] == ["Clara"]


def test_sms_reply_through_twilio(
    client, provider_simulator, team, customer_contact, reply, django_capture_on_commit_callbacks
):
    sms = sms_account(provider_simulator, team=team)
    params = payloads.build_twilio_message(
        account_sid=provider_simulator.settings.account_sid,
        from_number=CUSTOMER,
        to_number=provider_simulator.settings.sms_number,
        body="Oi",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_twilio(client, provider_simulator, sms, params).status_code == 200
    conversation = Conversation.objects.get(kind="sms")
    message = reply(conversation, body="Olá por SMS")
    [sent] = provider_simulator.sends
    assert (sent.provider, sent.text, sent.to) == ("twilio", "Olá por SMS", CUSTOMER)
    message.refresh_from_db()
    assert message.status == "sent" and message.external_id == sent.provider_id


@pytest.fixture
def send_file(rep, django_capture_on_commit_callbacks, settings, tmp_path):
    """Upload a file into the conversation as rep, with a caption, and run the queued send."""
    settings.MEDIA_ROOT = tmp_path

    def run(conversation, name, content, content_type, body=""):
        with django_capture_on_commit_callbacks(execute=True):
            return comms_services.attachment_upload(
                actor=rep,
                conversation=conversation,
                upload=SimpleUploadedFile(name, content, content_type=content_type),
                body=body,
                client_id=cid(),
            ).message

    return run


def test_whatsapp_file_is_uploaded_then_sent_once_with_its_caption(
    conversation, send_file, provider_simulator
):
    pdf = b"%PDF-1.4 the quote"
    message = send_file(conversation, "quote.pdf", pdf, "application/pdf", body="Sua proposta")
    [sent] = provider_simulator.sends
    assert (sent.type, sent.text) == ("document", "Sua proposta")
    assert sent.payload["document"]["filename"] == "quote.pdf"
    [media_id] = sent.media
    stored = provider_simulator._get_media(media_id)  # what the upload carried
    assert (stored.content, stored.mime_type) == (pdf, "application/pdf")
    message.refresh_from_db()
    assert message.status == "sent" and message.external_id == sent.provider_id


def test_whatsapp_photo_goes_as_an_image(conversation, send_file, provider_simulator):
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
    send_file(conversation, "shelf.png", png, "image/png")
    [sent] = provider_simulator.sends
    assert sent.type == "image" and "filename" not in sent.payload["image"]


def test_a_failed_upload_is_retried_and_the_file_sent_once(
    conversation, send_file, provider_simulator
):
    provider_simulator.fail_next(1, status=503, provider="whatsapp")  # the upload
    message = send_file(conversation, "quote.pdf", b"%PDF-1.4 q", "application/pdf")
    delivery = OutboundDelivery.objects.get(message=message)
    assert delivery.state == "pending" and provider_simulator.sends == []
    _retry_now(delivery)
    assert len(provider_simulator.sends) == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("sent", 2)


def test_a_file_is_refused_on_sms_with_the_reason(
    client,
    provider_simulator,
    team,
    customer_contact,
    send_file,
    django_capture_on_commit_callbacks,
):
    sms_account(provider_simulator, team=team)
    ContactConsent.objects.create(
        contact=customer_contact, channel="sms", status="granted", recorded_at=timezone.now()
    )
    conversation = comms_services.conversation_start(
        actor=customer_contact.owner, contact=customer_contact, kind="sms", subject="SMS"
    )
    with pytest.raises(ServiceError) as refused:
        send_file(conversation, "quote.pdf", b"%PDF-1.4 q", "application/pdf")
    assert refused.value.status == 400 and "by SMS" in refused.value.detail
    assert not Message.objects.filter(conversation=conversation).exists()
    assert provider_simulator.sends == []


@pytest.fixture
def email_conversation(
    client,
    provider_simulator,
    team,
    customer_contact,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    """Clara emailed the mailbox (Message-ID <m1@customer.example>); replies go to smtp_server."""
    mailbox = email_account(provider_simulator, team=team)
    mailbox.settings.update(
        smtp_host="127.0.0.1", smtp_port=smtp_server.server_address[1], smtp_use_tls=False
    )
    mailbox.save(update_fields=["settings"])
    raw = payloads.build_email(
        from_address="clara@customer.example",
        to_address="sales@keepline.example",
        subject="Proposta",
        text="Primeira",
        message_id="<m1@customer.example>",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_email(client, mailbox, raw).status_code == 200
    return Conversation.objects.get(kind="email")


def test_email_reply_threads(email_conversation, reply, smtp_server):
    message = reply(email_conversation, body="Segue a proposta.")
    [data] = smtp_server.received
    sent = message_from_bytes(data)
    assert sent["In-Reply-To"] == "<m1@customer.example>"
    assert "<m1@customer.example>" in sent["References"]
    assert sent["Subject"] == "Re: Proposta" and sent["To"] == "clara@customer.example"
    message.refresh_from_db()
    assert message.status == "sent" and message.external_id == sent["Message-ID"]


def test_email_reply_carries_its_file(email_conversation, send_file, smtp_server):
    conversation = email_conversation
    send_file(conversation, "quote.pdf", b"%PDF-1.4 q", "application/pdf", body="Segue.")
    [data] = smtp_server.received
    sent = message_from_bytes(data)
    [attached] = [p for p in sent.walk() if p.get_filename()]
    assert attached.get_filename() == "quote.pdf"
    assert attached.get_payload(decode=True) == b"%PDF-1.4 q"
    assert (
        "Segue."
        in next(p for p in sent.walk() if p.get_content_type() == "text/plain")
        .get_payload(decode=True)
        .decode()
    )


def test_templates_api_lists_and_sends(
    conversation, wa, rep, other_rep, client, provider_simulator, django_capture_on_commit_callbacks
):
    _close_window(conversation)
    template = MessageTemplate.objects.create(
        account=wa, name="hello", language="en", body="Hi {{1}}", approved=True
    )
    MessageTemplate.objects.create(account=wa, name="draft", language="en", body="x")
    url = f"/api/v1/conversations/{conversation.pk}/templates/"
    client.force_login(other_rep)
    assert client.get(url).status_code == 404
    client.force_login(rep)
    listed = client.get(url).json()
    assert listed["applies"] and not listed["open"]
    assert [t["name"] for t in listed["templates"]] == ["hello"]
    assert listed["templates"][0]["variables"] == 1
    body = {"template": template.pk, "variables": [], "client_id": str(cid())}
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 400 and not OutboundDelivery.objects.exists()
    body["variables"] = ["Clara"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, body, content_type="application/json")
    assert response.status_code == 201 and response.json()["body"] == "Hi Clara"
    [sent] = provider_simulator.sends
    assert (sent.type, sent.template, sent.variables) == ("template", "hello", ("Clara",))


def test_composer_shows_the_closed_window_and_the_templates(conversation, wa, rep, client):
    from django.urls import reverse

    MessageTemplate.objects.create(
        account=wa, name="hello", language="en", body="Hi {{1}}", approved=True
    )
    client.force_login(rep)
    url = reverse("comms:conversation-detail", args=[conversation.pk])
    page = client.get(url).content.decode()
    assert "24-hour window is closed" not in page
    _close_window(conversation)
    page = client.get(url).content.decode()
    assert "The 24-hour window is closed: only approved templates can be sent" in page
    assert 'data-testid="template-picker"' in page and "hello (en)" in page


def test_sweeper_finds_due_and_stuck_deliveries(
    conversation, rep, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        first, second = (
            comms_services.message_send(
                author=rep, conversation=conversation, body=b, client_id=cid()
            ).message
            for b in ("a", "b")
        )
    due = OutboundDelivery.objects.get(message=first)
    stuck = OutboundDelivery.objects.get(message=second)
    OutboundDelivery.objects.filter(pk=due.pk).update(next_attempt_at=timezone.now())
    OutboundDelivery.objects.filter(pk=stuck.pk).update(
        state="sending", updated_at=timezone.now() - timedelta(hours=1)
    )
    assert outbound.due_delivery_ids() == [due.pk, stuck.pk]


def test_batch_refuses_only_the_refused_send_and_answers_a_stored_repeat(conversation, rep):
    stored = comms_services.message_send(
        author=rep, conversation=conversation, body="before", client_id=cid()
    ).message
    _close_window(conversation)

    def draft(body, client_id=None, note=False):
        return comms_services.staff_draft(
            author=rep,
            conversation=conversation,
            body=body,
            client_id=client_id or cid(),
            note=note,
        )

    note, free, repeat = comms_services.messages_store(
        [draft("a note", note=True), draft("free text"), draft("before", stored.client_id)]
    )
    assert note.created and note.message.direction == "note"
    assert isinstance(free, ServiceError) and free.code == "channel_refused"
    assert (repeat.created, repeat.message.pk) == (False, stored.pk)
    assert not Message.objects.filter(body="free text").exists()
    assert OutboundDelivery.objects.count() == 1  # the first send only


class _SilentAfterData(SmtpHandler):
    """Takes the message, then never answers the end of DATA."""

    def handle(self):
        self.wfile.write(b"220 test\r\n")
        while line := self.rfile.readline():
            if line.strip().upper() == b"DATA":
                self.wfile.write(b"354 go\r\n")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                self.server.received.append(b"")
                threading.Event().wait(2)
                return
            self.wfile.write(b"250 ok\r\n")


def test_email_without_an_answer_after_data_is_not_resent(
    client,
    provider_simulator,
    team,
    customer_contact,
    reply,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from connectors.providers import smtp

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SilentAfterData)
    server.daemon_threads = True
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(smtp.SmtpConfig, "__init__", _short_timeout(smtp.SmtpConfig.__init__))
    try:
        mailbox = email_account(provider_simulator, team=team)
        mailbox.settings.update(
            smtp_host="127.0.0.1", smtp_port=server.server_address[1], smtp_use_tls=False
        )
        mailbox.save(update_fields=["settings"])
        raw = payloads.build_email(
            from_address="clara@customer.example",
            to_address="sales@keepline.example",
            subject="Proposta",
            text="Primeira",
            message_id="<m1@customer.example>",
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert post_email(client, mailbox, raw).status_code == 200
        message = reply(Conversation.objects.get(kind="email"), body="Segue.")
    finally:
        server.shutdown()
        server.server_close()
    message.refresh_from_db()
    assert len(server.received) == 1
    assert message.status == "failed" and "may have been sent" in message.failed_reason


def _short_timeout(init):
    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        object.__setattr__(self, "timeout", 0.5)

    return patched
