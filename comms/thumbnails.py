"""Image thumbnails of chat attachments: made once, on the first request, and kept beside the file.

Opening a chat must not write an audit event per image per view, yet every download of a file is
audited. So a chat shows a small re-encoded preview (at most THUMB_EDGE pixels a side, WebP,
metadata dropped) through its own authorised endpoint, which is not audited: it is not the file.
The file itself (full size, original bytes) is still only had through the audited download.
A purged file's thumbnail goes with it (comms.services.purge).
"""

from __future__ import annotations

import io
import logging

from django.core.files.base import ContentFile
from django.http import Http404, HttpResponse

from comms.models import Attachment

logger = logging.getLogger(__name__)

THUMB_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
THUMB_EDGE = 320
# Refuse decompression bombs: a chat image larger than this many pixels gets no preview.
MAX_PIXELS = 40_000_000
SUFFIX = ".thumb.webp"


def has_thumbnail(attachment: Attachment) -> bool:
    return attachment.content_type in THUMB_TYPES and attachment.purged_at is None


def thumbnail_path(file_path: str) -> str:
    return f"{file_path}{SUFFIX}"


def _storage():
    return Attachment._meta.get_field("file").storage


def _make(attachment: Attachment) -> bytes:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with attachment.file.open("rb") as stored, Image.open(stored) as image:
        image.seek(0)  # an animated GIF: its first frame
        image = ImageOps.exif_transpose(image)
        image.thumbnail((THUMB_EDGE, THUMB_EDGE))
        mode = "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
        out = io.BytesIO()
        image.convert(mode).save(out, "WEBP", quality=80)
    return out.getvalue()


def thumbnail_bytes(attachment: Attachment) -> bytes:
    """The attachment's thumbnail, made and stored on first use; Http404 when it has none (not
    an image, purged, unreadable or too large to decode)."""
    if not has_thumbnail(attachment) or not attachment.file:
        raise Http404
    storage = _storage()
    path = thumbnail_path(attachment.file.name)
    try:
        with storage.open(path, "rb") as kept:
            return kept.read()
    except (FileNotFoundError, OSError):
        pass
    try:
        data = _make(attachment)
    except Exception:  # noqa: BLE001  (any undecodable image: no preview, the file stays)
        logger.info("no thumbnail for attachment %s", attachment.pk, exc_info=True)
        raise Http404 from None
    saved = storage.save(path, ContentFile(data))
    if saved != path:  # another request made it meanwhile: keep one
        storage.delete(saved)
    return data


def thumbnail_response(attachment: Attachment) -> HttpResponse:
    response = HttpResponse(thumbnail_bytes(attachment), content_type="image/webp")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    return response
