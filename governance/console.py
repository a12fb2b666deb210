"""The console's sections: (URL name, label, description), in the order the page shows them."""

from django.utils.translation import gettext_lazy as _

SECTIONS: list[tuple[str, object, object]] = [
    (
        "audit:event-list",
        _("Audit ledger"),
        _("Every recorded action, filterable by person, action and record."),
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
