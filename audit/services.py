"""Appending to the audit ledger and signing checkpoints."""

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models.base import ModelState
from django.utils import timezone

from audit import client_address, signing, witness
from audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from audit.serialization import (
    VERSION,
    _check_no_floats,
    canonical_head,
    canonical_mid,
    canonical_parts,
    canonical_tail,
    chain_hash,
    dumps_data,
    format_time,
    jsonable,
)

SYSTEM = "system"
ANONYMOUS = "anonymous"
USER_AGENT_MAX = 512
LABEL_MAX = 200
TARGET_TYPE_MAX = 100
TARGET_ID_MAX = 64
REQUEST_ID_MAX = 64
IP_MAX = 45


def _clean(text, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; the same replacement on SQLite keeps hashes identical.
    return str(text).replace("\x00", "\ufffd")[:limit]


# Models whose instances act as something other than a user, by model label ("app.model"):
# filled by the apps that own them (crm registers its customer contact) in AppConfig.ready(), so
# the ledger names no other app's models.
_ACTOR_TYPES: dict[str, str] = {}


def register_actor_type(model: type[models.Model], actor_type: str) -> None:
    """Record instances of `model` (exactly that model) as actors of `actor_type`, labelled by
    str(instance), instead of as users."""
    if actor_type not in AuditEvent.ActorType.values:
        raise ValueError(f"unknown audit actor type {actor_type!r}")
    label = model._meta.label_lower
    if _ACTOR_TYPES.setdefault(label, actor_type) != actor_type:
        raise ValueError(f"{label} is already an audit actor of type {_ACTOR_TYPES[label]!r}")


def _actor(actor) -> tuple[str, int | None, str]:
    if actor is None or actor == SYSTEM:
        return AuditEvent.ActorType.SYSTEM, None, "system"
    if actor == ANONYMOUS or getattr(actor, "is_anonymous", False):
        return AuditEvent.ActorType.ANONYMOUS, None, "anonymous"
    if isinstance(actor, models.Model):
        actor_type = _ACTOR_TYPES.get(actor._meta.label_lower)
        if actor_type is not None:
            return actor_type, actor.pk, _clean(actor, LABEL_MAX)
        username = getattr(actor, "get_username", lambda: str(actor))()
        return AuditEvent.ActorType.USER, actor.pk, _clean(username, LABEL_MAX)
    raise TypeError(
        "audit actor must be a user, a model registered with register_actor_type (a customer"
        f" contact), None, 'system' or 'anonymous', not {actor!r}"
    )


def _target(target) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, models.Model):
        return (
            target._meta.label_lower,
            _clean(target.pk, TARGET_ID_MAX),
            _clean(target, LABEL_MAX),
        )
    if isinstance(target, tuple) and len(target) == 3:
        kind, ident, label = target
        return (
            _clean(kind, TARGET_TYPE_MAX),
            _clean(ident, TARGET_ID_MAX),
            _clean(label, LABEL_MAX),
        )
    raise TypeError("audit target must be a model instance, None or (type, id, label)")


def _request_meta(request) -> tuple[str | None, str | None, str | None]:
    if request is None:
        return None, None, None
    if isinstance(request, dict):  # an ASGI scope: a WebSocket consumer's self.scope
        return (
            _clean(client_address.client_address_from_scope(request) or "", IP_MAX) or None,
            _clean(client_address.user_agent_from_scope(request), USER_AGENT_MAX) or None,
            None,
        )
    meta = request.META
    request_id = getattr(request, "request_id", None) or meta.get("HTTP_X_REQUEST_ID")
    return (
        _clean(client_address.client_address(request) or "", IP_MAX) or None,
        _clean(client_address.user_agent(request), USER_AGENT_MAX) or None,
        _clean(request_id or "", REQUEST_ID_MAX) or None,
    )


def _locked_head(using: str) -> AuditChainHead:
    heads = AuditChainHead.objects.using(using)
    # SQLite ignores FOR UPDATE: a write takes its database lock before the head is read.
    heads.filter(id=1).update(seq=models.F("seq"))
    head = heads.select_for_update().filter(id=1).first()
    if head is None:
        # First event (or emptied tables): make the row race-free, then lock it.
        last = AuditEvent.objects.using(using).order_by("-seq").values("seq", "hash").first()
        seed = AuditChainHead(id=1, **last) if last else AuditChainHead(id=1)
        heads.bulk_create([seed], ignore_conflicts=True)
        head = heads.select_for_update().get(id=1)
    return head


def _append_python(event: AuditEvent, parts: tuple[str, str, str], using: str) -> None:
    head = _locked_head(using)
    event.seq = head.seq + 1
    event.created_at = timezone.now()
    event.prev_hash = head.hash
    head_text, mid, tail = parts
    canonical = f"{head_text}{event.seq}{mid}{format_time(event.created_at)}{tail}".encode()
    event.hash = chain_hash(head.hash, canonical)
    event.save(force_insert=True, using=using)
    AuditChainHead.objects.using(using).filter(id=1).update(seq=event.seq, hash=event.hash)


