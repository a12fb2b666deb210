"""Canonical, versioned bytes of an audit event, and the chain hash over them.

Version 1 (the only version so far) is the JSON object

    {"action", "actor": {"id", "label", "type"}, "data", "ip", "request_id", "seq",
     "target": {"id", "label", "type"}, "time", "user_agent", "v"}

serialised with sorted keys, no insignificant whitespace, UTF-8 and no ASCII escaping (exactly
``json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``). No floats: a
float in event data is refused when recorded (money and measures go in as strings or integers).
``time`` is UTC with microseconds, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

hash = SHA-256(bytes.fromhex(prev_hash) || canonical bytes), hex-encoded; the first event's
prev_hash is 64 zeros.

The ``data`` column stores the canonical JSON text of the data itself, byte for byte what was
hashed. That makes the canonical bytes a plain concatenation of raw column values, so verification
never parses JSON (fast) and SQLite and PostgreSQL cannot disagree about key order or spacing
(jsonb would reorder keys). `canonical_parts` is the one builder: the PostgreSQL append function
splices ``seq`` and ``time`` between the parts it is given, verification builds the same string in
Python, and `reference_canonical` (the json.dumps definition above) is kept for tests to prove both
are the same bytes.
"""

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal
from json.encoder import encode_basestring

from django.db import models

VERSION = 1
GENESIS = "0" * 64
_sha256 = hashlib.sha256


def _check_no_floats(value, path="data"):
    if isinstance(value, float):
        raise ValueError(f"{path} holds a float; audit data takes strings or integers")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path} has a non-string key {key!r}")
            _check_no_floats(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_no_floats(item, f"{path}[{i}]")


def jsonable(value):
    """Turn model field values into JSON the ledger can hash the same way forever."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        raise ValueError("audit data takes no floats")
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return str(value)


def snapshot(instance, fields) -> dict:
    """Field values of instance (foreign keys as ids) ready for `changes`."""
    out = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attname = getattr(field, "attname", name)
        out[name] = jsonable(getattr(instance, attname))
    return out


def changes(before: dict, after: dict) -> dict:
    """{"field": {"before": old, "after": new}} for each field whose value differs."""
    keys = sorted(set(before) | set(after))
    return {
        key: {"before": jsonable(before.get(key)), "after": jsonable(after.get(key))}
        for key in keys
        if jsonable(before.get(key)) != jsonable(after.get(key))
    }


def dumps_data(payload) -> str:
    """The canonical JSON text of event data: what the data column stores and the hash covers."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sqlite_time(raw: str) -> str:
    """Django stores datetimes in SQLite as naive UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]'."""
    return f"{raw[:10]}T{raw[11:19]}.{raw[20:26] if len(raw) > 19 else '000000'}Z"


def _s(value) -> str:
    return "null" if value is None else encode_basestring(value)


def canonical_parts(
    *,
    version: int,
    actor_type: str,
    actor_id: int | None,
    actor_label: str,
    action: str,
    target_type: str,
    target_id: str,
    target_label: str,
    data_text: str,
    ip: str | None,
    user_agent: str | None,
    request_id: str | None,
) -> tuple[str, str, str]:
    """The canonical text around seq and time: head + str(seq) + mid + time + tail."""
    return (
        canonical_head(
            actor_type=actor_type,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            data_text=data_text,
            ip=ip,
            request_id=request_id,
        ),
        canonical_mid(target_type, target_id, target_label),
        canonical_tail(user_agent, version),
    )


# The three parts separately, so a batch of events that share an actor, action, data and request
# (an offboarding's owner changes) builds the head and tail once and only the target per event.
def canonical_head(*, actor_type, actor_id, actor_label, action, data_text, ip, request_id) -> str:
    return (
        f'{{"action":{encode_basestring(action)},"actor":{{"id":'
        f'{"null" if actor_id is None else int(actor_id)},"label":{encode_basestring(actor_label)},'
        f'"type":{encode_basestring(actor_type)}}},"data":{data_text},"ip":{_s(ip)},'
        f'"request_id":{_s(request_id)},"seq":'
    )


def canonical_mid(target_type: str, target_id: str, target_label: str) -> str:
    return (
        f',"target":{{"id":{encode_basestring(target_id)},"label":'
        f'{encode_basestring(target_label)},"type":{encode_basestring(target_type)}}},"time":"'
    )


def canonical_tail(user_agent: str | None, version: int) -> str:
    return f'","user_agent":{_s(user_agent)},"v":{int(version)}}}'


def canonical(event) -> bytes:
    """The bytes hashed for an event (an AuditEvent or anything with the same attributes)."""
    data = event.data if isinstance(event.data, str) else dumps_data(event.data)
    head, mid, tail = canonical_parts(
        version=event.version,
        actor_type=event.actor_type,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        target_label=event.target_label,
        data_text=data,
        ip=event.ip,
        user_agent=event.user_agent,
        request_id=event.request_id,
    )
    return f"{head}{int(event.seq)}{mid}{format_time(event.created_at)}{tail}".encode()


def reference_canonical(event) -> bytes:
    """The version 1 definition, spelled with json.dumps; tests compare it with `canonical`."""
    data = json.loads(event.data) if isinstance(event.data, str) else event.data
    body = {
        "v": event.version,
        "seq": event.seq,
        "time": format_time(event.created_at),
        "actor": {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label},
        "action": event.action,
        "target": {"type": event.target_type, "id": event.target_id, "label": event.target_label},
        "data": data,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, canonical_bytes: bytes) -> str:
    return _sha256(bytes.fromhex(prev_hash) + canonical_bytes).hexdigest()
