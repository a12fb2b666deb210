"""Framework hooks: what accounts tells the CRM (accounts cannot import crm)."""


def on_user_access_ended(sender, user, actor=None, request=None, **kwargs):
    from crm import services

    services.api_tokens_revoke_all(user=user, actor=actor, request=request)


def connect():
    from accounts.signals import user_access_ended

    user_access_ended.connect(on_user_access_ended, dispatch_uid="crm.revoke_tokens")
