"""The simulator as a customer (signed webhooks) and its control API, over loopback sockets."""

import base64
import hashlib
from email import message_from_bytes, policy
from urllib.parse import parse_qsl

import httpx
import pytest

from connectors import payloads, signatures
from connectors.management.commands.channel_simulator import Command
from connectors.providers.twilio import TwilioClient
from connectors.providers.whatsapp import WhatsAppClient
from connectors.simulator import ProviderSimulator


@pytest.fixture
def customer(provider_simulator, webhook_receiver):
    provider_simulator.target = webhook_receiver.base_url
    return provider_simulator


def _form(request):
    return dict(parse_qsl(request.body.decode(), keep_blank_values=True))


def test_whatsapp_customer_text_is_a_signed_cloud_api_webhook(customer, webhook_receiver):
    delivery = customer.send_whatsapp("Is the offer still valid?")
    assert delivery.status_code == 200
    (request,) = webhook_receiver.wait_for(1)
    assert request.path == "/hooks/whatsapp/"
    assert request.headers["Content-Type"] == "application/json"
    settings = customer.settings
    assert signatures.verify_whatsapp_signature(
        settings.app_secret, request.body, request.headers["X-Hub-Signature-256"]
    )
    assert not signatures.verify_whatsapp_signature(
        "another-secret", request.body, request.headers["X-Hub-Signature-256"]
    )
    (message,) = payloads.parse_whatsapp(request.body).messages
    assert message.provider_id == delivery.provider_id
    assert message.account_key == settings.phone_number_id
    assert (message.from_address, message.to) == (
        settings.customer_number,
        settings.whatsapp_number,
    )
    assert (message.text, message.contact_name) == ("Is the offer still valid?", "Casey Customer")


def test_whatsapp_customer_media_can_be_fetched_back(customer, webhook_receiver):
    content = b"%PDF-1.4 signed contract"
    customer.send_whatsapp(
        "signed", from_number="+4915112345678", media=(content, "application/pdf", "contract.pdf")
    )
    (request,) = webhook_receiver.wait_for(1)
    (message,) = payloads.parse_whatsapp(request.body).messages
    assert message.from_address == "+4915112345678"
    (media,) = message.media
    assert (message.type, media.filename, message.text) == ("document", "contract.pdf", "signed")
    assert media.sha256 == base64.b64encode(hashlib.sha256(content).digest()).decode()
    fetched = WhatsAppClient(customer.whatsapp_config()).fetch_media(media.media_id)
    assert (fetched.content, fetched.mime_type) == (content, "application/pdf")


def test_whatsapp_status_webhooks(customer, webhook_receiver):
    customer.send_whatsapp_status("wamid.1", "read")
    customer.send_whatsapp_status("wamid.2", "failed", error_code=131047, error_title="Too late")
    read, failed = webhook_receiver.wait_for(2)
    (update,) = payloads.parse_whatsapp(read.body).statuses
    assert (update.provider_id, update.status) == ("wamid.1", "read")
    (update,) = payloads.parse_whatsapp(failed.body).statuses
    assert (update.status, update.error_code) == ("failed", "131047")
    assert update.error.startswith("Too late")


def test_sms_customer_message_is_signed_over_the_hook_url(customer, webhook_receiver):
    delivery = customer.send_sms("Call me back", account_id="7")
    assert delivery.status_code == 200
    (request,) = webhook_receiver.wait_for(1)
    assert request.path == "/hooks/twilio/7/"
    form = _form(request)
    settings = customer.settings
    assert signatures.verify_twilio_signature(
        settings.auth_token, request.url, form, request.headers["X-Twilio-Signature"]
    )
    assert not signatures.verify_twilio_signature(
        settings.auth_token,
        request.url,
        {**form, "Body": "x"},
        request.headers["X-Twilio-Signature"],
    )
    (message,) = payloads.parse_twilio(form).messages
    assert (message.provider_id, message.account_key) == (
        delivery.provider_id,
        settings.account_sid,
    )
    assert (message.from_address, message.to) == (settings.customer_number, settings.sms_number)
    assert message.text == "Call me back"


def test_mms_media_url_is_fetchable_with_the_account_credentials(customer, webhook_receiver):
    customer.send_sms("photo", media=[(b"\xff\xd8jpeg", "image/jpeg")])
    (request,) = webhook_receiver.wait_for(1)
    (message,) = payloads.parse_twilio(_form(request)).messages
    (media,) = message.media
    assert media.url.startswith(customer.base_url + "/2010-04-01/Accounts/")
    fetched = TwilioClient(customer.twilio_config()).fetch_media(media.url)
    assert (fetched.content, fetched.mime_type) == (b"\xff\xd8jpeg", "image/jpeg")
    with pytest.raises(Exception, match="20003|Authenticate"):
        TwilioClient(customer.twilio_config(auth_token="nope")).fetch_media(media.url)


def test_sms_status_callback(customer, webhook_receiver):
    customer.send_sms_status("SM123", "undelivered", error_code=30005)
    (request,) = webhook_receiver.wait_for(1)
    form = _form(request)
    assert signatures.verify_twilio_signature(
        customer.settings.auth_token, request.url, form, request.headers["X-Twilio-Signature"]
    )
    (update,) = payloads.parse_twilio(form).statuses
    assert (update.provider_id, update.status, update.error_code) == ("SM123", "failed", "30005")


