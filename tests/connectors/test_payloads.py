import copy
import json
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from django.http import QueryDict

from connectors import payloads
from connectors.payloads import Media, PayloadError

# Meta's documented text-message webhook (messages webhook reference).
META_ID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
META_TEXT = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922",
                        },
                        "contacts": [
                            {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}
                        ],
                        "messages": [
                            {
                                "from": "16505551234",
                                "id": META_ID,
                                "timestamp": "1749416383",
                                "type": "text",
                                "text": {"body": "Does it come in another color?"},
                            }
                        ],
                    },
                    "field": "messages",
                }
            ],
        }
    ],
}


def _with_message(message):
    body = copy.deepcopy(META_TEXT)
    body["entry"][0]["changes"][0]["value"]["messages"] = [message]
    return body


def _with_statuses(statuses):
    body = copy.deepcopy(META_TEXT)
    value = body["entry"][0]["changes"][0]["value"]
    del value["messages"], value["contacts"]
    value["statuses"] = statuses
    return body


BASE_MESSAGE = {"from": "16505551234", "id": "wamid.X", "timestamp": "1749416383"}


# --- WhatsApp ---


def test_whatsapp_documented_text_message():
    batch = payloads.parse_whatsapp(json.dumps(META_TEXT).encode())
    assert batch.statuses == () and batch.skipped == ()
    (message,) = batch.messages
    assert message.provider == "whatsapp"
    assert message.provider_id.startswith("wamid.HBgL")
    assert message.account_key == "106540352242922"
    assert message.from_address == "+16505551234"
    assert message.to == "+15550783881"
    assert message.timestamp == datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)
    assert message.type == "text"
    assert message.text == "Does it come in another color?"
    assert message.contact_name == "Sheena Nelson"
    assert batch.account_keys == {"106540352242922"}


@pytest.mark.parametrize(
    ("kind", "item", "text"),
    [
        (
            "image",
            {"caption": "the red one", "mime_type": "image/jpeg", "sha256": "abc=", "id": "111"},
            "the red one",
        ),
        (
            "document",
            {
                "caption": "invoice",
                "filename": "invoice.pdf",
                "mime_type": "application/pdf",
                "sha256": "def=",
                "id": "222",
            },
            "invoice",
        ),
        (
            "audio",
            {"mime_type": "audio/ogg; codecs=opus", "sha256": "ghi=", "id": "333", "voice": True},
            "",
        ),
    ],
)
def test_whatsapp_media_messages(kind, item, text):
    batch = payloads.parse_whatsapp(_with_message({**BASE_MESSAGE, "type": kind, kind: item}))
    (message,) = batch.messages
    assert message.type == kind
    assert message.text == text
    (media,) = message.media
    assert media.media_id == item["id"]
    assert media.mime_type == item["mime_type"]
    assert media.sha256 == item["sha256"]
    assert media.filename == item.get("filename", "")
    assert media.voice is item.get("voice", False)


def test_whatsapp_reply_context_button_and_location():
    replied = payloads.parse_whatsapp(
        _with_message(
            {**BASE_MESSAGE, "type": "text", "text": {"body": "yes"}, "context": {"id": "wamid.O"}}
        )
    ).messages[0]
    assert replied.reply_to == "wamid.O"
    button = payloads.parse_whatsapp(
        _with_message(
            {**BASE_MESSAGE, "type": "button", "button": {"text": "Stop", "payload": "s"}}
        )
    ).messages[0]
    assert button.text == "Stop"
    location = payloads.parse_whatsapp(
        _with_message(
            {
                **BASE_MESSAGE,
                "type": "location",
                "location": {"latitude": 52.5, "longitude": 13.4, "name": "Office"},
            }
        )
    ).messages[0]
    assert "52.5,13.4" in location.text and "Office" in location.text


def test_whatsapp_reactions_are_acknowledged_not_stored():
    batch = payloads.parse_whatsapp(
        _with_message({**BASE_MESSAGE, "type": "reaction", "reaction": {"emoji": "x"}})
    )
    assert batch.messages == () and batch.skipped == ("wamid.X",)


def test_whatsapp_statuses_including_a_failure_with_the_providers_reason():
    batch = payloads.parse_whatsapp(
        _with_statuses(
            [
                {
                    "id": "wamid.A",
                    "status": "delivered",
                    "timestamp": "1750857384",
                    "recipient_id": "5516992318222",
                },
                {
                    "id": "wamid.B",
                    "status": "failed",
                    "timestamp": "1750857385",
                    "recipient_id": "5516992318222",
                    "errors": [
                        {
                            "code": 131047,
                            "title": "Re-engagement message",
                            "message": "Re-engagement message",
                            "error_data": {"details": "More than 24 hours have passed."},
                        }
                    ],
                },
            ]
        )
    )
    delivered, failed = batch.statuses
    assert (delivered.provider_id, delivered.status, delivered.error) == (
        "wamid.A",
        "delivered",
        "",
    )
    assert delivered.recipient == "+5516992318222"
    assert failed.status == "failed"
    assert failed.error == "Re-engagement message: More than 24 hours have passed."
    assert failed.error_code == "131047"


