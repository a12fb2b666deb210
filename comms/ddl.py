"""Database guards of the conversation record, as the audit ledger is guarded (audit/ddl.py).

What a person said stays as it was recorded, whatever statement reaches the database:

- messages: never deleted; their conversation, direction, author, client id and time never
  change; a retraction is never undone; the text changes only by an edit, whose earlier version
  is stored as a revision in the same transaction (a revision holding the old text, stamped with
  the edit's time) — comms.services.edits does exactly that;
- revisions (earlier versions): never changed or deleted;
- files: never deleted; their message, conversation, name, size, stored path and SHA-256 never
  change.

Delivery status, change numbers, the provider's id and retraction marks still move, through the
services' own statements. TRUNCATE yields only to `keepline.audit_maintenance = 'on'` (the test
suite's flush), as the ledger's does. As there, the role that owns the tables can drop the
triggers: `verify_audit` then still names a changed text or file (comms/integrity.py).
"""

from audit.ddl import MAINTENANCE_SETTING

MESSAGE = "comms_message"
REVISION = "comms_messagerevision"
ATTACHMENT = "comms_attachment"
TABLES = (MESSAGE, REVISION, ATTACHMENT)

_MESSAGE_KEPT = (
    "NEW.conversation_id IS DISTINCT FROM OLD.conversation_id"
    " OR NEW.direction IS DISTINCT FROM OLD.direction"
    " OR NEW.client_id IS DISTINCT FROM OLD.client_id"
    " OR NEW.created_at IS DISTINCT FROM OLD.created_at"
    " OR NEW.author_user_id IS DISTINCT FROM OLD.author_user_id"
    " OR NEW.author_contact_id IS DISTINCT FROM OLD.author_contact_id"
    " OR (OLD.retracted AND NOT NEW.retracted)"
    " OR (NEW.body IS DISTINCT FROM OLD.body AND NOT EXISTS (SELECT 1 FROM comms_messagerevision"
    " r WHERE r.message_id = OLD.id AND r.body = OLD.body AND r.edited_at = NEW.edited_at))"
)
_FILE_KEPT = (
    "NEW.message_id IS DISTINCT FROM OLD.message_id"
    " OR NEW.conversation_id IS DISTINCT FROM OLD.conversation_id"
    " OR NEW.name IS DISTINCT FROM OLD.name OR NEW.size IS DISTINCT FROM OLD.size"
    " OR NEW.file IS DISTINCT FROM OLD.file OR NEW.sha256 IS DISTINCT FROM OLD.sha256"
)
# Since comms 0008: what the customer got (a redacted copy) changes only with the text itself,
# by an edit; a file's name for the customer never changes.
_MESSAGE_CUSTOMER_KEPT = (
    " OR (NEW.customer_body IS DISTINCT FROM OLD.customer_body"
    " AND NEW.body IS NOT DISTINCT FROM OLD.body)"
)
_FILE_CUSTOMER_KEPT = " OR NEW.customer_name IS DISTINCT FROM OLD.customer_name"
REFUSED = "the conversation record is kept: % on % is refused"


def _pg_function(message_kept: str, file_kept: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION keepline_record_guard() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('{MAINTENANCE_SETTING}', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- Nested: a condition names the columns of its own table only.
        IF TG_TABLE_NAME = '{MESSAGE}' THEN
            IF NOT ({message_kept}) THEN
                RETURN NEW;
            END IF;
        ELSIF TG_TABLE_NAME = '{ATTACHMENT}' THEN
            IF NOT ({file_kept}) THEN
                RETURN NEW;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION '{REFUSED}', TG_OP, TG_TABLE_NAME;
END
$fn$;
"""  # noqa: S608 - constant table names


def _kept(customer_copies: bool) -> tuple[str, str]:
    if not customer_copies:
        return _MESSAGE_KEPT, _FILE_KEPT
    return _MESSAGE_KEPT + _MESSAGE_CUSTOMER_KEPT, _FILE_KEPT + _FILE_CUSTOMER_KEPT


def _pg(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_kept BEFORE UPDATE OR DELETE ON {table}"
        f" FOR EACH ROW EXECUTE FUNCTION keepline_record_guard();",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION keepline_record_guard();",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_kept;",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate;",
    ]


def _sqlite(table: str, customer_copies: bool = True) -> list[str]:
    def trigger(op: str, when: str = "") -> str:
        message = REFUSED.replace("%", op, 1).replace("%", table, 1)
        return (
            f"CREATE TRIGGER IF NOT EXISTS {table}_kept_{op.lower()} BEFORE {op} ON {table}"
            f"{f' WHEN {when}' if when else ''} BEGIN SELECT RAISE(ABORT, '{message}'); END;"
        )

    message_kept, file_kept = _kept(customer_copies)
    update_when = {MESSAGE: message_kept, ATTACHMENT: file_kept}.get(table, "")
    return [trigger("UPDATE", update_when), trigger("DELETE")]


def guard_sql(vendor: str, *, customer_copies: bool = True) -> list[str]:
    """The guards' SQL; `customer_copies=False`: as comms 0007 installed them (before the
    customer's copies of text and file names existed)."""
    if vendor == "postgresql":
        function = _pg_function(*_kept(customer_copies))
        return [function, *(sql for table in TABLES for sql in _pg(table))]
    if vendor == "sqlite":
        return [sql for table in TABLES for sql in _sqlite(table, customer_copies)]
    return []


def remove_guard_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        drops = [
            f"DROP TRIGGER IF EXISTS {table}_{name} ON {table};"
            for table in TABLES
            for name in ("kept", "no_truncate")
        ]
        return [*drops, "DROP FUNCTION IF EXISTS keepline_record_guard();"]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_kept_{op};"
            for table in TABLES
            for op in ("update", "delete")
        ]
    return []


def install(connection, *, customer_copies: bool = True) -> None:
    with connection.cursor() as cursor:
        for sql in guard_sql(connection.vendor, customer_copies=customer_copies):
            cursor.execute(sql)


def remove(connection) -> None:
    with connection.cursor() as cursor:
        for sql in remove_guard_sql(connection.vendor):
            cursor.execute(sql)


def ensure_sqlite_guards(sender=None, using="default", **kwargs) -> None:
    """post_migrate: SQLite drops a table's triggers when a migration remakes the table (and the
    test suite's flush, a DELETE, runs without them)."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    if set(TABLES) <= set(connection.introspection.table_names()):
        install(connection)