def _pg_arguments(event: AuditEvent, parts: tuple[str, str, str], data_text: str) -> list:
    """keepline_audit_append's arguments, in its order."""
    return [
        event.version,
        event.actor_type,
        event.actor_id,
        event.actor_label,
        event.action,
        event.target_type,
        event.target_id,
        event.target_label,
        data_text,
        event.ip,
        event.user_agent,
        event.request_id,
        *parts,
    ]


def _append_postgresql(event: AuditEvent, parts: tuple[str, str, str], data_text: str, using):
    """One round trip: keepline_audit_append (audit/ddl.py) locks, numbers, hashes and inserts."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT * FROM keepline_audit_append(%s::smallint, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s)",
            _pg_arguments(event, parts, data_text),
        )
        event.seq, event.created_at, event.prev_hash, event.hash = cursor.fetchone()
    event._state.adding = False
    event._state.db = using


_PG_APPEND_MANY = (
    "SELECT * FROM keepline_audit_append_many(%s::smallint[], %s::varchar[], %s::bigint[],"
    " %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::text[],"
    " %s::varchar[], %s::varchar[], %s::varchar[], %s::text[], %s::text[], %s::text[])"
)


def _pg_array_literal(values) -> str:
    """A PostgreSQL array literal of str, int or None values: every element double-quoted, only
    backslash and double quote escaped inside the quotes, so any text (all but NUL, which
    _clean replaces) comes back byte for byte."""
    if values and values.count(values[0]) == len(values):
        # A column every event shares (version, actor, request): one element, repeated.
        return "{" + ",".join([_pg_array_element(values[0])] * len(values)) + "}"
    return "{" + ",".join(_pg_array_element(value) for value in values) + "}"


def _pg_array_element(value) -> str:
    if value is None:
        return "NULL"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# Where _pg_arguments' values sit in a prepared batch row (_FIELD_ORDER): all but seq,
# created_at, data (its text is sent instead) and the two hashes.
_PG_VALUE_INDEXES = (1, 3, 4, 5, 6, 7, 8, 9)
_PG_META_INDEXES = (11, 12, 13)


def _append_postgresql_many(prepared: list, using: str, *, returning: bool) -> list | None:
    """One round trip: keepline_audit_append_many (audit/ddl.py) locks the head once, chains,
    inserts every row in one INSERT and moves the head once. Returns the (seq, created_at,
    prev_hash, hash) of each row when `returning`, else only counts them on the server."""
    # One array per argument of keepline_audit_append: the rows transposed, each sent as the text
    # of an array literal (psycopg's own text-format list adaptation is pure Python and took
    # ~1.4 s per 40k-element column; this takes ~10 ms and the server's array_in parses it).
    columns = zip(
        *(
            [
                *(values[i] for i in _PG_VALUE_INDEXES),
                data_text,
                *(values[i] for i in _PG_META_INDEXES),
                *parts,
            ]
            for values, parts, data_text in prepared
        ),
        strict=True,
    )
    sql = _PG_APPEND_MANY if returning else _PG_APPEND_MANY.replace("*", "count(*)", 1)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [_pg_array_literal(column) for column in columns])
        if not returning:
            return None
        return [row[1:] for row in cursor.fetchall()]


def prepare(*, actor, action: str, target=None, data: dict | None = None, request=None):
    """Validate and serialise an event, without touching the database.

    Returns (unsaved AuditEvent without seq/time/hashes, canonical parts, canonical data text).
    """
    if action.count(".") < 2:
        raise ValueError("audit actions are named <app>.<entity>.<past_verb>")
    payload = jsonable(data or {})
    _check_no_floats(payload)
    data_text = dumps_data(payload)
    actor_type, actor_id, actor_label = _actor(actor)
    target_type, target_id, target_label = _target(target)
    ip, user_agent, request_id = _request_meta(request)
    event = AuditEvent(
        version=VERSION,
        actor_type=actor_type,
        actor_id=actor_id,
        actor_label=actor_label,
        action=_clean(action, 100),
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        data=payload,
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
    )
    parts = canonical_parts(
        version=VERSION,
        actor_type=actor_type,
        actor_id=actor_id,
        actor_label=actor_label,
        action=event.action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        data_text=data_text,
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
    )
    return event, parts, data_text


# AuditEvent's concrete fields in declaration order: _prepare_batch builds events positionally
# (Django's fast __init__ path), so a change to the model must show up here.
_FIELD_ORDER = (
    "seq",
    "version",
    "created_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "data",
    "ip",
    "user_agent",
    "request_id",
    "prev_hash",
    "hash",
)
if tuple(f.attname for f in AuditEvent._meta.concrete_fields) != _FIELD_ORDER:
    raise ImproperlyConfigured("audit.services._FIELD_ORDER no longer matches AuditEvent's fields")

_PLAIN = (str, int, bool, type(None))


def _jsonable_fast(value):
    """jsonable(value), with the plain JSON types handled inline; anything else goes through
    jsonable and the float check exactly as prepare does."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {
            (key if type(key) is str else str(key)): _jsonable_fast(item)
            for key, item in value.items()
        }
    if kind is list or kind is tuple:
        return [_jsonable_fast(item) for item in value]
    converted = jsonable(value)
    _check_no_floats(converted)
    return converted