def test_whatsapp_other_fields_and_empty_changes_are_ignored():
    body = copy.deepcopy(META_TEXT)
    body["entry"][0]["changes"].append({"field": "account_update", "value": {"event": "X"}})
    body["entry"].append({"id": "1", "changes": [{"field": "messages", "value": {}}]})
    assert len(payloads.parse_whatsapp(body).messages) == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "malformed JSON"),
        (b"[]", "expected an object"),
        (b"\xff\xfe", "malformed JSON"),
        (json.dumps({"object": "page", "entry": []}).encode(), "not a WhatsApp webhook"),
        (json.dumps({"object": "whatsapp_business_account"}).encode(), "missing 'entry'"),
        (
            json.dumps({"object": "whatsapp_business_account", "entry": {}}).encode(),
            "expected a list",
        ),
    ],
)
def test_whatsapp_malformed_bodies(body, fragment):
    with pytest.raises(PayloadError, match=fragment):
        payloads.parse_whatsapp(body)


def test_whatsapp_missing_fields_and_unknown_types():
    no_metadata = copy.deepcopy(META_TEXT)
    del no_metadata["entry"][0]["changes"][0]["value"]["metadata"]
    cases = [
        (no_metadata, "missing 'metadata'"),
        (
            _with_message({k: v for k, v in BASE_MESSAGE.items() if k != "id"} | {"type": "text"}),
            "missing 'id'",
        ),
        (_with_message({**BASE_MESSAGE, "type": "text"}), "missing 'text'"),
        (_with_message({**BASE_MESSAGE, "type": "text", "text": {}}), "missing 'body'"),
        (
            _with_message({**BASE_MESSAGE, "type": "hologram", "hologram": {}}),
            "unknown message type",
        ),
        (_with_message({**BASE_MESSAGE, "type": "image", "image": {"id": "1"}}), "mime_type"),
        (
            _with_message(
                {**BASE_MESSAGE, "timestamp": "soon", "type": "text", "text": {"body": "x"}}
            ),
            "bad timestamp",
        ),
        (
            _with_message({**BASE_MESSAGE, "from": "alice", "type": "text", "text": {"body": "x"}}),
            "not a phone number",
        ),
        (_with_statuses([{"id": "w", "status": "teleported", "timestamp": "1"}]), "unknown status"),
        (_with_statuses([{"status": "sent", "timestamp": "1"}]), "missing 'id'"),
    ]
    for body, fragment in cases:
        with pytest.raises(PayloadError, match=fragment):
            payloads.parse_whatsapp(body)


def test_whatsapp_text_round_trip():
    sent_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = payloads.build_whatsapp_message(
        phone_number_id="123",
        display_phone_number="+15550100001",
        from_number="+15557654321",
        text="Hello from WhatsApp",
        contact_name="Casey",
        message_id="wamid.1",
        timestamp=sent_at,
        reply_to="wamid.0",
    )
    (message,) = payloads.parse_whatsapp(payloads.encode_json(body)).messages
    assert message == payloads.InboundMessage(
        provider="whatsapp",
        provider_id="wamid.1",
        account_key="123",
        from_address="+15557654321",
        to="+15550100001",
        timestamp=sent_at,
        type="text",
        text="Hello from WhatsApp",
        contact_name="Casey",
        reply_to="wamid.0",
    )
    assert payloads.InboundMessage.from_json(json.loads(json.dumps(message.as_json()))) == message


@pytest.mark.parametrize(
    ("mime_type", "kind", "caption"),
    [
        ("image/png", "image", "look"),
        ("application/pdf", "document", "the offer"),
        ("audio/ogg", "audio", ""),
        ("video/mp4", "video", "clip"),
    ],
)
def test_whatsapp_media_round_trip(mime_type, kind, caption):
    media = Media(mime_type=mime_type, media_id="42", filename="offer.pdf", sha256="c2hh")
    body = payloads.build_whatsapp_message(
        phone_number_id="123",
        display_phone_number="+15550100001",
        from_number="+15557654321",
        text=caption,
        media=media,
    )
    (message,) = payloads.parse_whatsapp(payloads.encode_json(body)).messages
    assert message.type == kind
    assert message.text == caption
    (parsed,) = message.media
    assert (parsed.media_id, parsed.mime_type, parsed.sha256) == ("42", mime_type, "c2hh")
    assert parsed.filename == ("offer.pdf" if kind == "document" else "")
    assert payloads.InboundMessage.from_json(message.as_json()) == message


