"""The provider clients against the simulator, over real loopback sockets (no client mocks)."""

import hashlib
import smtplib
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.core.mail import EmailMessage

from connectors.providers import ProviderError, parse_retry_after
from connectors.providers.smtp import SmtpConfig, classify, send_email, smtp_connection
from connectors.providers.twilio import TwilioClient
from connectors.providers.whatsapp import WhatsAppClient

CUSTOMER = "+15557654321"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- WhatsApp ---


def test_whatsapp_send_text(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    result = client.send_text(to=CUSTOMER, body="Your offer is ready")
    assert result.provider_id.startswith("wamid.")
    (sent,) = provider_simulator.sends
    assert (sent.provider, sent.provider_id, sent.to) == ("whatsapp", result.provider_id, CUSTOMER)
    assert (sent.type, sent.text) == ("text", "Your offer is ready")
    assert sent.payload["messaging_product"] == "whatsapp"


def test_whatsapp_send_template_with_variables(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    result = client.send_template(
        to=CUSTOMER, name="offer_ready", language="en_US", variables=["Casey", "42"]
    )
    assert result.status == "accepted"
    (sent,) = provider_simulator.sends
    assert (sent.type, sent.template, sent.language) == ("template", "offer_ready", "en_US")
    assert sent.variables == ("Casey", "42")


def test_whatsapp_send_media(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    client.send_media(
        to=CUSTOMER,
        kind="document",
        link="https://files.example/offer.pdf",
        caption="The offer",
        filename="offer.pdf",
    )
    (sent,) = provider_simulator.sends
    assert (sent.type, sent.media, sent.text) == (
        "document",
        ("https://files.example/offer.pdf",),
        "The offer",
    )
    assert sent.payload["document"]["filename"] == "offer.pdf"
    with pytest.raises(ValueError):
        client.send_media(to=CUSTOMER, kind="hologram", link="https://x")


def test_whatsapp_500_then_200_is_one_send(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    provider_simulator.fail_next(1, status=500)
    with pytest.raises(ProviderError) as failure:
        client.send_text(to=CUSTOMER, body="Hello")
    assert failure.value.retryable
    assert failure.value.status == 500
    assert provider_simulator.sends == []
    result = client.send_text(to=CUSTOMER, body="Hello")
    (sent,) = provider_simulator.sends
    assert sent.provider_id == result.provider_id
    assert [status for _m, _p, status in provider_simulator.calls] == [500, 200]


def test_whatsapp_429_carries_retry_after(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    provider_simulator.fail_next(1, status=429, retry_after=7)
    with pytest.raises(ProviderError) as failure:
        client.send_text(to=CUSTOMER, body="Hello")
    assert failure.value.retryable
    assert failure.value.retry_after == 7
    assert failure.value.code == "130429"


def test_whatsapp_rate_limit_code_is_retryable_even_as_400(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    provider_simulator.fail_next(1, status=400, code=131056, message="(#131056) Pair rate limit")
    with pytest.raises(ProviderError) as failure:
        client.send_text(to=CUSTOMER, body="Hello")
    assert failure.value.retryable


def test_whatsapp_400_is_permanent_with_the_providers_reason(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    provider_simulator.fail_next(1, status=400)
    with pytest.raises(ProviderError) as failure:
        client.send_text(to=CUSTOMER, body="Hello")
    assert not failure.value.retryable
    assert failure.value.status == 400
    assert "Message undeliverable" in failure.value.reason
    assert failure.value.code == "131026"


def test_whatsapp_invalid_request_is_permanent(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    with pytest.raises(ProviderError) as failure:
        client.send_text(to="not a number", body="Hello")
    assert not failure.value.retryable
    assert "Invalid parameter" in failure.value.reason
    with pytest.raises(ProviderError) as failure:
        WhatsAppClient(provider_simulator.whatsapp_config(phone_number_id="999")).send_text(
            to=CUSTOMER, body="Hello"
        )
    assert not failure.value.retryable and failure.value.code == "100"


def test_whatsapp_bad_token_is_401_permanent(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config(access_token="wrong"))
    with pytest.raises(ProviderError) as failure:
        client.send_text(to=CUSTOMER, body="Hello")
    assert not failure.value.retryable
    assert (failure.value.status, failure.value.code) == (401, "190")
    assert "access token" in failure.value.reason
    assert provider_simulator.sends == []


def test_whatsapp_timeout_is_retryable(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config(timeout=0.2))
    provider_simulator.fail_next(1, status=503, delay=0.6)
    with pytest.raises(ProviderError) as failure:
        client.send_text(to=CUSTOMER, body="Hello")
    assert failure.value.retryable and failure.value.status is None
    assert "ReadTimeout" in failure.value.reason
    # Let the late answer finish, so it is not counted in the next test.
    deadline = time.monotonic() + 5
    while not provider_simulator.calls and time.monotonic() < deadline:
        time.sleep(0.05)


def test_whatsapp_connection_refused_is_retryable():
    from connectors.providers.whatsapp import WhatsAppConfig

    config = WhatsAppConfig(f"http://127.0.0.1:{_free_port()}", "v21.0", "1", "token")
    with pytest.raises(ProviderError) as failure:
        WhatsAppClient(config).send_text(to=CUSTOMER, body="Hello")
    assert failure.value.retryable


def test_whatsapp_connections_are_reused(provider_simulator):
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    for _ in range(3):
        client.send_text(to=CUSTOMER, body="Hello")
    WhatsAppClient(provider_simulator.whatsapp_config()).send_text(to=CUSTOMER, body="Again")
    assert len(set(provider_simulator.peers)) == 1


def test_whatsapp_fetch_media(provider_simulator):
    content = b"\x89PNG fake image bytes"
    media_id = provider_simulator.add_media(content, "image/png", "photo.png")
    media = WhatsAppClient(provider_simulator.whatsapp_config()).fetch_media(media_id)
    assert media.content == content
    assert media.mime_type == "image/png"
    assert media.sha256 == hashlib.sha256(content).hexdigest()
    paths = [path for _m, path, _s in provider_simulator.calls]
    assert paths == [f"/v21.0/{media_id}", "/whatsapp_business/attachments/"]


def test_whatsapp_fetch_unknown_media_is_permanent(provider_simulator):
    with pytest.raises(ProviderError) as failure:
        WhatsAppClient(provider_simulator.whatsapp_config()).fetch_media("404")
    assert not failure.value.retryable


def test_whatsapp_fetch_media_server_error_is_retryable(provider_simulator):
    media_id = provider_simulator.add_media(b"x", "image/png")
    client = WhatsAppClient(provider_simulator.whatsapp_config())
    provider_simulator.fail_next(1, status=502)
    with pytest.raises(ProviderError) as failure:
        client.fetch_media(media_id)
    assert failure.value.retryable
    # A failure meant for another provider leaves WhatsApp's calls alone.
    provider_simulator.fail_next(1, status=500, provider="twilio")
    assert client.fetch_media(media_id).content == b"x"


# --- Twilio ---


def test_twilio_send_sms(provider_simulator):
    client = TwilioClient(provider_simulator.twilio_config())
    result = client.send_sms(to=CUSTOMER, body="Your offer is ready")
    assert result.provider_id.startswith("SM") and len(result.provider_id) == 34
    assert result.status == "queued"
    assert result.raw["direction"] == "outbound-api"
    (sent,) = provider_simulator.sends
    assert (sent.provider, sent.provider_id, sent.to, sent.text) == (
        "twilio",
        result.provider_id,
        CUSTOMER,
        "Your offer is ready",
    )
    assert sent.sender == provider_simulator.settings.sms_number


def test_twilio_send_mms_with_several_media_urls(provider_simulator):
    client = TwilioClient(provider_simulator.twilio_config())
    result = client.send_sms(
        to=CUSTOMER,
        body="",
        media_urls=["https://files.example/a.jpg", "https://files.example/b.jpg"],
        status_callback="https://keepline.example/hooks/twilio/1/",
    )
    assert result.provider_id.startswith("MM")
    (sent,) = provider_simulator.sends
    assert sent.media == ("https://files.example/a.jpg", "https://files.example/b.jpg")
    assert sent.status_callback == "https://keepline.example/hooks/twilio/1/"


def test_twilio_500_then_201_is_one_send(provider_simulator):
    client = TwilioClient(provider_simulator.twilio_config())
    provider_simulator.fail_next(1, status=500)
    with pytest.raises(ProviderError) as failure:
        client.send_sms(to=CUSTOMER, body="Hello")
    assert failure.value.retryable and failure.value.code == "20500"
    client.send_sms(to=CUSTOMER, body="Hello")
    assert len(provider_simulator.sends) == 1
    assert [status for _m, _p, status in provider_simulator.calls] == [500, 201]


def test_twilio_429_carries_retry_after(provider_simulator):
    client = TwilioClient(provider_simulator.twilio_config())
    provider_simulator.fail_next(1, status=429, retry_after=3)
    with pytest.raises(ProviderError) as failure:
        client.send_sms(to=CUSTOMER, body="Hello")
    assert failure.value.retryable
    assert (failure.value.retry_after, failure.value.code) == (3, "20429")


def test_twilio_400_is_permanent_with_the_providers_reason(provider_simulator):
    client = TwilioClient(provider_simulator.twilio_config())
    with pytest.raises(ProviderError) as failure:
        client.send_sms(to="12", body="Hello")
    assert not failure.value.retryable
    assert failure.value.code == "21211"
    assert "is not valid" in failure.value.reason
    with pytest.raises(ProviderError) as failure:
        TwilioClient(provider_simulator.twilio_config(from_number="+15559999999")).send_sms(
            to=CUSTOMER, body="Hello"
        )
    assert not failure.value.retryable and failure.value.code == "21606"
    assert provider_simulator.sends == []


def test_twilio_bad_credentials_are_401_permanent(provider_simulator):
    client = TwilioClient(provider_simulator.twilio_config(auth_token="wrong"))
    with pytest.raises(ProviderError) as failure:
        client.send_sms(to=CUSTOMER, body="Hello")
    assert not failure.value.retryable
    assert (failure.value.status, failure.value.code) == (401, "20003")
    other_account = TwilioClient(provider_simulator.twilio_config(account_sid="AC" + "0" * 32))
    with pytest.raises(ProviderError):
        other_account.send_sms(to=CUSTOMER, body="Hello")
    assert provider_simulator.sends == []


def test_twilio_fetch_media_follows_the_redirect_to_storage(provider_simulator):
    url = provider_simulator.add_twilio_media(b"%PDF-1.4 offer", "application/pdf")
    media = TwilioClient(provider_simulator.twilio_config()).fetch_media(url)
    assert (media.content, media.mime_type) == (b"%PDF-1.4 offer", "application/pdf")
    assert [status for _m, _p, status in provider_simulator.calls] == [307]


def test_twilio_fetch_media_refuses_other_hosts(provider_simulator):
    client = TwilioClient(provider_simulator.twilio_config())
    with pytest.raises(ProviderError) as failure:
        client.fetch_media("https://evil.example/steal")
    assert not failure.value.retryable
    assert provider_simulator.calls == []


def test_parse_retry_after():
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(tz=UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= parse_retry_after(later) <= 60


# --- SMTP (thin) ---


def test_smtp_connection_from_plain_settings():
    config = SmtpConfig(
        host="smtp.example", port=2525, username="u", password="hunter2", use_tls=True, timeout=5
    )
    connection = smtp_connection(config)
    assert (connection.host, connection.port, connection.username, connection.password) == (
        "smtp.example",
        2525,
        "u",
        "hunter2",
    )
    assert (connection.use_tls, connection.use_ssl, connection.timeout) == (True, False, 5)
    assert "hunter2" not in repr(config)


def test_smtp_unreachable_server_is_retryable():
    config = SmtpConfig(host="127.0.0.1", port=_free_port(), use_tls=False, timeout=2)
    message = EmailMessage("Hi", "Body", "sales@keepline.example", ["casey@customer.example"])
    with pytest.raises(ProviderError) as failure:
        send_email(config, message)
    assert failure.value.retryable


def test_smtp_replies_are_classified():
    assert classify(smtplib.SMTPAuthenticationError(535, b"bad credentials")).retryable is False
    assert classify(smtplib.SMTPDataError(451, b"try later")).retryable is True
    refused = classify(smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")}))
    assert not refused.retryable and "550" in refused.reason
    assert classify(smtplib.SMTPRecipientsRefused({"a@x": (450, b"busy")})).retryable
    assert classify(smtplib.SMTPServerDisconnected("gone")).retryable
    assert classify(TimeoutError("slow")).retryable
