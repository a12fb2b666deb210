"""The customer's pages: web chat, catch-up and file downloads through their link."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from comms import downloads, presenters, selectors, services

REFUSED = {"invalid": 404, "expired": 410, "revoked": 410}


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
            "chat_config": {
                "socket_path": f"/ws/chat/{token}/",
                "history": history,
                "seq": page.seq,
                "me": presenters.contact_actor(link.contact),
                "max_body": settings.COMMS_MAX_BODY,
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
