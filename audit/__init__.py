"""The audit ledger. `audit.record(...)` and `audit.record_many(...)` are the only ways to write
to it."""

SYSTEM = "system"
ANONYMOUS = "anonymous"


def record(**kwargs):
    from audit.services import record as _record

    return _record(**kwargs)


def record_many(events, *, returning: bool = True):
    from audit.services import record_many as _record_many

    return _record_many(events, returning=returning)


def changes(before: dict, after: dict) -> dict:
    from audit.serialization import changes as _changes

    return _changes(before, after)


def snapshot(instance, fields) -> dict:
    from audit.serialization import snapshot as _snapshot

    return _snapshot(instance, fields)
