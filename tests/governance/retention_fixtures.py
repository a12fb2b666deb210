"""Conversations with messages, edits and files for the retention and hold tests."""

import uuid
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from comms import services
from tests.crm.factories import CompanyFactory, ContactFactory, DealFactory


def cid() -> str:
    return str(uuid.uuid4())


def verify() -> tuple[int, str]:
    """verify_audit as an operator runs it: (exit code, what it printed or the error)."""
    out = StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=StringIO())
    except Exception as error:  # CommandError
        return getattr(error, "returncode", -1), str(error)
    return 0, out.getvalue()


@pytest.fixture
def company(db, rep, customer_contact):
    """The customer's employer."""
    company = CompanyFactory(name="Acme Frotas", owner=rep)
    customer_contact.company = company
    customer_contact.save(update_fields=["company"])
    return company


@pytest.fixture
def deal(db, rep, customer_contact):
    from tests.comms.conftest import ensure_default_pipeline

    ensure_default_pipeline()
    deal = DealFactory(title="Fleet renewal", owner=rep, primary_contact=customer_contact)
    deal.contacts.add(customer_contact)
    return deal


@pytest.fixture
def conversation(db, rep, customer_contact, deal):
    return services.conversation_start(
        actor=rep, contact=customer_contact, deal=deal, subject="Renewal chat"
    )


@pytest.fixture
def other_contact(db, other_rep):
    return ContactFactory(first_name="Otto", last_name="Outro", owner=other_rep)


@pytest.fixture
def other_conversation(db, other_rep, other_contact):
    return services.conversation_start(actor=other_rep, contact=other_contact, subject="Other")


def send(actor, conversation, body: str):
    return services.message_send(
        author=actor, conversation=conversation, body=body, client_id=cid()
    ).message


@pytest.fixture
def record(settings, tmp_path, rep, conversation):
    """A message with a file, edited once, and a plain message."""
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("proposal.txt", b"the proposal", content_type="text/plain")
    filed = services.attachment_upload(
        actor=rep, conversation=conversation, upload=upload, body="Preço: 100"
    )
    edited = filed.message
    services.message_edit(
        editor=rep, conversation=conversation, message_id=edited.pk, body="Preço: 120"
    )
    plain = send(rep, conversation, "See you Monday")
    edited.refresh_from_db()
    return edited, filed.attachments[0], plain
