"""One FilterSet per kind of record: its list page, its CSV export and its API list read the same
query parameters the same way (?q=, ?owner=, ?tag=, ?sort= and each kind's own).

The API answers a parameter it cannot read with a 400 naming it (DjangoFilterBackend); a page
ignores it and applies the others (`page_queryset`), as it always has.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field

from config.ids import MAX_ID
from crm import phones, selectors
from crm.models import (
    Activity,
    Channel,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    LifecycleStage,
)


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """A record id: a whole number from 1 to 2**63-1, else 400 with the field's message."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class SortFilter(django_filters.ChoiceFilter):
    """?sort=: one of the kind's named orders (each ends on the id, so pages are stable)."""

    def __init__(self, sorts: dict[str, tuple], *, default: str, **kwargs):
        self.sorts = sorts
        self.default = default
        kwargs.setdefault("label", _("Sort"))
        super().__init__(choices=[(key, key) for key in sorts], **kwargs)

    def filter(self, qs, value):
        return qs.order_by(*self.sorts[value]) if value in self.sorts else qs


class RecordFilter(django_filters.FilterSet):
    owner = IdFilter(field_name="owner_id")
    tag = django_filters.CharFilter(field_name="tags__name")
    q = django_filters.CharFilter(method="search", label=_("Search"))

    search_q = None  # each kind's matching rule, from crm.selectors (the search box's too)

    def search(self, queryset, name, value):
        return queryset.filter(self.search_q(value.strip())) if value.strip() else queryset

    def page_queryset(self) -> tuple[QuerySet, str]:
        """For a page or an export: every readable parameter applied (others ignored), in the
        chosen order or the kind's default. Returns the queryset and the order's name."""
        qs = self.qs
        chosen = self.form.cleaned_data.get("sort")
        if chosen:
            return qs, chosen
        sort = self.filters["sort"]
        return sort.filter(qs, sort.default), sort.default

    def values(self) -> dict:
        """The parameters as read, for the page's filter form (unreadable ones empty)."""
        self.errors  # noqa: B018 - validates the form, so cleaned_data exists
        return {name: self.form.cleaned_data.get(name) for name in self.filters}


COMPANY_SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "updated": ("-updated_at", "-id"),
    "created": ("-created_at", "-id"),
}
CONTACT_SORTS = {
    "name": ("last_name", "first_name", "id"),
    "-name": ("-last_name", "-first_name", "-id"),
    "updated": ("-updated_at", "-id"),
    "created": ("-created_at", "-id"),
}
DEAL_SORTS = {
    "updated": ("-updated_at", "-id"),
    "title": ("title", "id"),
    "amount": ("-amount", "-id"),
    "close": (F("expected_close_date").asc(nulls_last=True), "id"),
    "created": ("-created_at", "-id"),
}


class CompanyFilter(RecordFilter):
    industry = django_filters.CharFilter(field_name="industry", lookup_expr="iexact")
    sort = SortFilter(COMPANY_SORTS, default="name")

    class Meta:
        model = Company
        fields = ["owner", "tag", "industry", "q", "sort"]

    search_q = staticmethod(selectors.company_search_q)


class ContactFilter(RecordFilter):
    company = IdFilter(field_name="company_id")
    lifecycle_stage = django_filters.ChoiceFilter(choices=LifecycleStage.choices)
    preferred_channel = django_filters.ChoiceFilter(choices=Channel.choices)
    email = django_filters.CharFilter(method="by_email")
    phone = django_filters.CharFilter(method="by_phone")
    sort = SortFilter(CONTACT_SORTS, default="name")

    class Meta:
        model = Contact
        fields = ["owner", "tag", "company", "lifecycle_stage", "preferred_channel", "q", "sort"]

    search_q = staticmethod(selectors.contact_search_q)

    def by_email(self, queryset, name, value):
        return queryset.filter(
            Exists(ContactEmail.objects.filter(contact=OuterRef("pk"), email=value.strip().lower()))
        )

    def by_phone(self, queryset, name, value):
        try:
            number = phones.normalise(value)
        except ValidationError:
            return queryset.none()
        return queryset.filter(
            Exists(ContactPhone.objects.filter(contact=OuterRef("pk"), number=number))
        )


class DealFilter(RecordFilter):
    stage = IdFilter(field_name="stage_id")
    pipeline = IdFilter(field_name="pipeline_id")
    company = IdFilter(field_name="company_id")
    status = django_filters.ChoiceFilter(choices=Deal.Status.choices)
    sort = SortFilter(DEAL_SORTS, default="updated")

    class Meta:
        model = Deal
        fields = ["owner", "tag", "stage", "pipeline", "company", "status", "q", "sort"]

    search_q = staticmethod(selectors.deal_search_q)


class ActivityFilter(django_filters.FilterSet):
    deal = IdFilter(field_name="deal_id")
    contact = IdFilter(field_name="contact_id")
    company = IdFilter(field_name="company_id")
    kind = django_filters.ChoiceFilter(choices=Activity.Kind.choices)
    done = django_filters.BooleanFilter()

    class Meta:
        model = Activity
        fields = ["deal", "contact", "company", "kind", "done"]
