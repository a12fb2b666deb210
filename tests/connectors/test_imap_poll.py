"""IMAP polling (connectors.imap_poll and its beat task) against the tiny IMAP server of
test_imap.py, over a real loopback socket: mail in the mailbox becomes one stored inbound message
through the same path as the inbound email webhook, and polling again changes nothing."""

from __future__ import annotations

import pytest
from django.conf import settings

from comms.models import Message
from connectors import imap_poll, payloads, tasks
from connectors.models import InboundEvent
from tests.connectors.test_imap import PASSWORD, USER, ImapServer, ImapState, Mailbox, _start
from tests.factories import make_channel_account

pytestmark = pytest.mark.django_db


def _email(text="Podemos falar amanhã?", message_id="<poll-1@customer.example>"):
    return payloads.build_email(
        from_address="Clara Cliente <clara@customer.example>",
        to_address="sales@keepline.test",
        subject="Proposta",
        text=text,
        message_id=message_id,
    )


@pytest.fixture
def inbox():
    return Mailbox(messages={4: _email()})


@pytest.fixture
def imap_server(inbox):
    server = ImapServer(ImapState(mailboxes={"INBOX": inbox}))
    thread = _start(server)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _account(server, *, password=PASSWORD, team=None, name="Sales mailbox"):
    return make_channel_account(
        "email",
        team=team,
        name=name,
        settings={
            "imap_host": "127.0.0.1",
            "imap_port": server.port,
            "imap_username": USER,
            "imap_use_ssl": False,
        },
        secrets={"imap_password": password},
    )


def test_a_message_in_the_mailbox_is_stored_once_and_marked_seen(
    imap_server, inbox, customer_contact, team, django_capture_on_commit_callbacks
):
    account = _account(imap_server, team=team)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.email_accounts_poll.delay()
    message = Message.objects.get()
    assert message.body == "Podemos falar amanhã?"
    assert message.author_contact == customer_contact
    assert message.external_id == "<poll-1@customer.example>"
    assert message.conversation.kind == "email"
    assert inbox.seen == {4}
    assert InboundEvent.objects.get().account == account

    with django_capture_on_commit_callbacks(execute=True):
        assert imap_poll.email_accounts_poll() == {account.pk: 0}
    assert Message.objects.count() == 1
    assert InboundEvent.objects.count() == 1


def test_mail_read_again_after_a_crash_before_marking_is_not_stored_twice(
    imap_server, inbox, customer_contact, team, django_capture_on_commit_callbacks
):
    account = _account(imap_server, team=team)
    with django_capture_on_commit_callbacks(execute=True):
        imap_poll.email_accounts_poll()
    inbox.seen.clear()  # as if the poll died between storing and marking
    with django_capture_on_commit_callbacks(execute=True):
        assert imap_poll.email_accounts_poll() == {account.pk: 1}
    assert Message.objects.count() == 1
    assert inbox.seen == {4}


def test_unusable_mail_is_skipped_and_marked_and_a_broken_account_stops_no_other(
    imap_server, inbox, customer_contact, team, django_capture_on_commit_callbacks, caplog
):
    inbox.messages[6] = b"\x00\x01 not an email"
    broken = _account(imap_server, password="wrong", team=team, name="Broken")
    account = _account(imap_server, team=team)
    with django_capture_on_commit_callbacks(execute=True):
        assert imap_poll.email_accounts_poll() == {account.pk: 1}
    assert Message.objects.count() == 1
    assert inbox.seen == {4, 6}
    assert f"email account {broken.pk} failed" in caplog.text
    assert PASSWORD not in caplog.text


def test_accounts_without_imap_or_inactive_are_not_polled(imap_server, inbox, team):
    make_channel_account("email", team=team, name="Webhook only")
    account = _account(imap_server, team=team)
    account.is_active = False
    account.save(update_fields=["is_active"])
    assert imap_poll.email_accounts_poll() == {}
    assert inbox.seen == set()


def test_polling_is_on_the_beat_schedule_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["connectors-imap-poll"]
    assert entry["task"] == "connectors.tasks.email_accounts_poll"
    assert entry["schedule"] == 60
