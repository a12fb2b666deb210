"""Forms of the compliance console's holds and retention pages (parsing only: the services
check and write)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from governance.models import LegalHold


class HoldPlaceForm(forms.Form):
    scope = forms.ChoiceField(label=_("What it covers"), choices=LegalHold.Scope.choices)
    target = forms.IntegerField(
        label=_("Record number"),
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text=_("The id of the staff member, contact, company, deal or conversation."),
    )
    since = forms.DateTimeField(
        label=_("From"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        label=_("Until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    matter = forms.CharField(label=_("Matter"), max_length=200)
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class HoldReleaseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it is released"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class RetentionPeriodForm(forms.Form):
    record_class = forms.CharField(widget=forms.HiddenInput)
    period_days = forms.IntegerField(
        label=_("Kept for (days)"),
        required=False,
        min_value=1,
        max_value=100 * 366,
        help_text=_("Empty: back to the default."),
    )
