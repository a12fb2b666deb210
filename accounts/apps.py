from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Organisation")

    def ready(self):
        from django.db.models.signals import post_migrate

        from accounts import receivers, roles

        receivers.connect()
        # Later apps add models (and so permissions); keep the role groups' grants complete.
        post_migrate.connect(roles.sync_after_migrate, dispatch_uid="accounts.roles.sync")
