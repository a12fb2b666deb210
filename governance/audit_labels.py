"""The plain-language names of the actions the compliance console records (audit.labels)."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "governance.dlp.blocked": _("Message blocked by DLP"),
    "governance.dlp.warned": _("DLP warning overridden"),
    "governance.dlp.flagged": _("Message flagged by DLP"),
    "governance.dlp.redacted": _("Message redacted for the customer"),
    "governance.dlp.policy_changed": _("DLP policy changed"),
    "governance.dlp.pattern_created": _("DLP pattern added"),
    "governance.dlp.pattern_changed": _("DLP pattern changed"),
    "governance.dsr.received": _("Data-subject request received"),
    "governance.dsr.access_exported": _("Data-subject access export"),
    "governance.dsr.erased": _("Data subject erased"),
    "governance.dsr.refused": _("Data-subject request refused"),
    "governance.dsr.restricted": _("Processing restricted"),
    "governance.export.requested": _("Export requested"),
    "governance.export.completed": _("Export completed"),
    "governance.export.failed": _("Export failed"),
    "governance.export.downloaded": _("Export downloaded"),
    "governance.hold.placed": _("Legal hold placed"),
    "governance.hold.released": _("Legal hold released"),
    "governance.retention.changed": _("Retention period changed"),
    "governance.retention.purged": _("Retention purge run"),
    "governance.review.sampled": _("Conversations sampled for review"),
    "governance.review.reviewed": _("Conversation reviewed"),
    "governance.review.escalated": _("Conversation escalated"),
    "governance.search.run": _("Messages searched"),
    "governance.search.result_viewed": _("Search result viewed"),
    "governance.search.saved": _("Search saved"),
    "governance.search.deleted": _("Saved search deleted"),
}
