"""Signals accounts sends to the apps above it (imports flow audit <- accounts <- crm <- comms)."""

from django.dispatch import Signal

# A person's access ended for good (deactivation): apps holding credentials of their own (API
# tokens) revoke them inside the same transaction. Sent with `user`, `actor` and `request`.
user_access_ended = Signal()
