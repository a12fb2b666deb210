from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Organisation")

    def ready(self):
        from django.db.models.signals import post_migrate

        from accounts import permissions, receivers, roles
        from audit import permissions as audit_permissions

        receivers.connect()
        # audit knows no other app: it asks this policy who may read the ledger.
        audit_permissions.register_ledger_reader(permissions.can_read_audit_ledger)
        # ... nor who a person is: the ledger's actor filter finds staff by name through this.
        from accounts import selectors
        from audit import selectors as audit_selectors

        audit_selectors.register_actor_finder(selectors.audit_actors_named)
        # ... nor what its actions mean in words.
        from accounts import audit_labels
        from audit import labels

        labels.register_action_labels(audit_labels.LABELS)
        # People pickers (accounts.people_search): the offboarding page's successor and team.
        from accounts import offboarding, people_search

        people_search.register("successor", people=offboarding.successor_candidates)
        people_search.register("offboard-team", teams=offboarding.team_candidates)
        from accounts import cover

        people_search.register("cover", people=cover.delegate_candidates)
        # Later apps add models (and so permissions); keep the role groups' grants complete.
        post_migrate.connect(roles.sync_after_migrate, dispatch_uid="accounts.roles.sync")
