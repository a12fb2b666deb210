from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = _("Governance")

    def ready(self):
        from accounts import people_search
        from audit import labels
        from governance import audit_labels, selectors

        # The review queue's rep filter picks among the people with items in the queue.
        people_search.register("rep", people=selectors.review_reps)
        from governance import search_forms

        people_search.register("participant", people=search_forms.participant_choices)

        labels.register_action_labels(audit_labels.LABELS)

        from comms.services import purge
        from governance import holds

        # Purges and erasures (comms) skip what an active legal hold covers.
        purge.register_hold_filter(holds.held_ids)

        from comms import outbound_checks
        from governance import (
            dlp_policy,
            export_tasks,  # noqa: F401  (registers the Celery task)
        )

        # DLP on what staff write: every send, file name and edit passes it (comms calls it).
        outbound_checks.register_outbound_check(dlp_policy.check, stored=dlp_policy.stored)
