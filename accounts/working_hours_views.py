"""The working hours page: a person sets their own working days, hours and time zone (admins
set anyone's in the Django admin). Only one's own: there is no way to name someone else."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import notifications, services, working_hours
from config.errors import Invalid

TIME_INPUT = "%H:%M"


def _zones() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(working_hours.known_zones())]


class WorkingHoursForm(forms.Form):
    timezone = forms.ChoiceField(label=gettext_lazy("Time zone"), required=False)
    work_days = forms.MultipleChoiceField(
        label=gettext_lazy("Working days"),
        # ISO weekdays: WEEKDAYS counts from Monday = 0.
        choices=[(str(n + 1), WEEKDAYS[n]) for n in range(7)],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one working day.")},
    )
    work_start = forms.TimeField(
        label=gettext_lazy("Working day starts"),
        widget=forms.TimeInput(attrs={"type": "time"}, format=TIME_INPUT),
    )
    work_end = forms.TimeField(
        label=gettext_lazy("Working day ends"),
        widget=forms.TimeInput(attrs={"type": "time"}, format=TIME_INPUT),
        help_text=gettext_lazy(
            "Earlier than the start: your shift ends the next day. "
            "The same as the start: around the clock."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = _("Organisation default (%(zone)s)") % {"zone": timezone.get_default_timezone()}
        self.fields["timezone"].choices = [("", default), *_zones()]


@login_required
def working_hours_page(request):
    user = request.user
    if request.method == "POST":
        form = WorkingHoursForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.user_working_hours_set(
                    actor=user,
                    user=user,
                    timezone_name=data["timezone"],
                    work_days="".join(data["work_days"]),
                    work_start=data["work_start"],
                    work_end=data["work_end"],
                    request=request,
                )
            except Invalid as error:
                for name, found in error.fields.items():
                    form.add_error(name if name in form.fields else None, found)
            else:
                messages.success(request, _("Your working hours are saved."))
                return redirect("accounts:working-hours")
    else:
        form = WorkingHoursForm(
            initial={
                "timezone": user.timezone,
                "work_days": list(user.work_days),
                "work_start": user.work_start,
                "work_end": user.work_end,
            }
        )
    now = timezone.now()
    start = working_hours.next_working_start(user, now)
    return render(
        request,
        "accounts/working_hours.html",
        {
            "form": form,
            "at_work": start == now,
            "next_start": start.astimezone(working_hours.zone_of(user)),
            "held": notifications.pending_for(user).count(),
        },
    )
