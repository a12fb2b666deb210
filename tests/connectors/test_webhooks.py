"""The webhook endpoints: signatures, handshake, repeats, every bad input."""

import json
from urllib.parse import urlencode

import pytest

from comms.models import Message
from connectors import payloads, signatures
from connectors.models import InboundEvent
from tests.connectors.helpers import (
    email_account,
    post_email,
    post_twilio,
    post_whatsapp,
    sms_account,
    wa_message,
    whatsapp_account,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa(provider_simulator, team):
    return whatsapp_account(provider_simulator, team=team)


def _nothing_stored():
    return not InboundEvent.objects.exists() and not Message.objects.exists()


# --- WhatsApp ---------------------------------------------------------------------------------


def test_handshake_answers_the_challenge(client, wa, provider_simulator):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": provider_simulator.settings.verify_token,
        "hub.challenge": "1158201444",
    }
    response = client.get("/hooks/whatsapp/", query)
    assert response.status_code == 200 and response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "sim-whatsapp-verify-token"},
        {},
    ],
)
def test_handshake_refuses_a_wrong_token(client, wa, query):
    assert client.get("/hooks/whatsapp/", query).status_code == 403


def test_signed_message_is_stored_once(
    client, wa, provider_simulator, customer_contact, django_capture_on_commit_callbacks
):
    payload = wa_message(provider_simulator, text="Quero renovar")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    message = Message.objects.get()
    assert message.body == "Quero renovar"
    assert message.author_contact == customer_contact
    assert message.external_id.startswith("wamid.")
    assert InboundEvent.objects.get().processed_at is not None
    for _ in range(3):  # the provider retries: 200, nothing new
        with django_capture_on_commit_callbacks(execute=True):
            assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    assert Message.objects.count() == 1 and InboundEvent.objects.count() == 1


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "md5=abc", "garbage"])
def test_bad_or_missing_signature_is_403(client, wa, provider_simulator, signature):
    payload = wa_message(provider_simulator)
    response = post_whatsapp(client, provider_simulator, payload, signature=signature)
    assert response.status_code == 403
    assert _nothing_stored()


def test_signature_of_another_body_is_403(client, wa, provider_simulator):
    original = payloads.encode_json(wa_message(provider_simulator, text="one"))
    signature = signatures.whatsapp_signature(provider_simulator.settings.app_secret, original)
    modified = original.replace(b'"one"', b'"two"')
    response = post_whatsapp(client, provider_simulator, body=modified, signature=signature)
    assert response.status_code == 403
    assert _nothing_stored()


def test_unknown_phone_number_id_is_404(client, wa, provider_simulator):
    payload = wa_message(provider_simulator)
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    assert post_whatsapp(client, provider_simulator, payload).status_code == 404
    assert _nothing_stored()


def test_inactive_account_is_404(client, wa, provider_simulator):
    from connectors import services

    wa.is_active = False
    services.channel_account_save(actor=None, account=wa)
    assert (
        post_whatsapp(client, provider_simulator, wa_message(provider_simulator)).status_code == 404
    )


def test_remembered_account_costs_no_query_and_is_never_trusted_stale(
    client, wa, provider_simulator, django_assert_num_queries
):
    """Each process remembers the accounts webhooks name; a change made elsewhere (another
    process: nothing here forgets it) takes effect on the next webhook all the same."""
    from connectors import services

    assert (
        post_whatsapp(client, provider_simulator, wa_message(provider_simulator)).status_code == 200
    )
    with django_assert_num_queries(1):  # the INSERT, which also checks the account row
        assert (
            post_whatsapp(client, provider_simulator, wa_message(provider_simulator)).status_code
            == 200
        )
    old_secret = provider_simulator.settings.app_secret

    def post_signed(text, secret):
        body = payloads.encode_json(wa_message(provider_simulator, text=text))
        signature = signatures.whatsapp_signature(secret, body)
        return post_whatsapp(client, provider_simulator, body=body, signature=signature)

    services.channel_account_save(actor=None, account=wa, secrets={"app_secret": "rotated-secret"})
    assert post_signed("signed with the old secret", old_secret).status_code == 403
    assert post_signed("signed with the new secret", "rotated-secret").status_code == 200
    assert InboundEvent.objects.count() == 3
    wa.refresh_from_db()
    wa.is_active = False
    services.channel_account_save(actor=None, account=wa)
    assert post_signed("after the switch-off", "rotated-secret").status_code == 404
    assert InboundEvent.objects.count() == 3