def _prepare_batch(events: list[dict]) -> list:
    """[prepare(**event) for event in events], byte for byte, at a fraction of the cost; each
    event comes as its field values in _FIELD_ORDER (`_event_of` makes the model of them).

    An offboarding's ~20k owner changes share one actor, one request, a few actions and a few
    data dicts (one per successor): the actor, request metadata, action check, data text and the
    canonical head and tail are computed once per distinct object (by identity) in the batch,
    only the target per event. Events given the same data dict share one payload dict."""
    actors: dict[int, tuple] = {}
    metas: dict[int, tuple] = {}
    actions: dict[str, str] = {}
    datas: dict[int, tuple] = {}
    heads: dict[tuple, str] = {}
    prepared = []
    append = prepared.append
    for event in events:
        append(_prepare_one(actors, metas, actions, datas, heads, **event))
    return prepared


_new_event = AuditEvent.__new__


def _event_of(values: tuple) -> AuditEvent:
    """An unsaved AuditEvent of values in _FIELD_ORDER, as Model.__init__ would build it
    (AuditEvent has no relations, defaults or init signals to honour)."""
    event = _new_event(AuditEvent)
    event._state = ModelState()
    event.__dict__.update(zip(_FIELD_ORDER, values, strict=True))
    return event


def _prepare_one(
    actors, metas, actions, datas, heads, *, actor, action, target=None, data=None, request=None
):
    actor_key = id(actor)
    found = actors.get(actor_key)
    if found is None or found[0] is not actor:
        found = actors[actor_key] = (actor, _actor(actor))
    actor_type, actor_id, actor_label = found[1]
    meta_key = id(request)
    meta = metas.get(meta_key)
    if meta is None or meta[0] is not request:
        ip, user_agent, request_id = _request_meta(request)
        meta = metas[meta_key] = (
            request,
            (ip, user_agent, request_id, canonical_tail(user_agent, VERSION)),
        )
    ip, user_agent, request_id, tail = meta[1]
    clean_action = actions.get(action)
    if clean_action is None:
        if action.count(".") < 2:
            raise ValueError("audit actions are named <app>.<entity>.<past_verb>")
        clean_action = actions[action] = _clean(action, 100)
    data_key = id(data)
    known = datas.get(data_key)
    if known is None or known[0] is not data:
        payload = _jsonable_fast(data or {})
        known = datas[data_key] = (data, payload, dumps_data(payload))
    _data, payload, data_text = known
    head_key = (actor_key, meta_key, clean_action, data_key)
    head = heads.get(head_key)
    if head is None:
        # The keys' objects stay alive (and unique) for the batch: `events` holds them.
        head = heads[head_key] = canonical_head(
            actor_type=actor_type,
            actor_id=actor_id,
            actor_label=actor_label,
            action=clean_action,
            data_text=data_text,
            ip=ip,
            request_id=request_id,
        )
    target_type, target_id, target_label = _target(target)
    values = (
        None,
        VERSION,
        None,
        actor_type,
        actor_id,
        actor_label,
        clean_action,
        target_type,
        target_id,
        target_label,
        payload,
        ip,
        user_agent,
        request_id,
        "",
        "",
    )
    return values, (head, canonical_mid(target_type, target_id, target_label), tail), data_text


def record(*, actor, action: str, target=None, data: dict | None = None, request=None):
    """Append one event inside the caller's transaction; it commits or rolls back with it.

    request: the HttpRequest (or DRF Request) or the ASGI scope (a consumer's self.scope) the
    event came from; its real client address and user agent are recorded (client_address.py).

    Everything but numbering and hashing happens before the chain head is locked; the lock is
    held until the caller's transaction ends, so record as the last write of a service.
    Side effects: none beyond the event row and the chain head.
    """
    event, parts, data_text = prepare(
        actor=actor, action=action, target=target, data=data, request=request
    )
    using = router.db_for_write(AuditEvent)
    connection = connections[using]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Outside a transaction the one statement is its own transaction: PostgreSQL commits in
        # the same round trip, so the head is locked only while the server appends and flushes.
        _append_postgresql(event, parts, data_text, using)
        return event
    # No savepoint: it would cost a round trip while the head is locked; an error here dooms
    # the caller's transaction anyway.
    with transaction.atomic(using=using, savepoint=False):
        if connection.vendor == "postgresql":
            _append_postgresql(event, parts, data_text, using)
        else:
            _append_python(event, parts, using)
    return event


