from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = _("Customer channels")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from comms import channel_registry
        from connectors import (
            channel_kinds,
            checks,  # noqa: F401  (registers the system checks)
            link_delivery,
            outbound,
        )
        from connectors.models import ChannelAccount

        channel_registry.register_available_kinds(channel_kinds.active_kinds)
        # Cache invalidation only (the one use of model signals the conventions allow).
        for signal in (post_save, post_delete):
            signal.connect(
                channel_kinds.forget_active_kinds,
                sender=ChannelAccount,
                dispatch_uid=f"connectors.forget_active_kinds.{signal is post_save}",
            )
        channel_registry.register_send_check(outbound.send_check)
        channel_registry.register_outbound(outbound.deliveries_record)
        channel_registry.register_composer(outbound.composer_notice)
        channel_registry.register_link_sender(link_delivery.options, link_delivery.deliver)
        from audit import labels
        from connectors import audit_labels

        labels.register_action_labels(audit_labels.LABELS)
