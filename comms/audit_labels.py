"""The plain-language names of the actions comms records (audit.labels)."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "comms.attachment.uploaded": _("File uploaded"),
    "comms.attachment.downloaded": _("File downloaded"),
    "comms.conversation.created": _("Conversation started"),
    "comms.conversation.assigned": _("Conversation assigned"),
    "comms.conversation.status_changed": _("Conversation status changed"),
    "comms.customer_link.issued": _("Customer chat link issued"),
    "comms.customer_link.revoked": _("Customer chat link revoked"),
    "comms.customer_link.sent": _("Customer chat link sent"),
    "comms.message.sent": _("Message sent"),
    "comms.message.received": _("Message received"),
    "comms.message.posted": _("System message posted"),
    "comms.message.edited": _("Message edited"),
    "comms.message.retracted": _("Message retracted"),
    "comms.message.status_changed": _("Message delivery status changed"),
    "comms.message.versions_viewed": _("Message versions viewed"),
    "comms.participant.added": _("Participant added"),
    "comms.participant.removed": _("Participant removed"),
    "comms.conversation.subject_erased": _("Conversation subject erased"),
    "comms.message.marked_urgent": _("Message marked urgent"),
    "comms.message.purged": _("Message purged"),
    "comms.quick_reply.created": _("Quick reply created"),
    "comms.quick_reply.changed": _("Quick reply changed"),
    "comms.quick_reply.deleted": _("Quick reply deleted"),
}
