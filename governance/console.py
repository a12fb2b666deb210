"""The console's sections: (URL name, label, description), in the order the page shows them."""

from django.utils.translation import gettext_lazy as _

SECTIONS: list[tuple[str, object, object]] = [
    (
        "audit:event-list",
        _("Audit ledger"),
        _("Every recorded action, filterable by person, action and record."),
    ),
    (
        "governance:search",
        _("Message search"),
        _(
            "Find messages by word, person, record, channel and time, edits and retractions "
            "included."
        ),
    ),
    (
        "governance:export-list",
        _("Exports"),
        _("Verifiable zips of the conversations a search found."),
    ),
]
