"""Signals accounts sends to the apps above it (imports flow audit <- accounts <- crm <- comms)."""

from django.dispatch import Signal

# A person's access ended for good (deactivation), sent after accounts has ended their sessions
# and revoked their API tokens: an app above holding credentials of its own revokes them inside
# the same transaction. Sent with `user`, `actor` and `request`.
user_access_ended = Signal()
