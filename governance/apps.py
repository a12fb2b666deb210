from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = _("Governance")

    def ready(self):
        from comms import outbound_checks
        from governance import dlp_policy

        # DLP on what staff write: every send, file name and edit passes it (comms calls it).
        outbound_checks.register_outbound_check(dlp_policy.check, stored=dlp_policy.stored)
