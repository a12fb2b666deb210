"""Staff pages of comms: the inbox, a conversation with its controls, and the forms they post."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import people_search
from accounts import selectors as account_selectors
from accounts.pickers import picker_context
from comms import (
    channel_registry,
    downloads,
    errors,
    permissions,
    selectors,
    services,
    thumbnails,
)
from comms.models import Conversation
from crm import selectors as crm_selectors

BOXES = {
    "mine": {"mine": True},
    "team": {"team": True},
    "unassigned": {"unassigned": True},
    "all": {},
}
INBOX_PAGE = 30


def _back(request, default: str):
    target = request.POST.get("next") or default
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = default
    return redirect(target)


def _refusal(request, exc: errors.CommsError):
    if isinstance(exc, errors.NotFound):
        raise Http404
    messages.error(request, exc.detail)


@login_required
def inbox(request):
    box = request.GET.get("box", "mine")
    if box not in BOXES:
        box = "mine"
    filters = dict(BOXES[box])
    for name in ("status", "kind"):
        if request.GET.get(name):
            filters[name] = request.GET[name]
    qs = selectors.conversation_list_for(request.user, filters)
    page = Paginator(qs, INBOX_PAGE).get_page(request.GET.get("page"))
    queue = selectors.unassigned_queue_for(request.user)
    waiting = list(queue[:6]) if queue is not None else []
    offered = channel_registry.available_kinds()
    return render(
        request,
        "comms/inbox.html",
        {
            "page": page,
            "box": box,
            "boxes": [
                ("mine", _("Mine")),
                ("team", _("My team")),
                ("unassigned", _("Unassigned")),
                ("all", _("All I can see")),
            ],
            "status": request.GET.get("status", ""),
            "kind": request.GET.get("kind", ""),
            "statuses": Conversation.Status.choices,
            # Kinds on offer, and any kind asked for (conversations of a channel switched off
            # stay findable).
            "kinds": [
                (v, label)
                for v, label in Conversation.Kind.choices
                if v in offered or v == request.GET.get("kind")
            ],
            # The "Mine" tab's count: the navigation badge's number (selectors.unread_for).
            "unread_total": selectors.unread_for(request.user, recent=0).total,
            "can_create_internal": not permissions.is_read_only(request.user),
            "waiting": waiting[:5],
            "waiting_more": len(waiting) > 5,
        },
    )


@login_required
def conversation_detail(request, pk):
    conversation = selectors.conversation_get_for(request.user, pk)
    user = request.user
    # Read through the viewer's visibility filter just now: the write checks need no second look.
    can_assign = permissions.can_assign(user, conversation, visible=True)
    context = {
        "conversation": conversation,
        "participants": selectors.participants_of(conversation),
        "can_assign": can_assign,
        "can_set_status": permissions.can_set_status(user, conversation, visible=True),
        "can_issue_link": not conversation.is_internal
        and permissions.can_issue_link(user, conversation),
        "can_manage_members": conversation.is_internal
        and permissions.can_manage_members(user, conversation),
        "statuses": Conversation.Status.choices,
        "links": selectors.customer_links_of(conversation)[:10]
        if not conversation.is_internal
        else [],
        "new_link": request.session.pop(f"comms.link.{conversation.pk}", None),
    }
    if context["can_issue_link"]:
        context["link_channels"] = channel_registry.link_send_options(conversation)
    if can_assign:
        assignee = conversation.assignee if conversation.assignee_id else None
        context["assign_picker"] = picker_context(
            user,
            "assign",
            assignee if assignee is not None and assignee.is_active else None,
            name="assignee",
            id="assignee",
            target=str(conversation.pk),
            placeholder=_("Nobody (unassigned)"),
        )
    if context["can_manage_members"]:
        context["member_picker"] = picker_context(
            user, "member", None, name="user", id="member", target=str(conversation.pk)
        )
    return render(request, "comms/conversation.html", context)


@login_required
@require_POST
def conversation_start(request):
    contact = crm_selectors.contact_get_for(request.user, request.POST.get("contact"))
    deal = None
    if request.POST.get("deal"):
        deal = crm_selectors.deal_get_for(request.user, request.POST.get("deal"))
    try:
        conversation = services.conversation_start(
            actor=request.user,
            contact=contact,
            deal=deal,
            kind=request.POST.get("kind") or Conversation.Kind.WEB,
            subject=request.POST.get("subject", ""),
            request=request,
        )
    except errors.CommsError as exc:
        _refusal(request, exc)
        return _back(request, reverse("comms:inbox"))
    messages.success(request, _("Conversation started."))
    default = reverse("comms:conversation-detail", args=[conversation.pk])
    target = request.POST.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        base = target.split("?", 1)[0].split("#", 1)[0]
        return redirect(f"{base}?conversation={conversation.pk}#conversations")
    return redirect(default)


@login_required
@require_POST
def internal_create(request):
    try:
        conversation = services.internal_conversation_create(
            actor=request.user,
            subject=request.POST.get("subject", "").strip() or _("Team conversation"),
            members=[
                user
                for user in map(account_selectors.active_user_get, request.POST.getlist("members"))
                if user is not None
            ],
            request=request,
        )
    except errors.CommsError as exc:
        _refusal(request, exc)
        return redirect("comms:inbox")
    return redirect("comms:conversation-detail", conversation.pk)


@login_required
@require_POST
def conversation_action(request, pk):
    """One form endpoint for assign, status, customer links and members; each calls a service."""
    conversation = selectors.conversation_get_for(request.user, pk)
    action = request.POST.get("action")
    here = reverse("comms:conversation-detail", args=[conversation.pk])
    try:
        if action == "assign":
            raw = request.POST.get("assignee")
            assignee = (
                request.user
                if raw == "me"
                else (
                    people_search.resolve_person(
                        request.user,
                        people_search.purpose_get("assign"),
                        raw,
                        str(conversation.pk),
                    )
                    if raw
                    else None
                )
            )
            if raw and assignee is None:
                raise errors.Invalid(_("Choose an active person."))
            services.conversation_assign(
                actor=request.user, conversation=conversation, assignee=assignee, request=request
            )
            messages.success(request, _("Assignment saved."))
        elif action == "status":
            services.conversation_set_status(
                actor=request.user,
                conversation=conversation,
                status=request.POST.get("status", ""),
                request=request,
            )
            messages.success(request, _("Status changed."))
        elif action == "link-issue":
            _link, token = services.customer_link_issue(
                actor=request.user, conversation=conversation, request=request
            )
            # Shown once, on the next page only; only its digest is stored.
            request.session[f"comms.link.{conversation.pk}"] = request.build_absolute_uri(
                reverse("comms:customer-chat", args=[token])
            )
        elif action == "link-send":
            channel = request.POST.get("channel", "")
            services.customer_link_send(
                actor=request.user,
                conversation=conversation,
                channel=channel,
                base_url=request.build_absolute_uri("/"),
                request=request,
            )
            messages.success(
                request,
                _("A new chat link was sent to the customer by email.")
                if channel == "email"
                else _("A new chat link was sent to the customer by SMS."),
            )
        elif action == "link-revoke":
            link = selectors.customer_link_get(conversation, request.POST.get("link"))
            services.customer_link_revoke(actor=request.user, link=link, request=request)
            messages.success(request, _("The customer link no longer works."))
        elif action in ("member-add", "member-remove"):
            member = (
                people_search.resolve_person(
                    request.user,
                    people_search.purpose_get("member"),
                    request.POST.get("user"),
                    str(conversation.pk),
                )
                if action == "member-add"
                else account_selectors.active_user_get(request.POST.get("user"))
            )
            if member is None:
                raise errors.Invalid(_("Choose an active person."))
            service = services.member_add if action == "member-add" else services.member_remove
            service(actor=request.user, conversation=conversation, user=member, request=request)
            if action == "member-remove" and member.pk == request.user.pk:
                return redirect("comms:inbox")
        else:
            raise errors.Invalid(_("Unknown action."))
    except errors.CommsError as exc:
        _refusal(request, exc)
    return _back(request, here)


@login_required
@require_GET
def attachment_download(request, pk):
    """A staff download: checked against the conversation policy, written to the audit ledger."""
    attachment = selectors.attachment_get_for(request.user, pk)
    response = downloads.file_response(attachment)
    services.attachment_download_record(actor=request.user, attachment=attachment, request=request)
    return response


@login_required
@require_GET
def attachment_thumbnail(request, pk):
    """An image file's small preview for the chat (comms.thumbnails): the same access check as
    the download, not audited (it is not the file)."""
    attachment = selectors.attachment_get_for(request.user, pk)
    return thumbnails.thumbnail_response(attachment)


@login_required
@require_GET
def message_versions(request, pk):
    """A message's every version, retraction and files (earlier text for admin and compliance
    only); 404 for whoever may not read its conversation."""
    found = selectors.message_versions_for(request.user, pk)
    services.message_versions_view_record(
        viewer=request.user, message=found.message, versions=len(found.versions), request=request
    )
    return render(request, "comms/message_versions.html", {"found": found})
