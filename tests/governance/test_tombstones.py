# ruff: noqa: F811 - pytest fixtures imported from tests.governance.retention_fixtures
"""The tombstone path: a purged message keeps its row and its text's digest, its revisions and
file bytes go, `verify_audit` still passes, and the database refuses anything else."""

import os

import pytest
from django.db import DatabaseError, transaction

from audit.models import AuditEvent
from comms import services
from comms.models import Attachment, Message, MessageRevision
from comms.services.inputs import sha256_text
from comms.services.purge import message_bodies_purge
from config.errors import ServiceError
from tests.audit.ledger import sql
from tests.comms.guards import record_guards_off
from tests.governance.retention_fixtures import (  # noqa: F401
    conversation,
    deal,
    record,
    send,
    verify,
)


def test_a_purged_message_is_a_tombstone_and_the_record_still_verifies(
    record, admin_user, django_capture_on_commit_callbacks
):
    edited, attachment, plain = record
    path = attachment.file.path
    with django_capture_on_commit_callbacks(execute=True):
        count = message_bodies_purge(message_ids=[edited.pk], actor=admin_user, reason="test")
    assert count == 1
    edited.refresh_from_db()
    assert edited.body == "" and edited.purged_at is not None
    assert edited.body_sha256 == sha256_text("Preço: 120")
    assert edited.author_user_id and edited.created_at and edited.conversation_id
    revision = MessageRevision.objects.get(message=edited)
    assert revision.body == "" and revision.body_sha256 == sha256_text("Preço: 100")
    attachment.refresh_from_db()
    assert attachment.purged_at is not None and attachment.sha256 and attachment.size == 12
    assert not os.path.exists(path)
    plain.refresh_from_db()
    assert plain.body == "See you Monday" and plain.purged_at is None
    code, out = verify()
    assert code == 0, out
    event = AuditEvent.objects.get(action="comms.message.purged")
    assert event.data["messages"] == [edited.pk] and event.data["reason"] == "test"
    assert event.data["revisions"] == 1 and event.data["files"] == 1


def test_purging_again_does_nothing(record, admin_user):
    edited, _, _ = record
    assert message_bodies_purge(message_ids=[edited.pk], actor=admin_user, reason="one") == 1
    assert message_bodies_purge(message_ids=[edited.pk], actor=admin_user, reason="two") == 0
    assert AuditEvent.objects.filter(action="comms.message.purged").count() == 1


def test_a_purge_needs_a_reason(record, admin_user):
    edited, _, _ = record
    with pytest.raises(ValueError):
        message_bodies_purge(message_ids=[edited.pk], actor=admin_user, reason=" ")
    edited.refresh_from_db()
    assert edited.purged_at is None


def test_a_changed_tombstone_digest_is_named(record, admin_user):
    edited, _, _ = record
    message_bodies_purge(message_ids=[edited.pk], actor=admin_user, reason="test")
    with record_guards_off():
        sql("UPDATE comms_message SET body_sha256 = %s WHERE id = %s", ["0" * 64, edited.pk])
    code, error = verify()
    assert code == 1
    assert f"message {edited.pk}: its kept digest (purged) differs" in error


def test_a_changed_tombstone_revision_digest_is_named(record, admin_user):
    edited, _, _ = record
    message_bodies_purge(message_ids=[edited.pk], actor=admin_user, reason="test")
    with record_guards_off():
        sql(
            "UPDATE comms_messagerevision SET body_sha256 = %s WHERE message_id = %s",
            ["0" * 64, edited.pk],
        )
    code, error = verify()
    assert code == 1 and f"of message {edited.pk}: its text differs" in error


