"""What crm tells the apps above it (comms) without importing them."""

from django.dispatch import Signal

# Sent inside the transaction that changed who may see `record` (a contact, company or deal):
# shared, unshared, reassigned, archived. Receivers queue their own after-commit work.
record_access_changed = Signal()  # kwargs: record
