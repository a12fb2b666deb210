"""Forms of the CRM pages: they parse and validate; the services write."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from accounts.pickers import PickerField
from config.errors import Invalid
from crm import phones, pickers, selectors, services
from crm.models import Activity, Channel, Deal, LifecycleStage, Stage
from crm.permissions import CHANGE, VIEW

SPLIT = re.compile(r"[\n,;]+")
PHONE_REGIONS = [
    ("", _("Default")),
    ("BR", _("Brazil")),
    ("ES", _("Spain")),
    ("US", _("United States")),
    ("PT", _("Portugal")),
    ("MX", _("Mexico")),
    ("AR", _("Argentina")),
    ("GB", _("United Kingdom")),
]


def split_list(value: str) -> list[str]:
    return [item.strip() for item in SPLIT.split(value or "") if item.strip()]


def owner_field() -> PickerField:
    """An owner: any person the "owner" purpose offers (crm.pickers.owner_choices), picked by
    search (static/js/picker.js); the page never lists the organisation."""
    return PickerField(label=_("Owner"), purpose="owner", required=False)


class TagsField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", _("Separate tags with commas."))
        super().__init__(**kwargs)

    def to_python(self, value):
        return split_list(super().to_python(value))

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return ", ".join(value)
        return value


class CompanyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    domain = forms.CharField(label=_("Web domain"), max_length=253, required=False)
    industry = forms.CharField(label=_("Industry"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    address = forms.CharField(
        label=_("Address"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    owner = owner_field()
    move_contacts = forms.BooleanField(
        label=_("A new owner also takes its contacts the old owner holds"),
        required=False,
        initial=True,
    )
    move_deals = forms.BooleanField(
        label=_("A new owner also takes its open deals the old owner holds"),
        required=False,
        initial=True,
    )
    tags = TagsField(label=_("Tags"))
    confirm_reassign = forms.BooleanField(
        label=_("Yes, move these to the new owner"), required=False
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].bind(user)

    def clean_phone(self):
        value = self.cleaned_data["phone"]
        return phones.normalise(value) if value.strip() else ""


class ContactForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    title = forms.CharField(label=_("Job title"), max_length=120, required=False)
    company = forms.ModelChoiceField(label=_("Company"), queryset=None, required=False)
    emails = forms.CharField(
        label=_("Emails"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line; the first is the main one."),
    )
    phones = forms.CharField(
        label=_("Phones"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line, with the country code (+55 …) or in the region below."),
    )
    phone_region = forms.ChoiceField(
        label=_("Region of numbers without a country code"), choices=PHONE_REGIONS, required=False
    )
    preferred_channel = forms.ChoiceField(label=_("Preferred channel"), choices=Channel.choices)
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=LifecycleStage.choices)
    owner = owner_field()
    tags = TagsField(label=_("Tags"))
    confirm_duplicate = forms.BooleanField(
        label=_("Save anyway: this is a different person"), required=False
    )
    confirm_reassign = forms.BooleanField(
        label=_("Yes, move these to the new owner"), required=False
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["company"].queryset = selectors.company_choices_for(user)
        self.fields["owner"].bind(user)

    def clean_emails(self):
        try:
            return services.normalise_emails(split_list(self.cleaned_data["emails"]))
        except Invalid as exc:
            raise ValidationError(exc.fields["emails"]) from exc

    def clean(self):
        data = super().clean()
        raw = split_list(self.data.get(self.add_prefix("phones"), ""))
        region = data.get("phone_region") or None
        numbers, errors = [], []
        for item in raw:
            try:
                number = phones.normalise(item, region)
            except ValidationError as exc:
                errors.extend(exc.messages)
                continue
            if number not in numbers:
                numbers.append(number)
        if errors:
            self.add_error("phones", errors)
        else:
            data["phones"] = numbers
        return data


class DealForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    company = forms.ModelChoiceField(label=_("Company"), queryset=None, required=False)
    primary_contact = forms.ModelChoiceField(
        label=_("Primary contact"), queryset=None, required=False
    )
    contacts = forms.ModelMultipleChoiceField(
        label=_("Other contacts"), queryset=None, required=False
    )
    pipeline = forms.ModelChoiceField(
        label=_("Pipeline"),
        queryset=None,
        required=False,
        help_text=_("Left empty: the pipeline of the chosen stage."),
    )
    stage = forms.ModelChoiceField(label=_("Stage"), queryset=None)
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, min_value=0)
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="USD")
    expected_close_date = forms.DateField(
        label=_("Expected close date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    owner = owner_field()
    lost_reason = forms.CharField(label=_("Lost reason"), max_length=200, required=False)
    tags = TagsField(label=_("Tags"))
    confirm_reassign = forms.BooleanField(
        label=_("Yes, move these to the new owner"), required=False
    )

    def __init__(self, *args, user=None, pipeline=None, **kwargs):
        """pipeline: the deal's, when it has one (editing): it stays, and only its stages are
        offered. A new deal chooses its pipeline and one of that pipeline's stages."""
        super().__init__(*args, **kwargs)
        contacts = selectors.contact_choices_for(user)
        self.fields["company"].queryset = selectors.company_choices_for(user)
        self.fields["primary_contact"].queryset = contacts
        self.fields["contacts"].queryset = contacts
        self.fields["owner"].bind(user)
        self.fields["pipeline"].queryset = selectors.pipeline_choices()
        stage = self.fields["stage"]
        if pipeline is None:
            stage.queryset = selectors.stage_list()
            stage.label_from_instance = lambda s: f"{s.pipeline.name} · {s.name}"
            return
        self.fields["pipeline"].disabled = True
        self.initial["pipeline"] = pipeline.pk
        stage.queryset = selectors.stage_list().filter(pipeline=pipeline)
        stage.error_messages["invalid_choice"] = _(
            "Choose one of the stages of the %(pipeline)s pipeline."
        ) % {"pipeline": pipeline}

    def clean(self):
        data = super().clean()
        pipeline, stage = data.get("pipeline"), data.get("stage")
        if pipeline is not None and stage is not None and stage.pipeline_id != pipeline.pk:
            self.add_error("stage", _("That stage belongs to another pipeline."))
        return data

    def clean_currency(self):
        value = self.cleaned_data["currency"].strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValidationError(_("Use a three-letter currency code such as USD, EUR or BRL."))
        return value


