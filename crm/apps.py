from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def ensure_default_pipeline(sender, using="default", apps=None, **kwargs):
    """After `migrate` or `flush`, the default pipeline exists (flush empties the table the data
    migration filled)."""
    import importlib

    from django.apps import apps as global_apps
    from django.db import connections

    apps = apps or global_apps  # `flush` sends no `apps`
    if "crm_pipeline" not in connections[using].introspection.table_names():
        return
    try:
        apps.get_model("crm", "Pipeline")
    except LookupError:
        return
    migration = importlib.import_module("crm.migrations.0002_default_pipeline")
    migration.create_default_pipeline(apps, None)


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM")

    def ready(self):
        from django.db.models.signals import post_migrate

        from accounts import book
        from audit import services as audit_services
        from audit.models import AuditEvent
        from crm import permissions
        from crm.book import CrmBook
        from crm.models import Contact

        # A customer contact writing in the chat acts in the ledger as a contact, not a user.
        audit_services.register_actor_type(Contact, AuditEvent.ActorType.CONTACT)
        from audit import selectors as audit_selectors
        from crm import selectors

        audit_selectors.register_actor_finder(selectors.audit_contacts_named)
        from crm import audit_links

        audit_selectors.register_target_links("crm.company", audit_links.companies)
        audit_selectors.register_target_links("crm.contact", audit_links.contacts)
        audit_selectors.register_target_links("crm.deal", audit_links.deals)
        from audit import labels
        from crm import audit_labels

        labels.register_action_labels(audit_labels.LABELS)
        # A person's book (accounts.book): crm's records, before comms's conversations.
        book.register_book_part(CrmBook())

        # The rep's home (accounts.home_sections): what is due today, and their open deals by stage.
        from accounts import home_sections

        home_sections.register_section(
            "crm.activities",
            template="crm/_home_activities.html",
            build=lambda user: selectors.activities_due_for(user),
            order=30,
        )
        home_sections.register_section(
            "crm.deals",
            template="crm/_home_deals.html",
            build=selectors.open_deals_by_stage_for,
            order=40,
        )
        # People pickers (accounts.people_search): whom owner and share fields offer.
        from crm import pickers

        pickers.register()

        post_migrate.connect(
            ensure_default_pipeline, sender=self, dispatch_uid="crm.ensure_default_pipeline"
        )
        # Permission rows are remade (with new ids) by flush + migrate: forget the cached ids.
        post_migrate.connect(
            permissions.forget_permission_ids, dispatch_uid="crm.forget_permission_ids"
        )