def test_account_changed_between_read_and_insert_stores_nothing(wa, provider_simulator):
    from connectors import inbound, services

    accounts, _ = inbound.webhook_accounts("whatsapp", {wa.setting("phone_number_id")})
    services.channel_account_save(actor=None, account=wa, secrets={"app_secret": "rotated"})
    batch = payloads.parse_whatsapp(payloads.encode_json(wa_message(provider_simulator)))
    stale = next(iter(accounts.values()))
    with pytest.raises(inbound.AccountChanged):
        inbound.inbound_events_accept(
            events=[(stale, inbound.message_event(m)) for m in batch.messages]
        )
    assert not InboundEvent.objects.exists()


def _mutate(payload, path, value):
    target = payload
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


MESSAGE = ("entry", 0, "changes", 0, "value", "messages", 0)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'"text"',
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account"}',
        "unknown type",
        "missing id",
        "missing from",
        "missing text body",
        "bad timestamp",
    ],
)
def test_malformed_bodies_are_400_with_a_json_error(client, wa, provider_simulator, body, caplog):
    if isinstance(body, str):
        payload = wa_message(provider_simulator)
        change = {
            "unknown type": (MESSAGE + ("type",), "hologram"),
            "missing id": (MESSAGE + ("id",), KeyError),
            "missing from": (MESSAGE + ("from",), KeyError),
            "missing text body": (MESSAGE + ("text",), {}),
            "bad timestamp": (MESSAGE + ("timestamp",), "yesterday"),
        }[body]
        body = payloads.encode_json(_mutate(payload, *change))
    response = post_whatsapp(client, provider_simulator, body=body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert "refused (400)" in caplog.text
    assert _nothing_stored()


def test_oversized_body_is_413(client, wa, provider_simulator):
    payload = wa_message(provider_simulator, text="x" * (1024 * 1024))
    response = post_whatsapp(client, provider_simulator, payload)
    assert response.status_code == 413
    assert _nothing_stored()


def test_get_and_post_only(client, wa):
    assert client.put("/hooks/whatsapp/").status_code == 405


# --- Twilio -----------------------------------------------------------------------------------


@pytest.fixture
def sms(provider_simulator, team):
    return sms_account(provider_simulator, team=team)


def _sms(simulator, body="Oi", **kw):
    s = simulator.settings
    return payloads.build_twilio_message(
        account_sid=s.account_sid,
        from_number=kw.pop("from_number", "+5511987654321"),
        to_number=s.sms_number,
        body=body,
        **kw,
    )


def test_twilio_signed_message(
    client, sms, provider_simulator, customer_contact, django_capture_on_commit_callbacks
):
    params = _sms(provider_simulator, "Pode ligar?")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_twilio(client, provider_simulator, sms, params)
    assert response.status_code == 200 and b"<Response>" in response.content
    message = Message.objects.get()
    assert (message.body, message.author_contact, message.external_id) == (
        "Pode ligar?",
        customer_contact,
        params["MessageSid"],
    )
    assert message.conversation.kind == "sms"


@pytest.mark.parametrize("signature", ["", "bm90IGl0"])
def test_twilio_bad_or_missing_signature_is_403(client, sms, provider_simulator, signature):
    response = post_twilio(
        client, provider_simulator, sms, _sms(provider_simulator), signature=signature
    )
    assert response.status_code == 403
    assert _nothing_stored()


def test_twilio_modified_parameters_are_403(client, sms, provider_simulator):
    params = _sms(provider_simulator, "original")
    url = f"http://testserver/hooks/twilio/{sms.pk}/"
    signature = signatures.twilio_signature(provider_simulator.settings.auth_token, url, params)
    params["Body"] = "changed"
    response = post_twilio(client, provider_simulator, sms, params, signature=signature)
    assert response.status_code == 403
    assert _nothing_stored()


def test_twilio_unknown_account_is_404(client, sms, provider_simulator):
    response = client.post(
        f"/hooks/twilio/{sms.pk + 100}/",
        urlencode(_sms(provider_simulator)),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"MessageSid": "", "SmsSid": ""},
        {"From": ""},
        {"NumMedia": "many"},
        {"NumMedia": "1"},
        {"AccountSid": "AC" + "9" * 32},
        {"SmsStatus": "exploded"},
    ],
)
def test_twilio_bad_forms_are_400(client, sms, provider_simulator, change):
    params = {**_sms(provider_simulator), **change}
    if "SmsStatus" in change:
        params["MessageStatus"] = change["SmsStatus"]
    response = post_twilio(client, provider_simulator, sms, params)
    assert response.status_code == 400
    assert response.json()["error"]
    assert _nothing_stored()


