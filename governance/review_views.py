"""Console pages of supervision and DLP: the review queue, a decision, DLP flags and policy."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.pickers import picker_context
from comms import presenters
from config.errors import Invalid, ServiceError
from governance import permissions, selectors
from governance.models import DlpAction, DlpPattern, ReviewItem
from governance.services import dlp as dlp_services
from governance.services import review as review_services

PAGE = 50


@login_required
def review_list(request):
    """The review queue: open items first by default; filters status, reason and rep."""
    permissions.require_review(request.user)
    status = request.GET.get("status", "open")
    reason = request.GET.get("reason", "")
    rep = request.GET.get("rep", "")
    try:
        items = selectors.review_items_for(request.user, status=status, reason=reason, rep=rep)
    except ServiceError as error:
        messages.error(request, " ".join(error.messages))
        status, reason, rep = "open", "", ""
        items = selectors.review_items_for(request.user, status=status)
    page = Paginator(items, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "governance/review_list.html",
        {
            "page": page,
            "status": status,
            "reason": reason,
            "rep": rep,
            "statuses": ReviewItem.Status.choices,
            "reasons": ReviewItem.Reason.choices,
            "rep_picker": picker_context(
                request.user,
                "rep",
                rep,
                name="rep",
                id="review-rep",
                submit=True,
                id_only=True,
                placeholder=_("Anyone"),
            ),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def review_detail(request, pk):
    """One item: the conversation's messages (read-only, originals included) and the decision."""
    item = selectors.review_item_get_for(request.user, pk)
    error = None
    if request.method == "POST":
        try:
            review_services.review_decide(
                reviewer=request.user,
                item_id=item.pk,
                status=request.POST.get("status", ""),
                comment=request.POST.get("comment", ""),
                request=request,
            )
        except ServiceError as refused:
            error = refused
        else:
            messages.success(request, _("Decision saved."))
            return redirect("governance:review-detail", item.pk)
    history = [
        presenters.message_dict(m, presenters.EVERYTHING) for m in selectors.review_messages(item)
    ]
    return render(
        request,
        "governance/review_detail.html",
        {
            "item": item,
            "history": history,
            "error": error,
            "decisions": [
                (ReviewItem.Status.REVIEWED, _("Reviewed")),
                (ReviewItem.Status.ESCALATED, _("Escalated")),
            ],
        },
        status=error.status if error else 200,
    )


@login_required
def dlp_flags(request):
    flags = selectors.dlp_flags_for(request.user)
    page = Paginator(flags, PAGE).get_page(request.GET.get("page"))
    return render(request, "governance/dlp_flags.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def dlp_policy_page(request):
    """Compliance officers read the policy; admins change it (a POST by anyone else is 404)."""
    permissions.require_console(request.user)
    error = None
    if request.method == "POST":
        permissions.require_set_dlp(request.user)
        try:
            _post_policy(request)
        except ServiceError as refused:
            error = refused
        else:
            return redirect("governance:dlp-policy")
    return render(
        request,
        "governance/dlp_policy.html",
        {
            "policy": selectors.dlp_policy_for(request.user),
            "can_edit": permissions.can_set_dlp(request.user),
            "actions": DlpAction.choices,
            "pattern_kinds": DlpPattern.Kind.choices,
            "error": error,
            "form": request.POST if error else {},
        },
        status=error.status if error else 200,
    )


def _post_policy(request) -> None:
    action = request.POST.get("action")
    if action == "policy":
        actions = {}
        for key, value in request.POST.items():
            if key.startswith("rule:"):
                _prefix, detector, channel = (key.split(":", 1)[0], *key[5:].rsplit(":", 1))
                actions[(detector, channel)] = value
        changed = dlp_services.dlp_policy_set(actor=request.user, actions=actions, request=request)
        messages.success(request, _("Policy saved (%(count)s changes).") % {"count": changed})
    elif action == "pattern-create":
        pattern = dlp_services.dlp_pattern_create(
            actor=request.user,
            name=request.POST.get("name", ""),
            kind=request.POST.get("kind", ""),
            text=request.POST.get("text", ""),
            request=request,
        )
        messages.success(request, _("Detector %(name)s added.") % {"name": pattern.name})
    elif action == "pattern-toggle":
        dlp_services.dlp_pattern_set_active(
            actor=request.user,
            pattern_id=request.POST.get("pattern"),
            active=request.POST.get("active") == "on",
            request=request,
        )
        messages.success(request, _("Detector saved."))
    else:
        raise Invalid(_("Unknown action."))
