"""Offboarding pages: the people a manager or admin may offboard, and for one person the choice
of successors, the preview, the confirmation and the result (accounts.offboarding)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts import book, offboarding
from accounts.models import Offboarding
from accounts.pickers import picker_context
from config.errors import ServiceError


@login_required
def people(request):
    users = offboarding.offboardable_users_for(request.user)
    if not users.exists() and not offboarding.offboarding_list_for(request.user).exists():
        raise Http404
    return render(
        request,
        "accounts/people.html",
        {
            "people": users.filter(is_active=True).select_related("team", "manager")[:500],
            "offboardings": offboarding.offboarding_list_for(request.user)[:50],
        },
    )


def _split(post) -> dict:
    split: dict = {"companies": {}, "deals": {}}
    for key, value in post.items():
        for prefix, kind in (("company_", "companies"), ("deal_", "deals")):
            if key.startswith(prefix) and value:
                split[kind][key[len(prefix) :]] = value
    return split


def _split_pickers(viewer, leaver) -> dict:
    """One successor picker per company and open deal of the leaver (empty: the default)."""
    options = book.split_options(leaver)
    return {
        kind: [
            (
                pk,
                label,
                picker_context(
                    viewer,
                    "successor",
                    None,
                    name=f"{prefix}_{pk}",
                    id=f"{prefix}_{pk}",
                    target=str(leaver.pk),
                    id_only=True,
                    placeholder=_("Default successor"),
                ),
            )
            for pk, label in options.get(kind, [])
        ]
        for kind, prefix in (("companies", "company"), ("deals", "deal"))
    }


@login_required
def user_offboard(request, user_id):
    leaver = offboarding.user_get_for_offboarding(request.user, user_id)
    data = request.POST if request.method == "POST" else request.GET
    mode = data.get("mode") or Offboarding.Mode.ONE
    context = {
        "leaver": leaver,
        "modes": Offboarding.Mode.choices,
        "mode": mode,
        "successor_picker": picker_context(
            request.user,
            "successor",
            data.get("successor", ""),
            name="successor",
            id="successor",
            target=str(leaver.pk),
            id_only=True,
            testid="successor",
        ),
        "team_picker": picker_context(
            request.user,
            "offboard-team",
            data.get("team", ""),
            name="team",
            id="team",
            kind="team",
            target=str(leaver.pk),
            id_only=True,
            testid="team",
        ),
        "holdings": book.holdings(leaver),
        "split_options": _split_pickers(request.user, leaver),
        "chosen": {
            "successor": data.get("successor", ""),
            "team": data.get("team", ""),
            "split": _split(data),
        },
        "finished": offboarding.offboarding_list_for(request.user).filter(user=leaver)[:5],
        "errors": [],
    }
    if request.method != "POST":
        return render(request, "accounts/offboard.html", context)
    try:
        handover = offboarding.offboarding_plan(
            actor=request.user,
            leaver=leaver,
            mode=mode,
            successor=data.get("successor") or None,
            team=data.get("team") or None,
            split=_split(data),
            request=request,
        )
        if data.get("action") != "confirm":
            context["preview"] = offboarding.user_offboard_preview(handover)
            return render(request, "accounts/offboard.html", context)
        row = offboarding.user_offboard(handover)
    except ServiceError as exc:
        context["errors"] = exc.messages
        return render(request, "accounts/offboard.html", context, status=exc.status)
    messages.success(
        request,
        _("%(user)s was offboarded: their book moved and they are signed out everywhere.")
        % {"user": leaver},
    )
    return redirect(f"{request.path}?done={row.pk}")
