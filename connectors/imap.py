"""Poll an IMAP mailbox for unseen messages (the optional inbound road for email accounts).

Two calls, each on its own short connection, so a Celery beat task can poll without keeping a
socket open: `fetch_unseen` reads raw messages without marking them (BODY.PEEK), the caller
stores them, then `mark_seen` flags what was stored. A crash between the two reads a message
again on the next poll; storing is idempotent by Message-ID, so nothing is lost or doubled.
Every failure is an ImapError with a message fit for the account's status (never the password).
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import re
import ssl
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds, for connecting and for each read
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # larger messages are left in the mailbox, with a warning


class ImapError(Exception):
    """The mailbox could not be read: connection, TLS, login, mailbox or protocol failure."""


class FetchedMessage(NamedTuple):
    uid: int
    raw: bytes


def _utf7_imap(name: str) -> str:
    """Mailbox names are modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _mailbox_arg(name: str) -> str:
    encoded = _utf7_imap(name or "INBOX")
    escaped = encoded.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _describe(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text) or type(exc).__name__


def _error(message: str, **values: object) -> ImapError:
    detail = values.get("detail")
    if isinstance(detail, BaseException):
        values["detail"] = _describe(detail)
    return ImapError(message % values if values else message)


@contextlib.contextmanager
def _session(
    host: str,
    port: int,
    username: str,
    password: str,
    use_ssl: bool,
    timeout: float,
    ssl_context: ssl.SSLContext | None,
) -> Iterator[imaplib.IMAP4]:
    where = f"{host}:{port}"
    context = ssl_context or ssl.create_default_context()
    try:
        if use_ssl:
            conn = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
        else:
            conn = imaplib.IMAP4(host, port, timeout=timeout)
    except TimeoutError as exc:
        raise _error(_("IMAP server %(where)s timed out."), where=where) from exc
    except ssl.SSLError as exc:
        raise _error(
            _("TLS with IMAP server %(where)s failed: %(detail)s"), where=where, detail=exc
        ) from exc
    except (OSError, imaplib.IMAP4.error) as exc:
        raise _error(
            _("Cannot connect to IMAP server %(where)s: %(detail)s"), where=where, detail=exc
        ) from exc
    try:
        try:
            if not use_ssl:
                if "STARTTLS" in conn.capabilities:
                    conn.starttls(context)
                else:
                    logger.warning("IMAP server %s offers no TLS: logging in unencrypted", where)
            conn.login(username, password)
        except TimeoutError as exc:
            raise _error(_("IMAP server %(where)s timed out."), where=where) from exc
        except ssl.SSLError as exc:
            raise _error(
                _("TLS with IMAP server %(where)s failed: %(detail)s"), where=where, detail=exc
            ) from exc
        except UnicodeError as exc:
            raise _error(_("The IMAP user name and password must be ASCII.")) from exc
        except (OSError, imaplib.IMAP4.error) as exc:
            raise _error(
                _("IMAP login as %(user)s on %(where)s failed: %(detail)s"),
                user=username,
                where=where,
                detail=exc,
            ) from exc
        try:
            yield conn
        except TimeoutError as exc:
            raise _error(_("IMAP server %(where)s timed out."), where=where) from exc
        except (OSError, imaplib.IMAP4.error) as exc:
            raise _error(_("IMAP error on %(where)s: %(detail)s"), where=where, detail=exc) from exc
    finally:
        with contextlib.suppress(Exception):
            conn.logout()


def _select(conn: imaplib.IMAP4, mailbox: str, *, readonly: bool) -> None:
    typ, data = conn.select(_mailbox_arg(mailbox), readonly=readonly)
    if typ != "OK":
        detail = _describe(imaplib.IMAP4.error(data[0] if data else typ))
        raise _error(
            _('IMAP mailbox "%(mailbox)s" cannot be opened: %(detail)s'),
            mailbox=mailbox,
            detail=detail,
        )


def _check(typ: str, data: list, what: str) -> list:
    if typ != "OK":
        detail = _describe(imaplib.IMAP4.error(data[0] if data else typ))
        raise _error(_("IMAP command %(what)s failed: %(detail)s"), what=what, detail=detail)
    return data


def _uid_set(uids: Iterable[int]) -> str:
    return ",".join(str(int(u)) for u in uids)


_SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)")
_UID_RE = re.compile(rb"UID (\d+)")


def fetch_unseen(
    host: str,
    port: int,
    username: str,
    password: str,
    use_ssl: bool,
    mailbox: str = "INBOX",
    limit: int = 50,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_MESSAGE_BYTES,
    ssl_context: ssl.SSLContext | None = None,
) -> list[FetchedMessage]:
    """The oldest `limit` unseen messages of `mailbox` as (uid, raw bytes), oldest first.

    Messages stay unseen (BODY.PEEK[]): call `mark_seen` with the uids once they are stored.
    Messages over `max_bytes` are skipped with a warning. Raises ImapError.
    """
    if limit <= 0:
        return []
    with _session(host, port, username, password, use_ssl, timeout, ssl_context) as conn:
        _select(conn, mailbox, readonly=False)
        data = _check(*conn.uid("SEARCH", "UNSEEN"), "UID SEARCH")
        uids = sorted({int(tok) for line in data if line for tok in line.split()})[:limit]
        if not uids:
            return []
        sizes: dict[int, int] = {}
        for item in _check(*conn.uid("FETCH", _uid_set(uids), "(RFC822.SIZE)"), "UID FETCH"):
            line = item[0] if isinstance(item, tuple) else item
            uid_match, size_match = _UID_RE.search(line or b""), _SIZE_RE.search(line or b"")
            if uid_match and size_match:
                sizes[int(uid_match.group(1))] = int(size_match.group(1))
        messages: list[FetchedMessage] = []
        for uid in uids:
            if sizes.get(uid, 0) > max_bytes:
                logger.warning(
                    "IMAP message uid %s in %s on %s:%s is %s bytes (over %s): left unread",
                    uid,
                    mailbox,
                    host,
                    port,
                    sizes[uid],
                    max_bytes,
                )
                continue
            data = _check(*conn.uid("FETCH", str(uid), "(BODY.PEEK[])"), "UID FETCH")
            raw = None
            for item in data:
                if isinstance(item, tuple) and len(item) == 2:
                    found = _UID_RE.search(item[0])
                    if found is None or int(found.group(1)) == uid:
                        raw = item[1]
                        break
            if raw is None:
                continue  # expunged meanwhile
            messages.append(FetchedMessage(uid, bytes(raw)))
        return messages


def mark_seen(
    host: str,
    port: int,
    username: str,
    password: str,
    use_ssl: bool,
    uids: Iterable[int],
    mailbox: str = "INBOX",
    *,
    timeout: float = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Flag the messages \\Seen so the next `fetch_unseen` skips them. Raises ImapError."""
    uid_list = sorted({int(u) for u in uids})
    if not uid_list:
        return
    with _session(host, port, username, password, use_ssl, timeout, ssl_context) as conn:
        _select(conn, mailbox, readonly=False)
        _check(*conn.uid("STORE", _uid_set(uid_list), "+FLAGS.SILENT", "(\\Seen)"), "UID STORE")
