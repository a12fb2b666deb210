"""The console's sections: (URL name, label, description), in the order the page shows them."""

from django.utils.translation import gettext_lazy as _

SECTIONS: list[tuple[str, object, object]] = [
    (
        "audit:event-list",
        _("Audit ledger"),
        _("Every recorded action, filterable by person, action and record."),
    ),
    (
        "governance:dsr-list",
        _("Data-subject requests"),
        _("GDPR and LGPD requests to see, erase or restrict someone's data, and their deadlines."),
    ),
]
