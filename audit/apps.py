from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit ledger")

    def ready(self):
        from django.db.models.signals import post_migrate

        from audit import ddl

        post_migrate.connect(ddl.ensure_sqlite_triggers, sender=self, dispatch_uid="audit.ddl")
