from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = _("Customer channels")

    def ready(self):
        from connectors import checks  # noqa: F401  (registers the system checks)