def test_whatsapp_status_round_trip():
    for status in payloads.STATUSES:
        body = payloads.build_whatsapp_status(
            phone_number_id="123",
            display_phone_number="+15550100001",
            message_id="wamid.9",
            status=status,
            recipient="+15557654321",
            error_code=131026,
            error_title="Message undeliverable",
            error_details="Not on WhatsApp",
        )
        (update,) = payloads.parse_whatsapp(payloads.encode_json(body)).statuses
        assert (update.provider_id, update.status, update.account_key) == ("wamid.9", status, "123")
        assert update.recipient == "+15557654321"
        if status == "failed":
            assert update.error == "Message undeliverable: Not on WhatsApp"
            assert update.error_code == "131026"
        else:
            assert update.error == ""
        assert payloads.StatusUpdate.from_json(update.as_json()) == update


# --- Twilio ---


def test_twilio_incoming_sms_round_trip_through_a_form():
    params = payloads.build_twilio_message(
        account_sid="AC1",
        from_number="+15557654321",
        to_number="+15550100002",
        body="Hi from SMS & co",
        message_sid="SM1",
    )
    form = QueryDict(mutable=True)
    form.update(params)
    batch = payloads.parse_twilio(QueryDict(form.urlencode()))
    (message,) = batch.messages
    assert (message.provider, message.provider_id, message.account_key) == ("twilio", "SM1", "AC1")
    assert (message.from_address, message.to) == ("+15557654321", "+15550100002")
    assert (message.type, message.text, message.media) == ("text", "Hi from SMS & co", ())
    assert message.timestamp.tzinfo is not None
    assert batch.raw["Body"] == "Hi from SMS & co"


def test_twilio_mms_round_trip():
    params = payloads.build_twilio_message(
        account_sid="AC1",
        from_number="+15557654321",
        to_number="+15550100002",
        media=[
            ("https://api.twilio.com/m/1", "image/jpeg"),
            ("https://api.twilio.com/m/2", "application/pdf"),
        ],
    )
    (message,) = payloads.parse_twilio(params).messages
    assert message.provider_id.startswith("MM") and message.type == "media"
    assert [(m.url, m.mime_type) for m in message.media] == [
        ("https://api.twilio.com/m/1", "image/jpeg"),
        ("https://api.twilio.com/m/2", "application/pdf"),
    ]


def test_twilio_status_callbacks():
    def status(state, **extra):
        params = payloads.build_twilio_status(
            account_sid="AC1",
            message_sid="SM9",
            status=state,
            from_number="+15550100002",
            to_number="+15557654321",
            **extra,
        )
        return payloads.parse_twilio(params)

    delivered = status("delivered").statuses[0]
    assert (delivered.provider_id, delivered.status, delivered.error) == ("SM9", "delivered", "")
    undelivered = status("undelivered", error_code=30003).statuses[0]
    assert undelivered.status == "failed"
    assert undelivered.error_code == "30003" and "30003" in undelivered.error
    for pending in ("queued", "sending", "accepted"):
        batch = status(pending)
        assert batch.statuses == () and batch.skipped == ("SM9",)


def test_twilio_bad_forms():
    good = payloads.build_twilio_message(
        account_sid="AC1", from_number="+15557654321", to_number="+15550100002", body="x"
    )
    cases = [
        ({k: v for k, v in good.items() if k not in ("MessageSid", "SmsSid")}, "MessageSid"),
        ({k: v for k, v in good.items() if k != "AccountSid"}, "AccountSid"),
        ({k: v for k, v in good.items() if k != "From"}, "From"),
        ({**good, "NumMedia": "lots"}, "NumMedia"),
        ({**good, "NumMedia": "1"}, "MediaUrl0"),
        ({**good, "SmsStatus": "teleported"}, "unknown 'MessageStatus'"),
        ({**good, "From": "not-a-number"}, "not a phone number"),
    ]
    for params, fragment in cases:
        with pytest.raises(PayloadError, match=fragment):
            payloads.parse_twilio(params)


# --- Email ---


def test_build_email_is_parseable_mime_with_threading_headers():
    raw = payloads.build_email(
        from_address="casey@customer.example",
        to_address="sales@keepline.example",
        subject="Re: Offer",
        text="Sounds good.\n\n> quoted",
        html="<p>Sounds good.</p>",
        message_id="<c1@customer.example>",
        in_reply_to="<k1@keepline.example>",
        references=["<k0@keepline.example>", "<k1@keepline.example>"],
        attachments=[("offer.pdf", "application/pdf", b"%PDF-1.4")],
    )
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Re: Offer"
    assert message["Message-ID"] == "<c1@customer.example>"
    assert message["In-Reply-To"] == "<k1@keepline.example>"
    assert message["References"] == "<k0@keepline.example> <k1@keepline.example>"
    assert message.get_body(("plain",)).get_content().startswith("Sounds good.")
    assert "<p>Sounds good.</p>" in message.get_body(("html",)).get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "offer.pdf"
    assert attachment.get_content() == b"%PDF-1.4"
