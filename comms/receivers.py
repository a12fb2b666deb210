"""comms hears what the apps below it announce."""

from django.dispatch import receiver

from comms import realtime
from crm.signals import record_access_changed


@receiver(record_access_changed, dispatch_uid="comms.recheck_record")
def recheck_record(sender, record, **kwargs) -> None:
    """A contact, company or deal changed hands or shares: the sockets on its conversations
    recheck after commit."""
    realtime.recheck_record_on_commit(record)
