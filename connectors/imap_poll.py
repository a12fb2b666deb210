"""IMAP polling, the optional inbound road for email accounts (a Celery beat task, every minute).

For each active email account with an IMAP host: fetch the unseen messages (left unseen),
accept each raw message exactly as the inbound email webhook does (mail.parse, then
connectors.inbound's accept, which stores it once by Message-ID and queues its processing after
commit), then mark seen what was accepted. A crash between accepting and marking reads the
messages again next time; accepting is idempotent, so nothing is stored twice. A message that is
not a usable email is logged and marked seen too, so it is not read again every minute.
"""

from __future__ import annotations

import logging

from django.conf import settings

from connectors import crypto, imap, inbound, mail
from connectors.models import ChannelAccount, ChannelKind

log = logging.getLogger(__name__)

BATCH = 50  # messages per account per poll; the rest wait for the next minute


def _imap_args(account: ChannelAccount) -> dict:
    return {
        "host": account.setting("imap_host"),
        "port": int(account.setting("imap_port")),
        "username": account.setting("imap_username") or account.setting("from_address"),
        "password": account.secret("imap_password"),
        "use_ssl": bool(account.setting("imap_use_ssl")),
        "mailbox": account.setting("imap_mailbox") or "INBOX",
    }


def email_account_poll(*, account: ChannelAccount) -> int:
    """Read one account's unseen mail into Keepline. Returns how many messages were accepted.
    Raises imap.ImapError when the mailbox cannot be read (nothing is marked then)."""
    args = _imap_args(account)
    fetched = imap.fetch_unseen(**args, limit=BATCH, max_bytes=settings.CONNECTORS_EMAIL_MAX_BYTES)
    done, accepted = [], 0
    for message in fetched:
        try:
            parsed = mail.parse(message.raw)
        except mail.MailError as error:
            log.warning(
                "IMAP message uid %s of email account %s skipped: %s",
                message.uid,
                account.pk,
                error,
            )
        else:
            try:
                inbound.inbound_events_accept(
                    events=[(account, inbound.email_event(parsed, message.raw))]
                )
            except inbound.AccountChanged:
                break  # changed or switched off meanwhile: the next poll reads it again
            accepted += 1
        done.append(message.uid)
    imap.mark_seen(
        args["host"],
        args["port"],
        args["username"],
        args["password"],
        args["use_ssl"],
        done,
        mailbox=args["mailbox"],
    )
    return accepted


def email_accounts_poll() -> dict[int, int]:
    """Poll every active email account with an IMAP host; one account failing (logged) does not
    stop the others. Returns {account id: messages accepted}."""
    accounts = ChannelAccount.objects.filter(kind=ChannelKind.EMAIL, is_active=True).exclude(
        settings__imap_host=""
    )
    out = {}
    for account in accounts:
        if not account.setting("imap_host"):
            continue
        try:
            out[account.pk] = email_account_poll(account=account)
        except (imap.ImapError, crypto.SecretsUnreadable) as error:
            log.warning("IMAP poll of email account %s failed: %s", account.pk, error)
    return out
