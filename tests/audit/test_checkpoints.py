import json
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

import audit
from audit import services, signing, tasks
from audit.models import AuditCheckpoint
from tests.audit.ledger import verify


@pytest.mark.django_db
def test_beat_task_signs_the_head_and_skips_when_nothing_changed(audit_signing_key):
    assert tasks.checkpoint_create.apply().get() is None  # empty ledger: nothing to sign
    first = audit.record(actor=None, action="crm.deal.changed")
    assert tasks.checkpoint_create.apply().get() == first.seq
    assert tasks.checkpoint_create.apply().get() == first.seq
    assert AuditCheckpoint.objects.count() == 1
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.head_hash == first.hash
    assert checkpoint.public_key == signing.public_key_hex()
    assert verify()[0] == 0
    schedule = django_settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert schedule["task"] == tasks.checkpoint_create.name and schedule["schedule"] <= 600


@pytest.mark.django_db
def test_audit_checkpoint_prints_json_with_the_public_key(audit_signing_key, capsys):
    with pytest.raises(CommandError, match="empty"):
        call_command("audit_checkpoint")
    event = audit.record(actor=None, action="crm.deal.changed")
    call_command("audit_checkpoint")
    document = json.loads(capsys.readouterr().out)
    assert document["seq"] == event.seq and document["head_hash"] == event.hash
    assert document["public_key"] == signing.public_key_hex()
    message = signing.statement(seq=event.seq, head_hash=event.hash, time=document["time"])
    assert signing.signature_ok(document["public_key"], document["signature"], message)


def test_no_key_with_debug_off_is_a_clear_error_when_signing(settings):
    settings.DEBUG = False
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = ""
    with pytest.raises(ImproperlyConfigured, match="AUDIT_SIGNING_KEY_FILE"):
        signing.sign(b"x")
    assert signing.trusted_public_key() is None


def test_demo_mode_generates_one_private_key_under_var(settings, tmp_path):
    settings.DEBUG = True
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = ""
    settings.VAR_DIR = tmp_path
    first = signing.public_key_hex()
    key_file = tmp_path / signing.DEV_KEY_NAME
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    signing._private_key.cache_clear()
    assert signing.public_key_hex() == first


def test_key_from_a_pem_file(settings, tmp_path):
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "audit.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = str(pem)
    assert signing.public_key_hex() == signing.public_key_hex(key)
    settings.AUDIT_SIGNING_KEY = "not a key"
    with pytest.raises(ImproperlyConfigured):
        signing.sign(b"x")


@pytest.mark.django_db
def test_checkpoint_ignores_an_edited_chain_head_row(audit_signing_key):
    from tests.audit.ledger import sql

    event = audit.record(actor=None, action="crm.deal.changed")
    sql("UPDATE audit_auditchainhead SET hash = %s WHERE id = 1", ["ff" * 32])
    checkpoint = services.checkpoint_create()
    assert checkpoint.head_hash == event.hash  # signed from the events, not the head row
    nxt = audit.record(actor=None, action="crm.deal.changed")  # chained off the edited head
    code, message = verify()
    assert code == 1 and f"seq {event.seq}: altered" in message
    assert f"seq {nxt.seq} links to a different hash" in message and "head row" in message
