"""Canonical, versioned bytes of an audit event, and the chain hash over them.

Version 1: JSON with sorted keys, no insignificant whitespace, UTF-8, no floats (a float in event
data is refused when recorded: money and measures go in as strings or integers).
hash = SHA-256(bytes.fromhex(prev_hash) || canonical bytes), hex-encoded; the first event's
prev_hash is 64 zeros.
"""

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal

from django.db import models

VERSION = 1
GENESIS = "0" * 64


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


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(event) -> bytes:
    """The bytes hashed for an event (an AuditEvent or anything with the same attributes)."""
    body = {
        "v": event.version,
        "seq": event.seq,
        "time": format_time(event.created_at),
        "actor": {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label},
        "action": event.action,
        "target": {"type": event.target_type, "id": event.target_id, "label": event.target_label},
        "data": event.data,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, canonical_bytes: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_bytes).hexdigest()
