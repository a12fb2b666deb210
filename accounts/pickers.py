"""Form fields and widget of the people/team picker (accounts.people_search does the choosing).

The widget renders a plain text input holding the chosen value (an id, "user:<id>" or
"team:<id>"; without JavaScript a username, email or team name may be typed instead) inside a
wrapper that static/js/picker.js turns into a search-as-you-type combobox.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts import people_search


def search_url(purpose: str, *, kind: str = "person", target: str = "") -> str:
    params = {"purpose": purpose, "kind": kind}
    if target:
        params["target"] = target
    return f"{reverse('accounts_api:people-search')}?{urlencode(params)}"


def picker_context(
    viewer, purpose: str, value, *, name: str, kind: str = "person", target: str = "", **extra
) -> dict:
    """What templates/accounts/_picker.html needs for a field outside a Django form (filters).
    A value the page already holds as an object (a User) is shown as is; an id is shown only
    when the purpose offers it."""
    if isinstance(value, people_search.User):
        shown, label = str(value.pk), people_search.person_label(value)
    else:
        shown, label = people_search.chosen(viewer, purpose, value, kind=kind, target=target)
    return {
        "name": name,
        "id": extra.pop("id", f"picker-{name}"),
        "value": shown,
        "label": label,
        "url": search_url(purpose, kind=kind, target=target),
        "kind": kind,
        **extra,
    }


class PickerWidget(forms.Widget):
    template_name = "accounts/_picker_widget.html"

    def __init__(self, *, purpose: str, kind: str = "person", attrs=None):
        super().__init__(attrs)
        self.purpose = purpose
        self.kind = kind
        self.viewer = None
        self.target = ""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        shown, label = ("", "")
        if self.viewer is not None:
            shown, label = people_search.chosen(
                self.viewer, self.purpose, value, kind=self.kind, target=self.target
            )
        context["picker"] = {
            "name": name,
            "id": context["widget"]["attrs"].get("id") or f"id_{name}",
            "value": shown,
            "label": label,
            "url": search_url(self.purpose, kind=self.kind, target=self.target),
            "kind": self.kind,
            "required": self.is_required,
        }
        return context

    def render(self, name, value, attrs=None, renderer=None):
        # The project's template dirs, whatever FORM_RENDERER says.
        return render_to_string(self.template_name, self.get_context(name, value, attrs))


class PickerField(forms.Field):
    """A person (kind "person": cleans to a User), a team ("team": a Team) or either ("any": a
    dict {"user": ...} or {"team": ...}), accepted only when the purpose's selector offers it."""

    default_error_messages = {
        "invalid_choice": _("Choose someone from the list."),
    }

    def __init__(self, *, purpose: str, kind: str = "person", **kwargs):
        self.purpose = purpose
        self.kind = kind
        self.viewer = None
        self.target = ""
        kwargs.setdefault("widget", PickerWidget(purpose=purpose, kind=kind))
        super().__init__(**kwargs)

    def bind(self, viewer, target: str = "") -> None:
        """The person filling the form and the purpose's context; required before cleaning."""
        self.viewer = viewer
        self.target = target
        self.widget.viewer = viewer
        self.widget.target = target

    def __deepcopy__(self, memo):
        result = super().__deepcopy__(memo)
        result.widget.viewer, result.widget.target = None, ""
        return result

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not text or len(text) > 254:
            return None if not text else self._refuse()
        purpose = people_search.purpose_get(self.purpose)
        if purpose is None or self.viewer is None:
            self._refuse()
        if self.kind == "any":
            found = people_search.resolve_any(self.viewer, purpose, text, self.target)
        elif self.kind == "team":
            found = people_search.resolve_team(self.viewer, purpose, text, self.target)
        else:
            found = people_search.resolve_person(self.viewer, purpose, text, self.target)
        return found or self._refuse()

    def _refuse(self):
        raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