def record_many(events: list[dict], *, returning: bool = True) -> list[AuditEvent] | None:
    """Append several events, in order, inside the caller's transaction (each dict holds
    `record`'s keyword arguments). On PostgreSQL this is one statement whatever the count, so a
    batch of chat messages holds the chain head for one round trip, not one per message.

    Returns the appended events, numbered and hashed; with returning=False, None, and on
    PostgreSQL nothing comes back from the server (an offboarding's ~20k events: neither their
    rows nor model instances are built)."""
    if not events:
        return [] if returning else None
    prepared = _prepare_batch(events)
    using = router.db_for_write(AuditEvent)
    connection = connections[using]
    with transaction.atomic(using=using, savepoint=False):
        if connection.vendor != "postgresql":
            appended = _append_python_many(prepared, using)
            return appended if returning else None
        stamps = _append_postgresql_many(prepared, using, returning=returning)
    if not returning:
        return None
    appended = []
    for (values, _p, _d), (seq, created_at, prev_hash, hash_) in zip(prepared, stamps, strict=True):
        event = _event_of(values)
        event.seq, event.created_at, event.prev_hash, event.hash = seq, created_at, prev_hash, hash_
        event._state.adding = False
        event._state.db = using
        appended.append(event)
    return appended


def _append_python_many(prepared: list, using: str) -> list[AuditEvent]:
    """The head locked once, the chain computed here, the rows inserted together (in batches
    the backend's parameter limit allows), the head moved once."""
    head = _locked_head(using)
    seq, prev = head.seq, head.hash
    now = timezone.now()
    events = []
    for values, (head_text, mid, tail), _data_text in prepared:
        event = _event_of(values)
        seq += 1
        event.seq, event.created_at, event.prev_hash = seq, now, prev
        canonical = f"{head_text}{seq}{mid}{format_time(now)}{tail}".encode()
        event.hash = prev = chain_hash(prev, canonical)
        events.append(event)
    # The queryset refuses bulk_create to everyone else: appends go through record/record_many.
    models.QuerySet(AuditEvent, using=using).bulk_create(events)
    AuditChainHead.objects.using(using).filter(id=1).update(seq=seq, hash=prev)
    return events


def checkpoint_create(*, force: bool = False) -> AuditCheckpoint | None:
    """Sign the newest committed event's hash; None when the ledger is empty.

    One checkpoint per (seq, signing key), enforced by a unique constraint: when one exists for
    the head it is returned, whoever wrote it (a requeued or concurrent Celery run, another
    worker, `audit_checkpoint`). `force` skips the quick look at the latest checkpoint and goes
    straight to the insert, which still yields to an existing row. Never writes an audit event:
    the checkpoint is itself the ledger's statement about itself.
    """
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    if last is None:
        return None
    seq, head_hash = last
    public_key = signing.public_key_hex()
    if not force and (existing := _checkpoint_at(seq, public_key)):
        return existing
    now = timezone.now()
    message = signing.statement(seq=seq, head_hash=head_hash, time=format_time(now))
    public_key, signature = signing.sign(message)
    try:
        # A savepoint, so a conflict leaves a caller's transaction usable.
        with transaction.atomic():
            return AuditCheckpoint.objects.create(
                seq=seq,
                head_hash=head_hash,
                created_at=now,
                algorithm=signing.ALGORITHM,
                public_key=public_key,
                signature=signature,
            )
    except IntegrityError:
        # Another run signed this head first (it waited on our insert, or we on its): done.
        existing = _checkpoint_at(seq, public_key)
        if existing is None:
            raise
        return existing


def checkpoint_witness(checkpoint: AuditCheckpoint) -> None:
    """Copy a checkpoint to every witness directory (audit.witness; after its commit: the
    callers run in autocommit). Raises witness.WitnessError when one cannot be written: the
    checkpoint stays in the database, and the next run writes it, or a later one, again."""
    if witness.configured():
        witness.record(checkpoint_document(checkpoint))


def _checkpoint_at(seq: int, public_key: str) -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.filter(seq=seq, public_key=public_key).first()


def checkpoint_document(checkpoint: AuditCheckpoint) -> dict:
    """The JSON kept outside the database (one object per line in a checkpoint file)."""
    return {
        "kind": "keepline-audit-checkpoint",
        "version": checkpoint.version,
        "seq": checkpoint.seq,
        "head_hash": checkpoint.head_hash,
        "time": format_time(checkpoint.created_at),
        "algorithm": checkpoint.algorithm,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
    }
