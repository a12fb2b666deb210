"""A rep sends the customer's web-chat link by SMS or email through a configured account."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from comms.models import CustomerLink
from crm.models import ContactConsent
from tests.connectors.helpers import email_account, sms_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(rep, customer_contact):
    from comms import services

    return services.conversation_start(actor=rep, contact=customer_contact, subject="Renewal")


def consent(contact, channel):
    ContactConsent.objects.create(
        contact=contact, channel=channel, status="granted", recorded_at=timezone.now()
    )


def send(user, conversation, channel):
    client = Client()
    client.force_login(user)
    return client.post(
        f"/conversations/{conversation.pk}/action/",
        {"action": "link-send", "channel": channel},
        follow=True,
    )


def button(html, channel) -> str:
    return re.search(rf'<button[^>]*data-testid="link-send-{channel}"[^>]*>', html).group(0)


def page(user, conversation):
    client = Client()
    client.force_login(user)
    return client.get(f"/conversations/{conversation.pk}/").content.decode()


def test_rep_sends_the_link_by_sms(rep, team, customer_contact, conversation, provider_simulator):
    sms_account(provider_simulator, team=team)
    consent(customer_contact, "sms")
    html = page(rep, conversation)
    assert "disabled" not in button(html, "sms")
    response = send(rep, conversation, "sms")
    assert "A new chat link was sent to the customer by SMS." in response.content.decode()
    [sms] = provider_simulator.sends
    assert sms.to == customer_contact.phones.get().number
    url = re.search(r"https?://\S+/c/(\S+)/", sms.text)
    assert url, sms.text
    # The link works for the customer, and both the issue and the send are on the record.
    assert Client().get(url.group(0)).status_code == 200
    link = CustomerLink.objects.get()
    sent = AuditEvent.objects.get(action="comms.customer_link.sent")
    assert sent.actor_id == rep.pk and sent.data["channel"] == "sms"
    assert sent.data["to"] == sms.to and sent.target_id == str(link.pk)
    assert AuditEvent.objects.filter(action="comms.customer_link.issued").count() == 1


def test_rep_sends_the_link_by_email(rep, team, customer_contact, conversation, smtp_server):
    mailbox = email_account(_FakeSimulator(), team=team)
    mailbox.settings.update(
        smtp_host="127.0.0.1", smtp_port=smtp_server.server_address[1], smtp_use_tls=False
    )
    mailbox.save(update_fields=["settings"])
    consent(customer_contact, "email")
    response = send(rep, conversation, "email")
    assert "sent to the customer by email" in response.content.decode()
    [raw] = smtp_server.received
    assert b"clara@customer.example" in raw and b"/c/" in raw
    assert AuditEvent.objects.get(action="comms.customer_link.sent").data["channel"] == "email"


class _FakeSimulator:
    class settings:  # noqa: N801
        email_address = "sales@keepline.example"
        inbound_secret = "sim-inbound-email-secret"


def test_no_account_configured_the_option_says_so_and_is_refused(rep, conversation):
    html = page(rep, conversation)
    assert "disabled" in button(html, "email") and "disabled" in button(html, "sms")
    assert "No active Email account is configured" in html
    response = send(rep, conversation, "email")
    assert response.status_code == 200  # back on the page with the reason
    assert "No active Email account is configured" in response.content.decode()
    assert not CustomerLink.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="comms.customer_link").exists()


def test_without_consent_nothing_is_sent(
    rep, team, customer_contact, conversation, provider_simulator
):
    sms_account(provider_simulator, team=team)
    send(rep, conversation, "sms")
    assert provider_simulator.sends == []
    assert not CustomerLink.objects.exists()


def test_a_provider_refusal_revokes_the_link_it_issued(
    rep, team, customer_contact, conversation, provider_simulator
):
    sms_account(provider_simulator, team=team)
    consent(customer_contact, "sms")
    provider_simulator.fail_next(status=400, count=1)
    response = send(rep, conversation, "sms")
    assert "The link could not be sent" in response.content.decode()
    link = CustomerLink.objects.get()
    assert link.revoked_at is not None
    assert not AuditEvent.objects.filter(action="comms.customer_link.sent").exists()


def test_a_rep_who_may_not_write_cannot_send_the_link(
    other_rep, manager, team, customer_contact, conversation, provider_simulator, compliance
):
    sms_account(provider_simulator, team=team)
    consent(customer_contact, "sms")
    assert send(other_rep, conversation, "sms").status_code == 404
    # Compliance sees the conversation but never writes: refused, and no send button is shown.
    response = send(compliance, conversation, "sms")
    assert "You may not do this in this conversation." in response.content.decode()
    assert 'data-testid="link-send' not in page(compliance, conversation)
    assert provider_simulator.sends == []
    assert not CustomerLink.objects.exists()
