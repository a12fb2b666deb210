"""The search form, shared by the console's pages and the API (one validation of the input)."""

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.pickers import PickerField
from comms.models import Conversation
from config.ids import MAX_ID
from governance import permissions
from governance.search import Criteria


def participant_choices(viewer: User, target: str = "") -> QuerySet[User]:
    """Whom the search's staff-member filter offers: anyone who ever had an account (past
    conversations name people who have left), to who uses the console."""
    permissions.require_console(viewer)
    return User.objects.all()


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Words"), required=False, max_length=200)
    # Searched as you type (accounts.people_search "participant": governance.search_forms
    # .participant_choices); an id, a username or an email is accepted.
    participant = PickerField(label=_("Staff member"), purpose="participant", required=False)
    contact = forms.IntegerField(
        label=_("Contact id"), required=False, min_value=1, max_value=MAX_ID
    )
    company = forms.IntegerField(
        label=_("Company id"), required=False, min_value=1, max_value=MAX_ID
    )
    deal = forms.IntegerField(label=_("Deal id"), required=False, min_value=1, max_value=MAX_ID)
    conversation = forms.IntegerField(
        label=_("Conversation id"), required=False, min_value=1, max_value=MAX_ID
    )
    kind = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("Any channel")), *Conversation.Kind.choices],
        required=False,
    )
    since = forms.DateField(label=_("From (date)"), required=False)
    until = forms.DateField(label=_("Until (date)"), required=False)
    before = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["participant"].bind(user)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data

    def criteria(self) -> Criteria:
        data = self.cleaned_data
        participant = data.get("participant")
        return Criteria(
            q=(data.get("q") or "").strip(),
            participant=participant.pk if participant else None,
            contact=data.get("contact"),
            company=data.get("company"),
            deal=data.get("deal"),
            conversation=data.get("conversation"),
            kind=data.get("kind") or "",
            since=data.get("since"),
            until=data.get("until"),
        )

    def first_error(self) -> str:
        for field, errors in self.errors.items():
            label = self.fields[field].label if field in self.fields else ""
            return f"{label}: {errors[0]}" if label else str(errors[0])
        return ""


class SaveSearchForm(SearchForm):
    name = forms.CharField(label=_("Name"), max_length=100)
