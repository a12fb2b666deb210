"""The plain-language names of the actions connectors records (audit.labels)."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "connectors.channel_account.created": _("Channel account added"),
    "connectors.channel_account.changed": _("Channel account changed"),
    "connectors.message_template.created": _("Message template added"),
    "connectors.message_template.changed": _("Message template changed"),
}
