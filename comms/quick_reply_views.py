"""The page where a rep keeps their quick replies (and a manager their team's)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from comms import errors, permissions, quick_replies, selectors, services
from comms.services.quick_replies import BODY_MAX, TITLE_MAX


class QuickReplyForm(forms.Form):
    title = forms.CharField(
        label=gettext_lazy("Shortcut"),
        max_length=TITLE_MAX,
        help_text=gettext_lazy("Type / and the shortcut in the composer to use it."),
    )
    body = forms.CharField(
        label=gettext_lazy("Text"), max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )
    keeper = forms.ChoiceField(label=gettext_lazy("For"), required=False)

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.teams = {str(t.pk): t for t in teams}
        if self.teams:
            self.fields["keeper"].choices = [("", _("Only me"))] + [
                (pk, _("Team: %(team)s") % {"team": t.name}) for pk, t in self.teams.items()
            ]
        else:
            del self.fields["keeper"]


def _variables():
    return [(f"{{{name}}}", label) for name, label in quick_replies.VARIABLES.items()]


def _saved(request, form, write) -> bool:
    """Run a service write for a valid form: a refusal becomes the form's error, a reply one may
    no longer change a 404; True once saved (with the page's success line)."""
    try:
        write()
    except errors.NotFound as exc:
        raise Http404 from exc
    except errors.CommsError as exc:
        form.add_error(None, exc.detail)
        return False
    messages.success(request, _("Quick reply saved."))
    return True


@login_required
@require_http_methods(["GET", "POST"])
def quick_reply_list(request):
    teams = list(permissions.quick_reply_teams_managed_by(request.user))
    form = QuickReplyForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        team = form.teams.get(form.cleaned_data.get("keeper") or "")
        created = _saved(
            request,
            form,
            lambda: services.quick_reply_create(
                actor=request.user,
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                team=team,
                request=request,
            ),
        )
        if created:
            return redirect("comms:quick-reply-list")
    return render(
        request,
        "comms/quick_replies.html",
        {
            "form": form,
            "replies": list(selectors.quick_replies_kept_by(request.user)),
            "variables": _variables(),
            "can_write": not permissions.is_read_only(request.user),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def quick_reply_edit(request, pk):
    reply = selectors.quick_reply_get_for_change(request.user, pk)
    initial = {"title": reply.title, "body": reply.body}
    form = QuickReplyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        updated = _saved(
            request,
            form,
            lambda: services.quick_reply_update(
                actor=request.user,
                reply=reply,
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                request=request,
            ),
        )
        if updated:
            return redirect("comms:quick-reply-list")
    return render(
        request,
        "comms/quick_reply_edit.html",
        {"form": form, "reply": reply, "variables": _variables()},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def quick_reply_delete(request, pk):
    reply = selectors.quick_reply_get_for_change(request.user, pk)
    try:
        services.quick_reply_delete(actor=request.user, reply=reply, request=request)
    except errors.NotFound as exc:
        raise Http404 from exc
    messages.success(request, _("Quick reply deleted."))
    return redirect("comms:quick-reply-list")
