"""The database guards of the record, and verify_audit holding messages, their earlier versions
and files to the digests their audit events recorded: a direct change of the record, which no
event notices, is refused, and named when the guards were dropped."""

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import DatabaseError, transaction

from comms import services
from comms.models import Attachment, Message, MessageRevision
from tests.audit.ledger import sql
from tests.comms.conftest import cid
from tests.comms.guards import record_guards_off


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
    with record_guards_off():
        sql("UPDATE comms_message SET body = %s WHERE id = %s", ["Preço: 90", message.pk])
    code, error = _verify()
    assert code == 1
    assert f"record damaged: message {message.pk}: its text differs" in error
    assert _verify("--skip-records")[0] == 0  # the ledger itself is intact


def test_a_changed_earlier_version_is_named(record):
    message, _ = record
    revision = MessageRevision.objects.filter(message=message).order_by("pk").first()
    with record_guards_off():
        sql("UPDATE comms_messagerevision SET body = %s WHERE id = %s", ["Preço: 1", revision.pk])
    code, error = _verify()
    assert code == 1 and f"revision {revision.pk} of message {message.pk}" in error


def test_a_deleted_earlier_version_is_named(record):
    message, _ = record
    revision = MessageRevision.objects.filter(message=message).order_by("pk").last()
    with record_guards_off():
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


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE comms_message SET body = 'Preço: 90' WHERE id = {message}",
        "UPDATE comms_message SET author_user_id = NULL WHERE id = {message}",
        "UPDATE comms_message SET direction = 'inbound' WHERE id = {message}",
        "UPDATE comms_message SET conversation_id = conversation_id + 1 WHERE id = {message}",
        "DELETE FROM comms_message WHERE id = {message}",
        "UPDATE comms_messagerevision SET body = 'x' WHERE message_id = {message}",
        "DELETE FROM comms_messagerevision WHERE message_id = {message}",
        "UPDATE comms_attachment SET sha256 = 'x' WHERE id = {file}",
        "UPDATE comms_attachment SET name = 'other.txt' WHERE id = {file}",
        "DELETE FROM comms_attachment WHERE id = {file}",
    ],
)
def test_the_database_refuses_a_change_of_what_was_said(record, statement):
    message, attachment = record
    with pytest.raises(DatabaseError, match="record is kept"), transaction.atomic():
        sql(statement.format(message=message.pk, file=attachment.pk))
    assert _verify()[0] == 0


def test_what_the_services_change_still_changes(record, rep, conversation):
    message, _ = record
    services.message_edit(
        editor=rep, conversation=conversation, message_id=message.pk, body="Preço: 105"
    )
    services.message_retract(actor=rep, conversation=conversation, message_id=message.pk)
    sql(
        "UPDATE comms_message SET external_id = 'wamid.1', status = 'delivered' WHERE id = %s",
        [message.pk],
    )
    message.refresh_from_db()
    assert message.body == "Preço: 105" and message.retracted and message.external_id == "wamid.1"
    with pytest.raises(DatabaseError, match="record is kept"), transaction.atomic():
        sql("UPDATE comms_message SET retracted = %s WHERE id = %s", [False, message.pk])
    assert _verify()[0] == 0


def test_the_record_check_costs_the_same_queries_for_more_messages(record, rep, conversation):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit import record_checks

    def queries():
        with CaptureQueriesContext(connection) as captured:
            mismatch, tally = record_checks.run()
        assert mismatch is None
        return len(captured), tally["messages"]

    few, counted = queries()
    for n in range(30):
        services.message_send(author=rep, conversation=conversation, body=f"m{n}", client_id=cid())
    many, counted_after = queries()
    assert counted_after == counted + 30 and many == few
