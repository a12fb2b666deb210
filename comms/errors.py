"""Refusals of comms services, each with the protocol's error code and an HTTP status, so the
socket (error frame) and the API (JSON body) answer the same code and the same words."""

from django.conf import settings
from django.utils.translation import gettext as _


class CommsError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, detail: str | None = None, *, code: str | None = None):
        if code is not None:
            self.code = code
        self.detail = str(detail) if detail is not None else self.default_detail()
        super().__init__(self.detail)

    def default_detail(self) -> str:
        return _("This request is not valid.")

    def as_dict(self) -> dict:
        return {"error": self.code, "detail": self.detail}


class Invalid(CommsError):
    code = "invalid"


class TooLong(CommsError):
    code = "too_long"

    def default_detail(self) -> str:
        return _("A message may have at most %(limit)s characters.") % {
            "limit": f"{settings.COMMS_MAX_BODY:,}"
        }


class Forbidden(CommsError):
    code = "forbidden"
    status = 403

    def default_detail(self) -> str:
        return _("You may not do this in this conversation.")


class NotFound(CommsError):
    code = "not_found"
    status = 404

    def default_detail(self) -> str:
        return _("Not found.")


class EditWindowClosed(CommsError):
    code = "edit_window_closed"
    status = 409

    def default_detail(self) -> str:
        minutes = settings.COMMS_EDIT_WINDOW_SECONDS // 60
        return _("Messages can only be edited within %(minutes)s minutes of sending.") % {
            "minutes": minutes
        }


class NotEditable(CommsError):
    code = "not_editable"
    status = 409

    def default_detail(self) -> str:
        return _("This message cannot be changed.")


class AccessChanged(CommsError):
    """A socket's session ended or the person's access changed since it was opened: the socket
    rechecks (and closes when access is gone); a page sends the message again afterwards."""

    code = "access_changed"
    status = 403

    def default_detail(self) -> str:
        return _("Your access changed; checking it again.")


class RateLimited(CommsError):
    code = "rate_limited"
    status = 429

    def default_detail(self) -> str:
        return _("You are sending too fast; wait a moment.")


class FileTooLarge(CommsError):
    code = "too_large"
    status = 413

    def default_detail(self) -> str:
        megabytes = settings.COMMS_ATTACHMENT_MAX_BYTES // (1024 * 1024)
        return _("Files may be at most %(size)s MB.") % {"size": megabytes}


class FileTypeRefused(CommsError):
    code = "unsupported_type"
    status = 415

    def default_detail(self) -> str:
        return _("This type of file cannot be sent.")


BY_CODE = {
    "forbidden": Forbidden,
    "not_editable": NotEditable,
    "edit_window_closed": EditWindowClosed,
}


def refusal(code: str) -> CommsError:
    return BY_CODE.get(code, Forbidden)()
