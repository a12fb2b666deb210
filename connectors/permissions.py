"""The connectors policy: who may manage channel accounts and templates (the Admin role; the
admin site is theirs alone). Webhooks are authorised by the provider's signature, not a user."""

from accounts import permissions as account_permissions


def can_manage_accounts(user) -> bool:
    return account_permissions.can_use_admin(user)