def test_email_customer_message_is_raw_mime_with_the_shared_secret(customer, webhook_receiver):
    delivery = customer.send_email(
        "See below", subject="Re: Offer", in_reply_to="<k1@keepline.example>", account_id="3"
    )
    (request,) = webhook_receiver.wait_for(1)
    assert request.path == "/hooks/email/3/"
    assert request.headers["Content-Type"] == "message/rfc822"
    assert signatures.verify_email_secret(
        customer.settings.inbound_secret, request.headers["X-Keepline-Secret"]
    )
    message = message_from_bytes(request.body, policy=policy.default)
    assert message["Message-ID"] == delivery.provider_id
    assert (message["Subject"], message["In-Reply-To"]) == ("Re: Offer", "<k1@keepline.example>")
    assert message["To"] == customer.settings.email_address


def test_keeplines_answer_is_reported(customer, webhook_receiver):
    webhook_receiver.status = 403
    assert customer.send_whatsapp("hello").status_code == 403


def test_accepted_sends_are_reported_sent_then_delivered(customer, webhook_receiver):
    customer.auto_status = True
    result = WhatsAppClient(customer.whatsapp_config()).send_text(to="+15557654321", body="Hi")
    sent, delivered = webhook_receiver.wait_for(2)
    statuses = [payloads.parse_whatsapp(r.body).statuses[0] for r in (sent, delivered)]
    assert [(s.provider_id, s.status) for s in statuses] == [
        (result.provider_id, "sent"),
        (result.provider_id, "delivered"),
    ]


def test_twilio_sends_are_reported_to_their_status_callback(customer, webhook_receiver):
    customer.auto_status = True
    callback = webhook_receiver.base_url + "/hooks/twilio/9/"
    result = TwilioClient(customer.twilio_config()).send_sms(
        to="+15557654321", body="Hi", status_callback=callback
    )
    sent, delivered = webhook_receiver.wait_for(2)
    for request, state in ((sent, "sent"), (delivered, "delivered")):
        assert request.url == callback
        form = _form(request)
        assert signatures.verify_twilio_signature(
            customer.settings.auth_token, callback, form, request.headers["X-Twilio-Signature"]
        )
        assert form["MessageSid"] == result.provider_id and form["MessageStatus"] == state


def test_webhooks_need_a_target(provider_simulator):
    with pytest.raises(RuntimeError, match="no target"):
        provider_simulator.send_whatsapp("hello")
    with pytest.raises(RuntimeError, match="no target"):
        provider_simulator.send_sms("hello")


def test_listens_on_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        ProviderSimulator(host="0.0.0.0")  # noqa: S104


# --- control API ---


def test_control_api(provider_simulator, webhook_receiver):
    control = httpx.Client(base_url=provider_simulator.base_url + "/_sim")
    assert control.get("/health").json()["ok"] is True
    config = control.get("/config").json()
    assert config["phone_number_id"] == provider_simulator.settings.phone_number_id
    assert config["base_url"] == provider_simulator.base_url

    assert control.post("/failures", json={"count": 1, "status": 429, "retry_after": 2}).is_success
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    with pytest.raises(Exception, match="Rate limit"):
        client.send_text(to="+15557654321", body="x")
    result = client.send_text(to="+15557654321", body="x")
    (sent,) = control.get("/sends").json()["sends"]
    assert (sent["provider_id"], sent["text"]) == (result.provider_id, "x")
    assert [c[2] for c in control.get("/calls").json()["calls"]] == [429, 200]

    assert control.post("/customer/whatsapp", json={"text": "hi"}).status_code == 502  # no target
    provider_simulator.target = webhook_receiver.base_url
    answer = control.post(
        "/customer/whatsapp",
        json={
            "text": "photo",
            "from": "+4915112345678",
            "media": {
                "content_base64": base64.b64encode(b"img").decode(),
                "mime_type": "image/png",
            },
        },
    ).json()
    assert answer["status_code"] == 200 and answer["provider_id"].startswith("wamid.")
    assert control.post("/customer/sms", json={"text": "sms"}).json()["status_code"] == 200
    assert control.post("/customer/email", json={"text": "mail"}).json()["status_code"] == 200
    status = control.post("/status/whatsapp", json={"message_id": "wamid.1", "status": "read"})
    assert status.json()["status_code"] == 200
    status = control.post("/status/sms", json={"message_sid": "SM1", "status": "delivered"})
    assert status.json()["status_code"] == 200
    paths = [r.path for r in webhook_receiver.wait_for(5)]
    assert paths == [
        "/hooks/whatsapp/",
        "/hooks/twilio/1/",
        "/hooks/email/1/",
        "/hooks/whatsapp/",
        "/hooks/twilio/1/",
    ]

    assert control.post("/status/whatsapp", json={}).status_code == 400
    assert control.post("/failures", content=b"{nope").status_code == 400
    assert control.get("/nothing").status_code == 404
    assert control.post("/reset").is_success
    assert control.get("/sends").json() == {"sends": []}


# --- management command ---


def test_command_help_documents_the_prompt():
    help_text = Command().create_parser("manage.py", "channel_simulator").format_help()
    for word in ("--port", "--target", "sms [+12025550143] <text>", "status <provider id>"):
        assert word in help_text


def test_command_prompt_lines_drive_the_simulator(customer, webhook_receiver, capsys):
    command = Command()
    command._run(customer, "Hello from the prompt")
    command._run(customer, "sms +15550001111 Text me")
    command._run(customer, "email Question | Do you ship to Berlin?")
    command._run(customer, "fail 500 2 twilio")
    whatsapp, sms, email = webhook_receiver.wait_for(3)
    assert payloads.parse_whatsapp(whatsapp.body).messages[0].text == "Hello from the prompt"
    assert payloads.parse_twilio(_form(sms)).messages[0].from_address == "+15550001111"
    assert message_from_bytes(email.body)["Subject"] == "Question"
    with pytest.raises(Exception, match="Internal Server Error"):
        TwilioClient(customer.twilio_config()).send_sms(to="+15557654321", body="x")
