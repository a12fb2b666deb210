from django import forms
from django.utils.translation import gettext_lazy as _

from config.ids import MAX_ID
from governance.models import DataSubjectRequest

DSR = DataSubjectRequest


class DsrCreateForm(forms.Form):
    contact = forms.IntegerField(
        label=_("Contact"),
        min_value=1,
        max_value=MAX_ID,
        error_messages={
            "required": _("Find the person and choose them in the list."),
            "invalid": _("Find the person and choose them in the list."),
            "min_value": _("Find the person and choose them in the list."),
            "max_value": _("Find the person and choose them in the list."),
        },
    )
    kind = forms.ChoiceField(label=_("The person asks for"), choices=DSR.Kind.choices)
    law = forms.ChoiceField(label=_("Law"), choices=DSR.Law.choices)
    channel = forms.ChoiceField(label=_("Received by"), choices=DSR.Channel.choices)
    subject_reference = forms.CharField(
        label=_("Their reference"),
        max_length=200,
        required=False,
        help_text=_("The person's own reference or subject line, if any."),
    )
    received_at = forms.DateTimeField(
        label=_("Received"),
        required=False,
        help_text=_("When the request reached us; empty: now. The deadline counts from it."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    details = forms.CharField(
        label=_("Details"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class BasisForm(forms.Form):
    basis = forms.CharField(label=_("Legal basis"), required=False, max_length=1000)


class RefuseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason told to the person"), max_length=2000, widget=forms.Textarea({"rows": 2})
    )
    basis = forms.CharField(label=_("Legal basis"), max_length=1000)
