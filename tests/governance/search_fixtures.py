"""Conversations with edited and retracted messages for the search and export tests."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from comms import services
from tests.crm.factories import DealFactory


def cid() -> str:
    return str(uuid.uuid4())


def say(conversation, author, body):
    return services.message_send(
        author=author, conversation=conversation, body=body, client_id=cid()
    ).message


@pytest.fixture
def exports_dir(settings, tmp_path):
    settings.GOVERNANCE_EXPORT_DIR = tmp_path / "exports"
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.GOVERNANCE_EXPORT_DIR


@pytest.fixture
def deal(db, rep, customer_contact):
    import importlib

    from django.apps import apps

    # Transactional tests flush the tables the data migration filled: fill them again.
    importlib.import_module("crm.migrations.0002_default_pipeline").create_default_pipeline(
        apps, None
    )
    deal = DealFactory(title="Fleet renewal", owner=rep, primary_contact=customer_contact)
    deal.contacts.add(customer_contact)
    return deal


@pytest.fixture
def conversation(db, rep, customer_contact, deal):
    return services.conversation_start(
        actor=rep, contact=customer_contact, deal=deal, subject="Renewal chat"
    )


@pytest.fixture
def history(conversation, rep, exports_dir):
    """A greeting, an edited message (its first text said "descuento"), a retracted one that
    said "confidencial", and a file."""
    hello = say(conversation, rep, "Hola Clara, here is the proposal")
    edited = say(conversation, rep, "We can offer a descuento of 15%")
    services.message_edit(
        editor=rep, conversation=conversation, message_id=edited.pk, body="We can offer a discount"
    )
    retracted = say(conversation, rep, "Internal: confidencial margin is 40%")
    services.message_retract(actor=rep, conversation=conversation, message_id=retracted.pk)
    upload = SimpleUploadedFile("quote.pdf", b"%PDF-1.4 quote", content_type="application/pdf")
    services.attachment_upload(actor=rep, conversation=conversation, upload=upload, body="Quote")
    edited.refresh_from_db()
    retracted.refresh_from_db()
    return {"hello": hello, "edited": edited, "retracted": retracted}
