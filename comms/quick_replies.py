"""Quick replies' variables: `{first_name}` and friends filled in for one conversation.

Only the names below are replaced; any other text in braces stays as written, so a reply may hold
a literal `{` and a misspelt variable shows up in the composer instead of vanishing."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

VARIABLES = {
    "first_name": _("the customer's first name"),
    "last_name": _("the customer's last name"),
    "company": _("the customer's company"),
    "deal": _("the deal's title"),
    "my_name": _("your name"),
}
_PATTERN = re.compile(r"\{(" + "|".join(VARIABLES) + r")\}")


def values_for(conversation, user) -> dict[str, str]:
    """The variables' values for this conversation and writer ("" where there is none).
    Uses the conversation's contact, contact.company and deal (select them beforehand)."""
    contact = conversation.contact
    company = getattr(contact, "company", None) if contact else None
    if company is None:
        company = getattr(conversation, "company", None)
    return {
        "first_name": contact.first_name if contact else "",
        "last_name": contact.last_name if contact else "",
        "company": company.name if company else "",
        "deal": conversation.deal.title if conversation.deal_id else "",
        "my_name": user.get_full_name() or user.get_username(),
    }


def render(body: str, values: dict[str, str]) -> str:
    return _PATTERN.sub(lambda m: values.get(m.group(1), ""), body)
