from datetime import UTC

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ID_MAX = 2**63 - 1


class UtcDateTimeField(forms.DateTimeField):
    """A moment in any offset, compared in UTC: PostgreSQL refuses offsets past +-15:59, which
    ISO 8601 text may carry; a moment outside the calendar once in UTC is a clear error."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise ValidationError(_("Enter a date and time within years 1 to 9999.")) from exc


class EventFilterForm(forms.Form):
    """Filters shared by the viewer and the API; every field optional."""

    actor = forms.CharField(
        label=_("Actor"),
        required=False,
        max_length=200,
        help_text=_("A person's name or username, 'system', or a numeric id."),
    )
    action = forms.CharField(
        label=_("Action"),
        required=False,
        max_length=100,
        help_text=_(
            "What happened, in a word or two (retracted, downloaded, signed in), an exact "
            "action, or a prefix ending in a dot: accounts.user."
        ),
    )
    target_type = forms.CharField(label=_("Target type"), required=False, max_length=100)
    target_id = forms.CharField(label=_("Target id"), required=False, max_length=64)
    since = UtcDateTimeField(label=_("From"), required=False)
    until = UtcDateTimeField(label=_("Until"), required=False)
    before = forms.IntegerField(
        required=False, min_value=1, max_value=ID_MAX, widget=forms.HiddenInput
    )

    def filters(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "") and k != "before"}
