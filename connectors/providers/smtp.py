"""Outbound email through an account's own SMTP server, from plain config values.

Thin on purpose: a Django SMTP connection built from the account's settings (never from the
global EMAIL_* settings), and the smtplib failures classified into `ProviderError` like the HTTP
providers' (4xx replies, dropped connections and timeouts retryable; 5xx replies permanent).
The message itself (MIME, Message-ID, In-Reply-To, References) is built by connectors.mail.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field

from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend
from django.utils.translation import gettext as _

from connectors.providers import ProviderError

PROVIDER = "smtp"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    use_tls: bool = True  # STARTTLS on a plain port (587)
    use_ssl: bool = False  # implicit TLS (465); exclusive with use_tls
    timeout: float = 20.0
    from_address: str = ""


def smtp_connection(config: SmtpConfig) -> EmailBackend:
    """A Django SMTP backend for this account: pass it as `connection=` to an EmailMessage, or
    open it once to send several messages over one session."""
    return EmailBackend(
        host=config.host,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.use_tls and not config.use_ssl,
        use_ssl=config.use_ssl,
        timeout=config.timeout,
        fail_silently=False,
    )


def _reply_error(code: int, text: str) -> ProviderError:
    reason = _("The mail server refused the message: %(reply)s") % {"reply": f"{code} {text}"}
    return ProviderError(
        reason, retryable=400 <= code < 500, status=code, code=str(code), provider=PROVIDER
    )


def classify(error: Exception) -> ProviderError:
    """An smtplib/socket failure as a ProviderError."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = list(error.recipients.values())
        code, text = replies[0] if replies else (550, b"")
        retryable = bool(replies) and all(400 <= c < 500 for c, _m in replies)
        reply_text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        failure = _reply_error(code, reply_text)
        failure.retryable = retryable
        return failure
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error
        reply_text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return _reply_error(error.smtp_code, reply_text)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return ProviderError(
            _("The mail server closed the connection."), retryable=True, provider=PROVIDER
        )
    if isinstance(error, ssl.SSLError | smtplib.SMTPNotSupportedError):
        return ProviderError(
            _("The mail server's TLS setup failed: %(error)s") % {"error": error},
            retryable=False,
            provider=PROVIDER,
        )
    if isinstance(error, OSError | smtplib.SMTPException):
        return ProviderError(
            _("The mail server could not be reached: %(error)s") % {"error": error},
            retryable=True,
            provider=PROVIDER,
        )
    raise error


def send_email(config: SmtpConfig, message: EmailMessage) -> None:
    """Send one built message through the account's server; failures as ProviderError."""
    if not message.from_email or message.from_email == _default_from():
        message.from_email = config.from_address or message.from_email
    connection = smtp_connection(config)
    try:
        connection.open()
    except (smtplib.SMTPException, OSError) as error:
        raise classify(error) from error  # never reached the server: safe to retry
    message.connection = connection
    try:
        message.send(fail_silently=False)
    except (smtplib.SMTPServerDisconnected, TimeoutError) as error:
        # Connected, then no answer: the server may have taken the message before the line went
        # quiet. `ambiguous` tells the sender not to resend it blindly.
        failure = classify(error)
        failure.ambiguous = True
        raise failure from error
    except (smtplib.SMTPException, OSError) as error:
        raise classify(error) from error
    finally:
        connection.close()


def _default_from() -> str:
    from django.conf import settings

    return settings.DEFAULT_FROM_EMAIL
