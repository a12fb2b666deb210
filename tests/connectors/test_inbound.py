"""Processing inbound events: contacts, routing, media, consent, status callbacks, threading."""

import hashlib
import threading
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from accounts import cover
from audit.models import AuditEvent
from comms import services as comms_services
from comms.models import Attachment, Conversation, Message
from connectors import payloads
from connectors.models import InboundEvent
from crm.models import Contact, ContactConsent
from tests.comms.conftest import cid
from tests.connectors.helpers import (
    CUSTOMER,
    customer_wrote,
    email_account,
    post_email,
    post_twilio,
    post_whatsapp,
    sms_account,
    wa_message,
    whatsapp_account,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa(provider_simulator, team):
    return whatsapp_account(provider_simulator, team=team)


@pytest.fixture
def deliver(client, provider_simulator, django_capture_on_commit_callbacks):
    """Post a signed WhatsApp message and run its processing; returns the response."""

    def run(**kw):
        with django_capture_on_commit_callbacks(execute=True):
            return post_whatsapp(client, provider_simulator, wa_message(provider_simulator, **kw))

    return run


# --- contacts and routing ---------------------------------------------------------------------


def test_known_contact_goes_to_their_owner(wa, deliver, rep, customer_contact):
    assert deliver(text="Oi").status_code == 200
    conversation = Conversation.objects.get()
    assert (conversation.kind, conversation.contact, conversation.assignee) == (
        "whatsapp",
        customer_contact,
        rep,
    )
    received = AuditEvent.objects.filter(action="comms.message.received").get()
    assert received.data["channel"] == "whatsapp" and received.data["external_id"]
    consent = ContactConsent.objects.get()
    assert (consent.contact, consent.channel, consent.status, consent.source) == (
        customer_contact,
        "whatsapp",
        "granted",
        "inbound",
    )


def test_unknown_sender_becomes_a_new_contact(wa, deliver, rep, other_rep, client):
    assert deliver(text="Hello", from_number="+14155550123", name="Nova Pessoa").status_code == 200
    contact = Contact.objects.get()
    assert contact.is_new and contact.name == "Nova Pessoa"
    assert list(contact.phones.values_list("number", flat=True)) == ["+14155550123"]
    assert contact.owner.team_id == wa.team_id  # round-robin in the account's team
    assert Conversation.objects.get().assignee == contact.owner
    created = AuditEvent.objects.filter(action="crm.contact.created").get()
    assert created.data["inbound"] == "whatsapp" and created.actor_type == "system"
    client.force_login(contact.owner)
    page = client.get("/contacts/").content.decode()
    assert 'data-testid="contact-new"' in page


def test_unknown_senders_are_dealt_round_robin(wa, deliver, rep, other_rep, manager):
    deliver(from_number="+14155550001", name="A")
    deliver(from_number="+14155550002", name="B")
    deliver(from_number="+14155550003", name="C")
    assignees = list(Conversation.objects.order_by("pk").values_list("assignee_id", flat=True))
    members = {rep.pk, other_rep.pk, manager.pk} & set(
        type(rep).objects.filter(team=wa.team).values_list("pk", flat=True)
    )
    assert len(set(assignees)) == min(3, len(members))


def test_existing_conversation_keeps_its_assignee(wa, deliver, rep, manager, customer_contact):
    started = comms_services.conversation_start(
        actor=manager, contact=customer_contact, kind="whatsapp"
    )
    deliver(text="de novo")
    assert Conversation.objects.get() == started
    assert Message.objects.get().conversation_id == started.pk
    started.refresh_from_db()
    assert started.assignee == manager  # not the contact's owner: the conversation has a person


def test_owner_away_goes_to_the_delegate(wa, deliver, rep, other_rep, customer_contact):
    now = timezone.now()
    cover.cover_set(
        actor=rep, user=rep, delegate=other_rep, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    deliver(text="alguém?")
    conversation = Conversation.objects.get()
    assert (conversation.assignee, conversation.covering_for) == (other_rep, rep)


def test_inactive_owner_falls_back_to_the_team(wa, deliver, rep, other_rep, customer_contact):
    customer_contact.owner = make_user(None, username="gone", is_active=False)
    customer_contact.save()
    deliver(text="oi")
    assert Conversation.objects.get().assignee.team_id == rep.team_id


# --- media ------------------------------------------------------------------------------------


def test_whatsapp_media_is_fetched_and_stored_with_its_sha256(
    wa, client, provider_simulator, customer_contact, django_capture_on_commit_callbacks
):
    content = b"%PDF-1.4 fake proposal"
    media_id = provider_simulator.add_media(content, "application/pdf", "proposta.pdf")
    media = payloads.Media(mime_type="application/pdf", media_id=media_id, filename="proposta.pdf")
    payload = wa_message(provider_simulator, text="segue", media=media)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    attachment = Attachment.objects.get()
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert (attachment.name, attachment.content_type, attachment.size) == (
        "proposta.pdf",
        "application/pdf",
        len(content),
    )
    assert attachment.uploaded_by is None
    assert attachment.message.body == "segue"
    attachment.file.open("rb")
    assert attachment.file.read() == content
    assert AuditEvent.objects.filter(action="comms.attachment.uploaded").exists()


def test_twilio_media_each_file_stored(
    client, provider_simulator, team, customer_contact, django_capture_on_commit_callbacks
):
    sms = sms_account(provider_simulator, team=team)
    s = provider_simulator.settings
    images = [b"\x89PNG one", b"\x89PNG two"]
    sid = payloads.new_twilio_sid("MM")
    urls = [
        (provider_simulator.add_twilio_media(c, "image/png", message_sid=sid), "image/png")
        for c in images
    ]
    params = payloads.build_twilio_message(
        account_sid=s.account_sid,
        from_number=CUSTOMER,
        to_number=s.sms_number,
        body="fotos",
        media=urls,
        message_sid=sid,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_twilio(client, provider_simulator, sms, params).status_code == 200
    digests = sorted(Attachment.objects.values_list("sha256", flat=True))
    assert digests == sorted(hashlib.sha256(c).hexdigest() for c in images)
    assert Message.objects.count() == 2  # the text with the first file, the second on its own


def test_media_fetch_failing_for_good_is_recorded(
    wa, client, provider_simulator, customer_contact, django_capture_on_commit_callbacks
):
    media = payloads.Media(mime_type="image/png", media_id="404404")
    payload = wa_message(provider_simulator, media=media)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    event = InboundEvent.objects.get()
    assert event.processed_at is not None and event.error
    assert not Message.objects.exists()


def test_media_fetch_500_then_200_is_retried(
    wa, client, provider_simulator, customer_contact, django_capture_on_commit_callbacks
):
    media_id = provider_simulator.add_media(b"\x89PNG", "image/png", "a.png")
    payload = wa_message(
        provider_simulator, media=payloads.Media(mime_type="image/png", media_id=media_id)
    )
    provider_simulator.fail_next(1, status=500)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    assert Attachment.objects.count() == 1 and Message.objects.count() == 1


# --- status callbacks -------------------------------------------------------------------------


@pytest.fixture
def sent_message(wa, rep, customer_contact):
    conversation = comms_services.conversation_start(
        actor=rep, contact=customer_contact, kind="whatsapp"
    )
    customer_wrote(conversation)
    message = comms_services.message_send(
        author=rep, conversation=conversation, body="Proposta enviada", client_id=cid()
    ).message
    Message.objects.filter(pk=message.pk).update(external_id="wamid.SENT1")
    return message


def _status(client, simulator, status, capture, **kw):
    payload = payloads.build_whatsapp_status(
        phone_number_id=simulator.settings.phone_number_id,
        display_phone_number=simulator.settings.whatsapp_number,
        message_id="wamid.SENT1",
        status=status,
        recipient=CUSTOMER,
        **kw,
    )
    with capture(execute=True):
        return post_whatsapp(client, simulator, payload)


def test_statuses_move_forward_only(
    client, provider_simulator, sent_message, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    assert sent_message.status == "queued"
    for status in ("sent", "read", "delivered", "sent"):
        assert _status(client, provider_simulator, status, capture).status_code == 200
    sent_message.refresh_from_db()
    assert sent_message.status == "read"
    assert sent_message.sent_at and sent_message.read_at
    assert sent_message.delivered_at is not None  # read implies delivered
    moves = AuditEvent.objects.filter(action="comms.message.status_changed").order_by("seq")
    assert [(e.data["from"], e.data["to"]) for e in moves] == [("queued", "sent"), ("sent", "read")]
    # A repeat of a status already processed: nothing new.
    _status(client, provider_simulator, "read", capture)
    assert moves.count() == 2


def test_failed_keeps_the_provider_reason(
    client, provider_simulator, sent_message, django_capture_on_commit_callbacks
):
    _status(
        client,
        provider_simulator,
        "failed",
        django_capture_on_commit_callbacks,
        error_code=131047,
        error_title="Re-engagement message",
        error_details="More than 24 hours have passed",
    )
    sent_message.refresh_from_db()
    assert sent_message.status == "failed" and sent_message.failed_at
    assert "More than 24 hours" in sent_message.failed_reason
    from comms import presenters

    shown = presenters.message_dict(sent_message, presenters.STAFF)
    assert "More than 24 hours" in shown["failed_reason"]


def test_status_broadcasts_message_updated(
    client, provider_simulator, sent_message, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        "comms.services.statuses.broadcast_message",
        lambda kind, conversation, data: sent.append((kind, data["status"])),
    )
    _status(client, provider_simulator, "delivered", django_capture_on_commit_callbacks)
    assert sent == [("message.updated", "delivered")]


def test_status_for_an_unknown_message_is_given_up_recorded(
    wa, client, provider_simulator, django_capture_on_commit_callbacks
):
    assert (
        _status(client, provider_simulator, "sent", django_capture_on_commit_callbacks).status_code
        == 200
    )
    event = InboundEvent.objects.get()
    assert event.processed_at and "no outbound message" in event.error


def test_twilio_status_callback(
    client, provider_simulator, team, rep, customer_contact, django_capture_on_commit_callbacks
):
    sms = sms_account(provider_simulator, team=team)
    conversation = comms_services.conversation_start(
        actor=rep, contact=customer_contact, kind="sms"
    )
    customer_wrote(conversation)
    message = comms_services.message_send(
        author=rep, conversation=conversation, body="oi", client_id=cid()
    ).message
    Message.objects.filter(pk=message.pk).update(external_id="SM" + "a" * 32)
    params = payloads.build_twilio_status(
        account_sid=provider_simulator.settings.account_sid,
        message_sid="SM" + "a" * 32,
        status="undelivered",
        from_number=provider_simulator.settings.sms_number,
        to_number=CUSTOMER,
        error_code=30006,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_twilio(client, provider_simulator, sms, params).status_code == 200
    message.refresh_from_db()
    assert message.status == "failed" and "30006" in message.failed_reason


# --- email threading --------------------------------------------------------------------------


def test_email_replies_thread_into_one_conversation(
    client, provider_simulator, team, customer_contact, django_capture_on_commit_callbacks
):
    mailbox = email_account(provider_simulator, team=team)

    def send(**kw):
        raw = payloads.build_email(
            from_address="clara@customer.example", to_address="sales@keepline.example", **kw
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert post_email(client, mailbox, raw).status_code == 200

    send(subject="Proposta", text="Primeira", message_id="<m1@customer.example>")
    send(
        subject="Re: Proposta",
        text="Segunda\n\nOn Mon, Clara wrote:\n> Primeira",
        message_id="<m2@customer.example>",
        in_reply_to="<m1@customer.example>",
        references=["<m1@customer.example>"],
    )
    send(subject="Outro assunto", text="Nova", message_id="<m3@customer.example>")
    conversations = list(Conversation.objects.order_by("pk"))
    assert len(conversations) == 2
    first = list(conversations[0].messages.values_list("body", flat=True))
    assert first == ["Primeira", "Segunda"]  # the quoted history is not in the chat


# --- the same webhook five times at once (PostgreSQL) -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_five_concurrent_identical_webhooks_make_one_message(
    live_server, provider_simulator, team, rep
):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises the database)")
    from tests.crm.factories import ContactFactory

    ContactFactory(first_name="Clara", owner=rep, phone=CUSTOMER)
    whatsapp_account(provider_simulator, team=team)
    body = payloads.encode_json(wa_message(provider_simulator, text="cinco vezes"))
    from connectors import signatures

    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signatures.whatsapp_signature(
            provider_simulator.settings.app_secret, body
        ),
    }
    barrier = threading.Barrier(5)
    statuses = []

    def post():
        barrier.wait()
        response = httpx.post(f"{live_server.url}/hooks/whatsapp/", content=body, headers=headers)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 5
    assert InboundEvent.objects.count() == 1
    assert Message.objects.filter(body="cinco vezes").count() == 1
    assert Conversation.objects.count() == 1
    assert AuditEvent.objects.filter(action="comms.message.received").count() == 1
