"""The audit checkpoint task is idempotent (issue 11): a beat run redelivered after a stall or a
lost worker, or several running at once, leave one checkpoint per chain head and signing key."""

import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import IntegrityError, connection, transaction

import audit
from audit import services, tasks
from audit.models import AuditCheckpoint
from tests.audit.ledger import verify


@pytest.mark.django_db
def test_requeued_runs_after_the_same_ledger_state_write_one_checkpoint(audit_signing_key):
    head = audit.record(actor=None, action="crm.deal.changed")
    # What a stalled worker's redeliveries did: the same task, the same head, four times.
    answers = [tasks.checkpoint_create.apply().get() for _ in range(4)]
    assert answers == [head.seq] * 4
    # The manual command's --force too: it prints the stored checkpoint rather than a second.
    again = services.checkpoint_create(force=True)
    assert AuditCheckpoint.objects.count() == 1
    assert again == AuditCheckpoint.objects.get()
    assert verify()[0] == 0

    newer = audit.record(actor=None, action="crm.deal.changed")
    assert tasks.checkpoint_create.apply().get() == newer.seq
    assert list(AuditCheckpoint.objects.values_list("seq", flat=True)) == [head.seq, newer.seq]


@pytest.mark.django_db
def test_the_database_refuses_a_second_checkpoint_of_one_head_and_key(audit_signing_key):
    audit.record(actor=None, action="crm.deal.changed")
    first = services.checkpoint_create()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditCheckpoint.objects.create(
            seq=first.seq,
            head_hash=first.head_hash,
            created_at=first.created_at,
            public_key=first.public_key,
            signature=first.signature,
        )


@pytest.mark.django_db
def test_a_new_signing_key_signs_the_same_head_again(audit_signing_key, settings):
    import base64

    audit.record(actor=None, action="crm.deal.changed")
    old = services.checkpoint_create()
    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    settings.AUDIT_SIGNING_KEY = base64.b64encode(seed).decode()  # the key is read per call
    new = services.checkpoint_create()
    assert new.pk != old.pk and new.seq == old.seq and new.public_key != old.public_key
    assert services.checkpoint_create() == new


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_write_one_checkpoint(audit_signing_key):
    """Eight workers sign the same head at the same moment, each sure there is none yet
    (force skips the look): one row; every run answers with it."""
    head = audit.record(actor=None, action="crm.deal.changed")
    runs = 8
    barrier = threading.Barrier(runs)
    answers, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            answers.append(services.checkpoint_create(force=True).pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.seq == head.seq
    assert answers == [checkpoint.pk] * runs
