"""Writes to channel accounts and templates, audited by changed field NAMES (never values: a
setting may be an address, a secret must never reach the ledger)."""

from __future__ import annotations

from django.db import transaction

import audit
from config.errors import Forbidden
from connectors import permissions
from connectors.models import ChannelAccount, MessageTemplate

ACCOUNT_FIELDS = ("kind", "name", "team", "is_active")


def _require(actor) -> None:
    """actor None: the system (a management command, the demo seed)."""
    if actor is not None and not permissions.can_manage_accounts(actor):
        raise Forbidden()


@transaction.atomic
def channel_account_save(
    *,
    actor,
    account: ChannelAccount,
    secrets: dict[str, str | None] | None = None,
    request=None,
) -> ChannelAccount:
    """Create or change a channel account. `secrets`: new values ("" or absent: unchanged, None:
    removed); the stored token is re-encrypted with the current key either way (rotation).
    Audited as connectors.channel_account.created / .changed with the names of the fields,
    settings and secrets that changed, never their values."""
    _require(actor)
    created = account.pk is None
    before = None
    before_settings: dict = {}
    if not created:
        old = ChannelAccount.objects.select_for_update().get(pk=account.pk)
        before = {
            "kind": old.kind,
            "name": old.name,
            "team": old.team_id,
            "is_active": old.is_active,
        }
        before_settings = old.settings or {}
    changed_secrets = account.set_secrets(secrets or {})
    account.save()
    fields = []
    for name in ACCOUNT_FIELDS:
        now = account.team_id if name == "team" else getattr(account, name)
        if before is None or before[name] != now:
            fields.append(name)
    settings_now = account.settings or {}
    changed_settings = sorted(
        k
        for k in set(before_settings) | set(settings_now)
        if before_settings.get(k) != settings_now.get(k)
    )
    if created or fields or changed_settings or changed_secrets:
        audit.record(
            actor=actor,
            action=f"connectors.channel_account.{'created' if created else 'changed'}",
            target=account,
            data={
                "kind": account.kind,
                "fields": fields,
                "settings": changed_settings,
                "secrets": changed_secrets,
            },
            request=request,
        )
    return account


@transaction.atomic
def message_template_save(*, actor, template: MessageTemplate, request=None) -> MessageTemplate:
    """Create or change a message template; audited (connectors.message_template.created /
    .changed, with the changed field names)."""
    _require(actor)
    created = template.pk is None
    fields = ["account", "name", "language", "body", "approved"]
    if not created:
        old = MessageTemplate.objects.get(pk=template.pk)
        fields = [
            f
            for f in fields
            if getattr(old, f if f != "account" else "account_id")
            != getattr(template, f if f != "account" else "account_id")
        ]
    template.save()
    if created or fields:
        audit.record(
            actor=actor,
            action=f"connectors.message_template.{'created' if created else 'changed'}",
            target=template,
            data={"account": template.account_id, "fields": fields},
            request=request,
        )
    return template
