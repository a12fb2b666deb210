"""Appending to the audit ledger."""

from django.db import models, transaction
from django.utils import timezone

from audit.models import AuditChainHead, AuditEvent
from audit.serialization import _check_no_floats, canonical, chain_hash, jsonable

SYSTEM = "system"
USER_AGENT_MAX = 512
LABEL_MAX = 200


def _actor(actor) -> tuple[str, int | None, str]:
    if actor is None or actor == SYSTEM:
        return AuditEvent.ActorType.SYSTEM, None, "system"
    if isinstance(actor, models.Model):
        if actor._meta.label_lower == "crm.contact":
            return AuditEvent.ActorType.CONTACT, actor.pk, str(actor)[:LABEL_MAX]
        username = getattr(actor, "get_username", lambda: str(actor))()
        return AuditEvent.ActorType.USER, actor.pk, username[:LABEL_MAX]
    raise TypeError(f"audit actor must be a user, a contact, None or 'system', not {actor!r}")


def _target(target) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk), str(target)[:LABEL_MAX]
    if isinstance(target, tuple) and len(target) == 3:
        kind, ident, label = target
        return str(kind), str(ident), str(label)[:LABEL_MAX]
    raise TypeError("audit target must be a model instance, None or (type, id, label)")


def _request_meta(request) -> tuple[str | None, str | None, str | None]:
    if request is None:
        return None, None, None
    meta = request.META
    request_id = getattr(request, "request_id", None) or meta.get("HTTP_X_REQUEST_ID")
    return (
        meta.get("REMOTE_ADDR") or None,
        (meta.get("HTTP_USER_AGENT") or "")[:USER_AGENT_MAX] or None,
        (request_id or "")[:64] or None,
    )


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(id=1).first()
    if head is None:
        # First event (or a flushed test database): make the row race-free, then lock it.
        last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        seed = AuditChainHead(id=1, **last) if last else AuditChainHead(id=1)
        AuditChainHead.objects.bulk_create([seed], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update().get(id=1)
    return head


@transaction.atomic
def record(*, actor, action: str, target=None, data: dict | None = None, request=None):
    """Append one event inside the caller's transaction; it commits or rolls back with it.

    Locks the chain head row until the caller's transaction ends, so call it as the last write of
    a service. Side effects: none beyond the two rows.
    """
    if action.count(".") < 2:
        raise ValueError("audit actions are named <app>.<entity>.<past_verb>")
    payload = jsonable(data or {})
    _check_no_floats(payload)
    actor_type, actor_id, actor_label = _actor(actor)
    target_type, target_id, target_label = _target(target)
    ip, user_agent, request_id = _request_meta(request)

    head = _locked_head()
    event = AuditEvent(
        seq=head.seq + 1,
        version=1,
        created_at=timezone.now(),
        actor_type=actor_type,
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        data=payload,
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
        prev_hash=head.hash,
    )
    event.hash = chain_hash(head.hash, canonical(event))
    event.save(force_insert=True)
    AuditChainHead.objects.filter(id=1).update(seq=event.seq, hash=event.hash)
    return event
