"""The out-of-office page: set one's own cover, see current and upcoming covers (one's own, those
one holds, and a manager's reports'), cancel them (accounts.cover)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import cover
from accounts.pickers import PickerField
from config.errors import Invalid, ServiceError

DATETIME_INPUT = "%Y-%m-%dT%H:%M"


def _datetime_field(label) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
    )


class CoverForm(forms.Form):
    # Searched as you type among accounts.cover.delegate_choices ("cover" picker purpose).
    delegate = PickerField(label=gettext_lazy("Covered by"), purpose="cover")
    starts_at = _datetime_field(gettext_lazy("From"))
    ends_at = _datetime_field(gettext_lazy("Until"))

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["delegate"].bind(user)
        if not self.is_bound:
            self.initial.setdefault(
                "starts_at", timezone.localtime().replace(second=0, microsecond=0)
            )

    def add_service_error(self, error: Invalid) -> None:
        if not error.fields:
            self.add_error(None, error.detail)
        for name, found in error.fields.items():
            self.add_error(name if name in self.fields else None, found)


@login_required
def cover_page(request):
    if request.method == "POST" and request.POST.get("action") == "cancel":
        return _cancel(request)
    form = CoverForm(request.user, request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            cover.cover_set(
                actor=request.user,
                user=request.user,
                delegate=form.cleaned_data["delegate"],
                starts_at=form.cleaned_data["starts_at"],
                ends_at=form.cleaned_data["ends_at"],
                request=request,
            )
        except Invalid as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Your out-of-office cover is set."))
            return redirect("accounts:cover")
    return render(
        request,
        "accounts/cover.html",
        {"form": form, "rows": cover.cover_rows_for(request.user), "me": request.user.pk},
    )


def _cancel(request):
    found = cover.cover_get_for(request.user, request.POST.get("cover"))
    try:
        cover.cover_cancel(actor=request.user, cover=found, request=request)
    except ServiceError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The cover has been cancelled."))
    return redirect("accounts:cover")
