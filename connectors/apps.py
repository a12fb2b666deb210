from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def active_kinds() -> list[str]:
    """Channel kinds with at least one active account (comms.channel_registry asks)."""
    from connectors.models import ChannelAccount

    return list(
        ChannelAccount.objects.filter(is_active=True).values_list("kind", flat=True).distinct()
    )


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = _("Customer channels")

    def ready(self):
        from comms import channel_registry
        from connectors import (
            checks,  # noqa: F401  (registers the system checks)
            link_delivery,
            outbound,
        )

        channel_registry.register_available_kinds(active_kinds)
        channel_registry.register_send_check(outbound.send_check)
        channel_registry.register_outbound(outbound.deliveries_record)
        channel_registry.register_composer(outbound.composer_notice)
        channel_registry.register_link_sender(link_delivery.options, link_delivery.deliver)
        from audit import labels
        from connectors import audit_labels

        labels.register_action_labels(audit_labels.LABELS)
