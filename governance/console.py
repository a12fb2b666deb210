"""The console's sections: (URL name, label, description), in the order the page shows them."""

from django.utils.translation import gettext_lazy as _

SECTIONS: list[tuple[str, object, object]] = [
    (
        "audit:event-list",
        _("Audit ledger"),
        _("Every recorded action, filterable by person, action and record."),
    ),
    (
        "governance:hold-list",
        _("Legal holds"),
        _("Keep everything about a person, customer, deal or period from being purged or erased."),
    ),
    (
        "governance:retention",
        _("Retention"),
        _("How long each kind of record is kept, and what the nightly purge would remove."),
    ),
    (
        "governance:dsr-list",
        _("Data-subject requests"),
        _("GDPR and LGPD requests to see, erase or restrict someone's data, and their deadlines."),
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
    (
        "governance:review-list",
        _("Review queue"),
        _(
            "A weekly sample of each rep's conversations and every DLP flag, to mark reviewed or"
            " escalated."
        ),
    ),
    (
        "governance:dlp-flags",
        _("DLP flags"),
        _("Messages sent with card numbers, IBANs, national IDs or watched words."),
    ),
    (
        "governance:dlp-policy",
        _("DLP policy"),
        _("What happens, per channel, when staff write such numbers or words."),
    ),
]
