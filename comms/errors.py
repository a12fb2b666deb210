"""Refusals of comms services, each with the protocol's error code and an HTTP status, so the
socket (error frame) and the API (JSON body) answer the same code and the same words."""

from django.conf import settings
from django.utils.translation import gettext as _

from config import errors as config_errors
from config.errors import ServiceError

# Every comms refusal is a project ServiceError (config.errors): the API, the pages and the
# socket map it once, the same way as every other app's.
CommsError = ServiceError
Invalid = config_errors.Invalid
NotFound = config_errors.NotFound


class TooLong(CommsError):
    code = "too_long"

    def default_detail(self) -> str:
        return _("A message may have at most %(limit)s characters.") % {
            "limit": f"{settings.COMMS_MAX_BODY:,}"
        }


class Forbidden(config_errors.Forbidden):
    def default_detail(self) -> str:
        return _("You may not do this in this conversation.")


class EditWindowClosed(config_errors.Conflict):
    code = "edit_window_closed"

    def default_detail(self) -> str:
        minutes = settings.COMMS_EDIT_WINDOW_SECONDS // 60
        return _("Messages can only be edited within %(minutes)s minutes of sending.") % {
            "minutes": minutes
        }


class NotEditable(config_errors.Conflict):
    code = "not_editable"

    def default_detail(self) -> str:
        return _("This message cannot be changed.")


class AccessChanged(config_errors.Forbidden):
    """A socket's session ended or the person's access changed since it was opened: the socket
    rechecks (and closes when access is gone); a page sends the message again afterwards."""

    code = "access_changed"

    def default_detail(self) -> str:
        return _("Your access changed; checking it again.")


class RateLimited(config_errors.RateLimited):
    def default_detail(self) -> str:
        return _("You are sending too fast; wait a moment.")


class FileTooLarge(CommsError):
    code = "too_large"
    status = 413

    def default_detail(self) -> str:
        megabytes = settings.COMMS_ATTACHMENT_MAX_BYTES // (1024 * 1024)
        return _("Files may be at most %(size)s MB.") % {"size": megabytes}


class FileTypeRefused(config_errors.UnsupportedType):
    def default_detail(self) -> str:
        return _("This type of file cannot be sent.")


BY_CODE = {
    "forbidden": Forbidden,
    "not_editable": NotEditable,
    "edit_window_closed": EditWindowClosed,
}


def refusal(code: str) -> CommsError:
    return BY_CODE.get(code, Forbidden)()
