"""Channel accounts pointed at the provider simulator, and signed webhook posts."""

from __future__ import annotations

from urllib.parse import urlencode

from connectors import payloads, signatures
from tests.factories import make_channel_account

CUSTOMER = "+5511987654321"  # customer_contact's mobile


def whatsapp_account(simulator, *, team=None):
    s = simulator.settings
    return make_channel_account(
        "whatsapp",
        team=team,
        settings={
            "phone_number_id": s.phone_number_id,
            "business_account_id": s.business_account_id,
            "api_base_url": simulator.base_url,
            "api_version": s.api_version,
        },
        secrets={
            "access_token": s.access_token,
            "app_secret": s.app_secret,
            "verify_token": s.verify_token,
        },
    )


def sms_account(simulator, *, team=None):
    s = simulator.settings
    return make_channel_account(
        "sms",
        team=team,
        settings={
            "account_sid": s.account_sid,
            "from_number": s.sms_number,
            "base_url": simulator.base_url,
        },
        secrets={"auth_token": s.auth_token},
    )


def email_account(simulator, *, team=None):
    s = simulator.settings
    return make_channel_account(
        "email",
        team=team,
        settings={"from_address": s.email_address},
        secrets={"inbound_secret": s.inbound_secret},
    )


def wa_message(simulator, *, text="Olá", from_number=CUSTOMER, media=None, name="Clara"):
    s = simulator.settings
    return payloads.build_whatsapp_message(
        phone_number_id=s.phone_number_id,
        display_phone_number=s.whatsapp_number,
        from_number=from_number,
        text=text,
        media=media,
        contact_name=name,
    )


def post_whatsapp(client, simulator, payload=None, *, body=None, signature=None):
    body = body if body is not None else payloads.encode_json(payload)
    headers = {}
    if signature is None:
        signature = signatures.whatsapp_signature(simulator.settings.app_secret, body)
    if signature:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    return client.post("/hooks/whatsapp/", body, content_type="application/json", **headers)


def post_twilio(client, simulator, account, params, *, signature=None):
    url = f"http://testserver/hooks/twilio/{account.pk}/"
    if signature is None:
        signature = signatures.twilio_signature(simulator.settings.auth_token, url, params)
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    return client.post(
        f"/hooks/twilio/{account.pk}/",
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        **headers,
    )


def post_email(client, account, raw: bytes, *, secret="sim-inbound-email-secret"):
    headers = {"HTTP_X_KEEPLINE_SECRET": secret} if secret else {}
    return client.post(f"/hooks/email/{account.pk}/", raw, content_type="message/rfc822", **headers)


def customer_wrote(conversation, text="Oi"):
    """The customer wrote in `conversation` just now (as inbound processing records it): their
    consent for the channel is granted and WhatsApp's 24-hour window is open."""
    import uuid

    from comms import services as comms_services
    from crm import services as crm_services

    comms_services.message_inbound_record(
        conversation=conversation, body=text, client_id=uuid.uuid4()
    )
    crm_services.contact_consent_inbound(contact=conversation.contact, channel=conversation.kind)
