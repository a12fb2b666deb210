"""verify_audit holds messages, their earlier versions and files to the digests their audit events
recorded: a direct change of the record, which no event notices, is named."""

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from comms import services
from comms.models import Attachment, Message, MessageRevision
from tests.audit.ledger import sql
from tests.comms.conftest import cid


@pytest.fixture
def record(settings, tmp_path, rep, conversation):
    """A sent message edited twice, one retracted, and a file."""
    settings.MEDIA_ROOT = tmp_path
    first = services.message_send(
        author=rep, conversation=conversation, body="Preço: 100", client_id=cid()
    )
    for body in ("Preço: 120", "Preço: 110"):
        services.message_edit(
            editor=rep, conversation=conversation, message_id=first.message.pk, body=body
        )
    gone = services.message_send(
        author=rep, conversation=conversation, body="oops", client_id=cid()
    )
    services.message_retract(actor=rep, conversation=conversation, message_id=gone.message.pk)
    upload = SimpleUploadedFile("proposal.txt", b"the proposal", content_type="text/plain")
    filed = services.attachment_upload(actor=rep, conversation=conversation, upload=upload)
    return first.message, filed.attachments[0]


def _verify(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=StringIO())
    except Exception as error:  # CommandError
        return getattr(error, "returncode", -1), str(error)
    return 0, out.getvalue()


def test_an_untouched_record_agrees_with_its_events(record):
    code, out = _verify()
    assert code == 0
    assert "record agrees with its events: 1 files, 3 messages, 2 revisions" in out


def test_a_direct_update_of_a_message_body_is_named(record):
    message, _ = record
    sql("UPDATE comms_message SET body = %s WHERE id = %s", ["Preço: 90", message.pk])
    code, error = _verify()
    assert code == 1
    assert f"record damaged: message {message.pk}: its text differs" in error
    assert _verify("--skip-records")[0] == 0  # the ledger itself is intact


def test_a_changed_earlier_version_is_named(record):
    message, _ = record
    revision = MessageRevision.objects.filter(message=message).order_by("pk").first()
    sql("UPDATE comms_messagerevision SET body = %s WHERE id = %s", ["Preço: 1", revision.pk])
    code, error = _verify()
    assert code == 1 and f"revision {revision.pk} of message {message.pk}" in error


def test_a_deleted_earlier_version_is_named(record):
    message, _ = record
    revision = MessageRevision.objects.filter(message=message).order_by("pk").last()
    sql("DELETE FROM comms_messagerevision WHERE id = %s", [revision.pk])
    code, error = _verify()
    assert code == 1 and "1 earlier versions kept, 2 edits audited" in error


def test_changed_file_bytes_are_named(record):
    _, attachment = record
    with open(attachment.file.path, "wb") as handle:
        handle.write(b"another proposal")
    code, error = _verify()
    assert code == 1
    assert f"file {attachment.pk} (proposal.txt): its bytes differ" in error


def test_a_message_no_event_recorded_is_named(record, conversation):
    message, _ = record
    forged = Message.objects.create(
        conversation=conversation, body="never said", direction=Message.Direction.OUTBOUND,
        client_id=cid(), seq=message.seq + 100, customer_seq=message.seq + 100,
    )  # fmt: skip
    code, error = _verify()
    assert code == 1 and f"message {forged.pk}: no audit event records" in error
    assert Attachment.objects.count() == 1
