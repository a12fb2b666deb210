"""Until a channel account is configured, the product does not offer that channel."""

import pytest
from django.urls import reverse

from comms import channel_registry, errors, services
from comms.models import Conversation
from connectors import services as connector_services
from tests.factories import make_channel_account

pytestmark = pytest.mark.django_db


def test_only_web_and_internal_without_accounts():
    assert channel_registry.available_kinds() == ["web", "internal"]
    assert [v for v, _ in channel_registry.customer_kind_choices()] == ["web"]


def test_an_active_account_offers_its_kind():
    account = make_channel_account("sms")
    assert channel_registry.available_kinds() == ["web", "sms", "internal"]
    account.is_active = False
    connector_services.channel_account_save(actor=None, account=account)
    assert "sms" not in channel_registry.available_kinds()


@pytest.mark.parametrize("kind", ["whatsapp", "sms", "email"])
def test_service_refuses_a_channel_without_account(rep, customer_contact, kind):
    with pytest.raises(errors.Invalid):
        services.conversation_start(actor=rep, contact=customer_contact, kind=kind)
    assert not Conversation.objects.exists()
    make_channel_account(kind)
    started = services.conversation_start(actor=rep, contact=customer_contact, kind=kind)
    assert started.kind == kind


def test_api_answers_400_without_account(client, rep, customer_contact):
    client.force_login(rep)
    url = "/api/v1/conversations/"
    response = client.post(
        url, {"kind": "whatsapp", "contact": customer_contact.pk}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "WhatsApp" in response.json()["detail"]
    assert not Conversation.objects.exists()
    make_channel_account("whatsapp")
    response = client.post(
        url, {"kind": "whatsapp", "contact": customer_contact.pk}, content_type="application/json"
    )
    assert response.status_code == 201


def _start_kinds(client, contact) -> str:
    page = client.get(contact.get_absolute_url()).content.decode()
    start = page.index('id="start-kind"')
    return page[start : page.index("</select>", start)]


def test_contact_page_offers_configured_kinds_only(client, rep, customer_contact):
    client.force_login(rep)
    offered = _start_kinds(client, customer_contact)
    assert 'value="web"' in offered
    assert 'value="whatsapp"' not in offered and 'value="sms"' not in offered
    make_channel_account("whatsapp")
    offered = _start_kinds(client, customer_contact)
    assert 'value="whatsapp"' in offered and 'value="sms"' not in offered


def test_page_form_refuses_unconfigured_kind(client, rep, customer_contact):
    client.force_login(rep)
    response = client.post(
        reverse("comms:conversation-start"),
        {"contact": customer_contact.pk, "kind": "email"},
        follow=True,
    )
    assert not Conversation.objects.exists()
    assert "Email is not set up" in response.content.decode()


def test_inbox_filter_lists_offered_kinds(client, rep):
    client.force_login(rep)
    page = client.get(reverse("comms:inbox")).content.decode()
    assert 'value="sms"' not in page
    make_channel_account("sms")
    assert 'value="sms"' in client.get(reverse("comms:inbox")).content.decode()