@pytest.mark.parametrize(
    "statement",
    [
        # un-purging, or changing a tombstone
        "UPDATE comms_message SET purged_at = NULL WHERE id = {message}",
        "UPDATE comms_message SET body = 'back' WHERE id = {message}",
        "UPDATE comms_message SET body_sha256 = 'x' WHERE id = {message}",
        "UPDATE comms_messagerevision SET purged_at = NULL WHERE message_id = {message}",
        "UPDATE comms_messagerevision SET body = 'back' WHERE message_id = {message}",
        "UPDATE comms_attachment SET purged_at = NULL WHERE id = {file}",
        "DELETE FROM comms_message WHERE id = {message}",
    ],
)
def test_the_database_refuses_to_undo_or_change_a_tombstone(record, admin_user, statement):
    edited, attachment, _ = record
    message_bodies_purge(message_ids=[edited.pk], actor=admin_user, reason="test")
    with pytest.raises(DatabaseError, match="record is kept"), transaction.atomic():
        sql(statement.format(message=edited.pk, file=attachment.pk))


@pytest.mark.parametrize(
    "statement",
    [
        # emptying a text without the purge's marks, or with a wrong digest
        "UPDATE comms_message SET body = '' WHERE id = {message}",
        "UPDATE comms_message SET body = '', purged_at = CURRENT_TIMESTAMP WHERE id = {message}",
        "UPDATE comms_message SET body = '', purged_at = CURRENT_TIMESTAMP,"
        " body_sha256 = '{wrong}' WHERE id = {message}",
        "UPDATE comms_message SET body = 'other', purged_at = CURRENT_TIMESTAMP,"
        " body_sha256 = '{right}' WHERE id = {message}",
        "UPDATE comms_message SET body_sha256 = '{right}' WHERE id = {message}",
        # a revision purged while its message is not
        "UPDATE comms_messagerevision SET body = '', purged_at = CURRENT_TIMESTAMP,"
        " body_sha256 = '{previous}' WHERE message_id = {message}",
    ],
)
def test_the_database_refuses_any_other_removal_of_text(record, statement):
    edited, _, _ = record
    values = {
        "message": edited.pk,
        "wrong": "0" * 64,
        "right": sha256_text(edited.body),
        "previous": sha256_text("Preço: 100"),
    }
    with pytest.raises(DatabaseError, match="record is kept"), transaction.atomic():
        sql(statement.format(**values))


def test_the_database_allows_exactly_the_purge(record):
    """The sanctioned statement, written by hand, passes the guard."""
    _, _, plain = record
    sql(
        "UPDATE comms_message SET body = '', purged_at = CURRENT_TIMESTAMP, body_sha256 = %s"
        " WHERE id = %s",
        [sha256_text("See you Monday"), plain.pk],
    )
    plain.refresh_from_db()
    assert plain.body == "" and plain.purged_at is not None
    assert verify()[0] == 0


def test_a_tombstone_cannot_be_edited_or_retracted(record, rep, conversation):
    _, _, plain = record
    message_bodies_purge(message_ids=[plain.pk], actor=rep, reason="test")
    with pytest.raises(ServiceError) as refused:
        services.message_edit(
            editor=rep, conversation=conversation, message_id=plain.pk, body="again"
        )
    assert refused.value.code == "not_editable"
    with pytest.raises(ServiceError):
        services.message_retract(actor=rep, conversation=conversation, message_id=plain.pk)
    plain.refresh_from_db()
    assert plain.body == "" and not plain.retracted


def test_purge_queries_stay_constant(
    record, rep, conversation, admin_user, django_assert_max_num_queries
):
    few = [send(rep, conversation, f"m{i}").pk for i in range(3)]
    many = [send(rep, conversation, f"n{i}").pk for i in range(30)]
    with django_assert_max_num_queries(12) as few_queries:
        message_bodies_purge(message_ids=few, actor=admin_user, reason="few")
    with django_assert_max_num_queries(12) as many_queries:
        message_bodies_purge(message_ids=many, actor=admin_user, reason="many")
    assert len(many_queries.captured_queries) == len(few_queries.captured_queries)
    assert Message.objects.filter(pk__in=few + many, purged_at__isnull=False).count() == 33
    assert Attachment.objects.count() == 1