def test_twilio_json_body_is_400(client, sms, provider_simulator):
    url = f"/hooks/twilio/{sms.pk}/"
    response = client.post(
        url, json.dumps({"a": 1}), content_type="application/json", HTTP_X_TWILIO_SIGNATURE="x"
    )
    assert response.status_code == 400


def test_twilio_oversized_is_413(client, sms, provider_simulator):
    response = post_twilio(
        client, provider_simulator, sms, _sms(provider_simulator, "x" * 1_100_000)
    )
    assert response.status_code == 413
    assert _nothing_stored()


# --- email ------------------------------------------------------------------------------------


@pytest.fixture
def mailbox(provider_simulator, team):
    return email_account(provider_simulator, team=team)


def _email(**kw):
    return payloads.build_email(
        from_address=kw.pop("from_address", "clara@customer.example"),
        to_address="sales@keepline.example",
        subject=kw.pop("subject", "Proposta"),
        text=kw.pop("text", "Podemos falar amanhã?"),
        **kw,
    )


def test_email_with_the_secret_is_stored(
    client, mailbox, customer_contact, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert post_email(client, mailbox, _email()).status_code == 200
    message = Message.objects.get()
    assert message.body == "Podemos falar amanhã?"
    assert message.author_contact == customer_contact
    assert message.conversation.subject == "Proposta"


@pytest.mark.parametrize("secret", ["", "wrong"])
def test_email_without_the_secret_is_403(client, mailbox, secret):
    assert post_email(client, mailbox, _email(), secret=secret).status_code == 403
    assert _nothing_stored()


def test_email_that_is_not_mime_is_400(client, mailbox):
    response = post_email(client, mailbox, b"\x00\x01 not an email")
    assert response.status_code == 400 and response.json()["error"]
    assert _nothing_stored()


def test_email_oversized_is_413(client, mailbox, settings):
    settings.CONNECTORS_EMAIL_MAX_BYTES = 1024
    assert post_email(client, mailbox, _email(text="x" * 4000)).status_code == 413
    assert _nothing_stored()


def test_an_account_whose_key_was_lost_answers_503_and_stores_nothing(
    client, provider_simulator, team, settings
):
    """The provider retries a 503 later: once the key is back, the same delivery is stored."""
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    settings.KEEPLINE_CHANNEL_KEYS = [key]
    whatsapp_account(provider_simulator, team=team)
    payload = wa_message(provider_simulator)
    settings.KEEPLINE_CHANNEL_KEYS = [Fernet.generate_key().decode()]
    response = post_whatsapp(client, provider_simulator, payload)
    assert response.status_code == 503
    assert response.json()["error"] and "KEEPLINE_CHANNEL_KEYS" in response.json()["error"]
    assert _nothing_stored()
    settings.KEEPLINE_CHANNEL_KEYS = [key]
    assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    assert InboundEvent.objects.count() == 1
