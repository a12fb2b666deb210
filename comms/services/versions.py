"""Reading a message's versions (earlier and retracted text): written to the ledger."""

from __future__ import annotations

from django.db import transaction

import audit
from comms import permissions
from comms.models import Message


@transaction.atomic
def message_versions_view_record(*, viewer, message: Message, versions: int, request=None) -> None:
    """Write that someone who reads everything (admin, compliance) opened a message's versions
    page: what they read is what others may not (comms.message.versions_viewed). Nothing for
    others, who see no more there than in the conversation. Never a body digest: a digest taken
    now would vouch for whatever the row holds now (comms.integrity)."""
    if not permissions.sees_everything(viewer):
        return
    audit.record(
        actor=viewer,
        action="comms.message.versions_viewed",
        target=message,
        data={
            "conversation": message.conversation_id,
            "versions": versions,
            "retracted": message.retracted,
        },
        request=request,
    )
