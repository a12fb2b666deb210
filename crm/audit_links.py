"""Where the audit page links a company's, contact's or deal's events: its page, for a viewer
who may see it (audit.selectors.register_target_links; one query each)."""

from __future__ import annotations

from django.urls import reverse

from audit.selectors import ids_of
from crm import permissions


def _linker(queryset_for, url_name: str):
    def links(user, target_ids: list[str]) -> dict[str, str]:
        ids = queryset_for(user).filter(pk__in=ids_of(target_ids)).values_list("pk", flat=True)
        return {str(pk): reverse(url_name, args=[pk]) for pk in ids}

    return links


companies = _linker(permissions.company_queryset_for, "crm:company-detail")
contacts = _linker(permissions.contact_queryset_for, "crm:contact-detail")
deals = _linker(permissions.deal_queryset_for, "crm:deal-detail")
