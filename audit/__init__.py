"""The audit ledger. `audit.record(...)` is the only way to write to it."""

SYSTEM = "system"
ANONYMOUS = "anonymous"


def record(**kwargs):
    from audit.services import record as _record

    return _record(**kwargs)


def changes(before: dict, after: dict) -> dict:
    from audit.serialization import changes as _changes

    return _changes(before, after)


def snapshot(instance, fields) -> dict:
    from audit.serialization import snapshot as _snapshot

    return _snapshot(instance, fields)
