"""The customer's pages: web chat, catch-up and file downloads through their link."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from comms import downloads, errors, presenters, selectors, services, thumbnails
from config.errors import ServiceError

REFUSED = {"invalid": 404, "expired": 410, "revoked": 410}
# Files a customer link may send per minute (its socket has its own bucket for messages).
UPLOADS_PER_MINUTE = 20


def _refused(request, reason: str):
    return render(
        request,
        "comms/customer_link_refused.html",
        {"reason": reason, "organisation": settings.ORGANISATION_NAME},
        status=REFUSED.get(reason, 404),
    )


def _link_or_refusal(request, token):
    try:
        return selectors.customer_link_for_token(token), None
    except selectors.LinkRefused as refused:
        return None, _refused(request, refused.reason)


@never_cache
@require_GET
def customer_chat(request, token):
    """The customer's chat page: organisation, assigned rep, the recorded notice, the customer
    view of the history and a composer on /ws/chat/<token>/."""
    link, refusal = _link_or_refusal(request, token)
    if refusal:
        return refusal
    page = selectors.customer_message_page(link, limit=100)
    history = [presenters.message_dict(m, presenters.CUSTOMER) for m in reversed(page.items)]
    assignee = link.conversation.assignee
    response = render(
        request,
        "comms/customer_chat.html",
        {
            "organisation": settings.ORGANISATION_NAME,
            "rep_name": (assignee.get_full_name() or assignee.get_username()) if assignee else "",
            "contact": link.contact,
            "accept": ",".join(settings.COMMS_ATTACHMENT_TYPES),
            "chat_config": {
                "socket_path": f"/ws/chat/{token}/",
                "history": history,
                "seq": page.seq,
                "me": presenters.contact_actor(link.contact),
                "max_body": settings.COMMS_MAX_BODY,
                "read_upto": selectors.customer_read_upto(link),
                "upload_url": "attachments/",
                "max_bytes": settings.COMMS_ATTACHMENT_MAX_BYTES,
                "file_types": settings.COMMS_ATTACHMENT_TYPES,
            },
            "chat_strings": {
                "connecting": _("Connecting…"),
                "offline": _("Connection lost. Reconnecting…"),
                "closed": _("This chat is no longer available."),
                "typing": _("%(name)s is typing…"),
                "talking_with": _("You are talking with %(name)s"),
                "edited": _("edited"),
                "too_long": _("Your message is too long."),
                "you": _("You"),
                "paused": _("Live updates are paused; new messages are checked every few seconds."),
                "too_large": _("This file is larger than %(size)s MB: it cannot be sent."),
                "bad_type": _("This type of file cannot be sent."),
                "upload_failed": _("The file could not be sent. Try again."),
                "uploading": _("Sending %(name)s…"),
                "sending": _("Sending"),
                "sent": _("Sent"),
                "delivered": _("Delivered"),
                "read": _("Read"),
            },
        },
    )
    # The token is in the URL: never leak it to linked sites.
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_GET
def customer_messages(request, token):
    """Catch-up for the customer page: ?since=<change number>, in change order (or ?after=<id>,
    oldest first)."""
    try:
        link = selectors.customer_link_for_token(token)
    except selectors.LinkRefused as refused:
        return JsonResponse(
            {"error": "link_" + refused.reason}, status=REFUSED.get(refused.reason, 404)
        )
    page = selectors.customer_message_page(
        link,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        limit=request.GET.get("limit"),
        since=request.GET.get("since"),
    )
    return JsonResponse(
        {
            "results": [presenters.message_dict(m, presenters.CUSTOMER) for m in page],
            "has_more": page.has_more,
            "seq": page.seq,
            "read_upto": selectors.customer_read_upto(link),
        }
    )


@require_GET
def customer_attachment_download(request, token, pk):
    link, refusal = _link_or_refusal(request, token)
    if refusal:
        return refusal
    attachment = selectors.customer_attachment_get(link, pk)
    response = downloads.file_response(attachment)
    services.attachment_download_record(actor=link.contact, attachment=attachment, request=request)
    return response


@require_GET
def customer_attachment_thumbnail(request, token, pk):
    """An image's small preview for the customer page: authorised by the link like the download,
    not audited (comms.thumbnails)."""
    link, refusal = _link_or_refusal(request, token)
    if refusal:
        return refusal
    return thumbnails.thumbnail_response(selectors.customer_attachment_get(link, pk))


def _upload_allowed(link) -> bool:
    """At most UPLOADS_PER_MINUTE files per link and minute (the cache counts; a cache that
    lost the count lets the upload through)."""
    key = f"comms.customer-upload.{link.pk}.{int(time.time() // 60)}"
    cache.add(key, 0, 120)
    try:
        return cache.incr(key) <= UPLOADS_PER_MINUTE
    except ValueError:
        return True


def _json_refusal(error: ServiceError) -> JsonResponse:
    return JsonResponse(error.as_dict(), status=error.status)


# The token in the path is the credential (as for the customer's socket): there is no session,
# so no cookie a forged cross-site request could ride on.
@csrf_exempt
@never_cache
@require_POST
def customer_attachment_upload(request, token):
    """The customer sends a file (multipart "file", optional "body" and "client_id"): the same
    limits as a staff upload (413 too large, refused before the body is read when the declared
    length says so; 415 a refused type), authorised by the link exactly as their messages
    (revoked or expired: 410); 429 past UPLOADS_PER_MINUTE. 201 with the stored <message>, 200
    for a repeated client_id."""
    try:
        link = selectors.customer_link_for_token(token)
    except selectors.LinkRefused as refused:
        return JsonResponse(
            {"error": "link_" + refused.reason}, status=REFUSED.get(refused.reason, 404)
        )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.COMMS_ATTACHMENT_MAX_BYTES + 64 * 1024:
        return _json_refusal(errors.FileTooLarge())
    if not _upload_allowed(link):
        return _json_refusal(errors.RateLimited())
    upload = request.FILES.get("file")
    if upload is None:
        return _json_refusal(errors.Invalid(_("Choose a file to send.")))
    try:
        result = services.attachment_receive(
            link=link,
            upload=upload,
            body=request.POST.get("body", ""),
            client_id=request.POST.get("client_id") or None,
            request=request,
        )
    except ServiceError as error:
        return _json_refusal(error)
    message = presenters.message_dict(
        result.message, presenters.CUSTOMER, attachments=result.attachments
    )
    return JsonResponse({"message": message}, status=201 if result.created else 200)