class DealMoveForm(forms.Form):
    stage = forms.ModelChoiceField(label=_("Stage"), queryset=Stage.objects.all())


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Activity.Kind.choices)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(
        label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    due_at = forms.DateTimeField(
        label=_("Due (tasks)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


class ShareForm(forms.Form):
    who = PickerField(label=_("Share with"), purpose="share", kind="any")
    level = forms.ChoiceField(
        label=_("Access"), choices=[(VIEW, _("Can view")), (CHANGE, _("Can change"))]
    )

    def __init__(self, *args, user=None, record=None, **kwargs):
        """user: who shares; record: what (both decide whom the picker offers and accepts:
        crm.pickers.share_people / share_teams)."""
        super().__init__(*args, **kwargs)
        self.fields["who"].bind(user, pickers.record_target(record) if record else "")

    def target(self) -> dict:
        return self.cleaned_data["who"]


class UnshareForm(forms.Form):
    who = forms.RegexField(regex=r"^(user|team):\d+$")

    def target(self) -> dict:
        kind, _sep, pk = self.cleaned_data["who"].partition(":")
        if kind == "user":
            return {"user": User.objects.filter(pk=pk).first()}
        return {"team": Team.objects.filter(pk=pk).first()}


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
    dry_run = forms.BooleanField(
        label=_("Preview only (write nothing)"), required=False, initial=True
    )


DEAL_STATUS_CHOICES = [("", _("Any status")), *Deal.Status.choices]
