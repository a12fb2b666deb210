"""Test helpers: run verify_audit, and tamper with the ledger the way an attacker with SQL would."""

import json
from contextlib import contextmanager
from io import StringIO

from django.core.management import CommandError, call_command
from django.db import connection

from audit import ddl
from audit.serialization import chain_hash
from audit.verification import row_canonical

EVENTS = ddl.EVENT_TABLE


def verify(*args) -> tuple[int, str]:
    """(exit code, the ledger's line printed, or the error) of `manage.py verify_audit *args`."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue().strip().splitlines()[0]


def sql(statement: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


@contextmanager
def triggers_off():
    """What a superuser (PostgreSQL) or anyone holding the file (SQLite) can do."""
    if connection.vendor == "postgresql":
        for table in ddl.IMMUTABLE_TABLES:
            sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield
        for table in ddl.IMMUTABLE_TABLES:
            for trigger in (f"{table}_append_only", f"{table}_no_truncate"):
                sql(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")
    else:
        ddl.remove_immutability(connection)
        yield
        ddl.install_immutability(connection)


def renumber(old: int, new: int) -> None:
    sql(f"UPDATE {EVENTS} SET seq = %s WHERE seq = %s", [new, old])


def shift_up_from(seq: int) -> None:
    """Make room at seq by moving every later event up by one (two steps: seq is the key)."""
    sql(f"UPDATE {EVENTS} SET seq = -seq - 1 WHERE seq >= %s", [seq])
    sql(f"UPDATE {EVENTS} SET seq = -seq WHERE seq < 0")


def raw_row(seq: int):
    from audit.verification import _Ledger

    rows = _Ledger("default").rows_from(seq, 1)
    assert rows and rows[0][0] == seq
    return rows[0]


def forge_event(seq: int, prev_hash: str, *, valid_hash: bool = True) -> str:
    """Insert a made-up event at seq, hashed correctly (the algorithm is public) or not."""
    data = json.dumps({"forged": True}, separators=(",", ":"))
    sql(
        f"INSERT INTO {EVENTS} (seq, version, created_at, actor_type, actor_id, actor_label,"
        " action, target_type, target_id, target_label, data, ip, user_agent, request_id,"
        " prev_hash, hash) VALUES (%s, 1, %s, 'system', NULL, 'system', 'accounts.user.created',"
        " '', '', '', %s, NULL, NULL, NULL, %s, %s)",
        [seq, "2026-01-01 00:00:00", data, prev_hash, f"{seq:064x}"],
    )
    if valid_hash:
        row = raw_row(seq)
        good = chain_hash(prev_hash, row_canonical(row))
        sql(f"UPDATE {EVENTS} SET hash = %s WHERE seq = %s", [good, seq])
        return good
    return f"{seq:064x}"


def recompute_chain_from(seq: int) -> None:
    """Rewrite every hash from seq on so the chain is internally consistent again."""
    prev = sql(f"SELECT hash FROM {EVENTS} WHERE seq = %s", [seq - 1])[0][0]
    for (s,) in sql(f"SELECT seq FROM {EVENTS} WHERE seq >= %s ORDER BY seq", [seq]):
        sql(f"UPDATE {EVENTS} SET prev_hash = %s WHERE seq = %s", [prev, s])
        new = chain_hash(prev, row_canonical(raw_row(s)))
        sql(f"UPDATE {EVENTS} SET hash = %s WHERE seq = %s", [new, s])
        prev = new
    sql(f"UPDATE {ddl.HEAD_TABLE} SET hash = %s WHERE id = 1", [prev])
