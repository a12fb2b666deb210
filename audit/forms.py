from django import forms
from django.utils.translation import gettext_lazy as _


class EventFilterForm(forms.Form):
    """Filters shared by the viewer and the API; every field optional."""

    actor = forms.CharField(
        label=_("Actor"),
        required=False,
        max_length=200,
        help_text=_("Username as recorded, 'system', or a numeric id."),
    )
    action = forms.CharField(
        label=_("Action"),
        required=False,
        max_length=100,
        help_text=_("Exact, or a prefix ending in a dot: accounts.user."),
    )
    target_type = forms.CharField(label=_("Target type"), required=False, max_length=100)
    target_id = forms.CharField(label=_("Target id"), required=False, max_length=64)
    since = forms.DateTimeField(label=_("From"), required=False)
    until = forms.DateTimeField(label=_("Until"), required=False)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def filters(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "") and k != "before"}
