"""Database guards of the conversation record, as the audit ledger is guarded (audit/ddl.py).

What a person said stays as it was recorded, whatever statement reaches the database:

- messages: never deleted; their conversation, direction, author, client id and time never
  change; a retraction is never undone; the text changes only by an edit, whose earlier version
  is stored as a revision in the same transaction (a revision holding the old text, stamped with
  the edit's time) — comms.services.edits does exactly that;
- revisions (earlier versions): never changed or deleted;
- files: never deleted; their message, conversation, name, size, stored path and SHA-256 never
  change;
- tombstones (comms.services.purge, since migration 0008): the one sanctioned removal of text.
  Purging sets `purged_at`, empties the text and keeps its SHA-256 in `body_sha256` (the guard
  recomputes it from the old text); a revision is purged only once its message is; a file's
  row is marked purged (its bytes are deleted from storage, outside the database). A tombstone
  is never un-purged nor changed again;
- the customer's copies (since 0009): a redacted text changes only with the text (an edit, a
  purge), a redacted file name never.

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

# The SQL of a text's SHA-256 in lowercase hex, as hashlib's of its UTF-8 (SQLite: the SHA256
# function Django registers on each of its connections).
_SHA256 = {
    "postgresql": "encode(sha256(convert_to({}, 'UTF8')), 'hex')",
    "sqlite": "SHA256({})",
}


def _message_kept(vendor: str) -> str:
    """When an UPDATE of a message is refused. A tombstone (purged_at set) never changes again;
    purging empties the text and keeps its digest, nothing else; otherwise the digest column
    stays empty and the text changes only by an edit that stored a revision."""
    sha = _SHA256[vendor].format("OLD.body")
    return (
        "NEW.conversation_id IS DISTINCT FROM OLD.conversation_id"
        " OR NEW.direction IS DISTINCT FROM OLD.direction"
        " OR NEW.client_id IS DISTINCT FROM OLD.client_id"
        " OR NEW.created_at IS DISTINCT FROM OLD.created_at"
        " OR NEW.author_user_id IS DISTINCT FROM OLD.author_user_id"
        " OR NEW.author_contact_id IS DISTINCT FROM OLD.author_contact_id"
        " OR (OLD.retracted AND NOT NEW.retracted)"
        " OR (OLD.purged_at IS NOT NULL AND (NEW.purged_at IS DISTINCT FROM OLD.purged_at"
        " OR NEW.body IS DISTINCT FROM OLD.body"
        " OR NEW.body_sha256 IS DISTINCT FROM OLD.body_sha256))"
        " OR (OLD.purged_at IS NULL AND NEW.purged_at IS NOT NULL"
        " AND NOT (NEW.body = '' AND NEW.body_sha256 = @OLD_BODY_SHA256@))"
        " OR (NEW.purged_at IS NULL AND NEW.body_sha256 IS DISTINCT FROM OLD.body_sha256)"
        " OR (NEW.purged_at IS NULL AND NEW.body IS DISTINCT FROM OLD.body"
        " AND NOT EXISTS (SELECT 1 FROM comms_messagerevision r WHERE r.message_id = OLD.id"
        " AND r.body = OLD.body AND r.edited_at = NEW.edited_at))"
        # What the customer got (a redacted copy, comms.outbound_checks) changes only with the
        # text itself: by an edit, or emptied by a purge.
        " OR (NEW.customer_body IS DISTINCT FROM OLD.customer_body"
        " AND NEW.body IS NOT DISTINCT FROM OLD.body)"
    ).replace("@OLD_BODY_SHA256@", sha)


def _revision_kept(vendor: str) -> str:
    """When an UPDATE of a revision is refused: always, but purging it once its message is a
    tombstone (the text emptied, its digest kept)."""
    sha = _SHA256[vendor].format("OLD.body")
    return (
        "NOT (OLD.purged_at IS NULL AND NEW.purged_at IS NOT NULL"
        " AND NEW.body = '' AND NEW.body_sha256 = @OLD_BODY_SHA256@"
        " AND NEW.message_id = OLD.message_id AND NEW.editor_id = OLD.editor_id"
        " AND NEW.edited_at = OLD.edited_at AND EXISTS (SELECT 1 FROM comms_message m"
        " WHERE m.id = OLD.message_id AND m.purged_at IS NOT NULL))"
    ).replace("@OLD_BODY_SHA256@", sha)


_FILE_KEPT = (
    "NEW.message_id IS DISTINCT FROM OLD.message_id"
    " OR NEW.conversation_id IS DISTINCT FROM OLD.conversation_id"
    " OR NEW.name IS DISTINCT FROM OLD.name OR NEW.size IS DISTINCT FROM OLD.size"
    " OR NEW.file IS DISTINCT FROM OLD.file OR NEW.sha256 IS DISTINCT FROM OLD.sha256"
    " OR (OLD.purged_at IS NOT NULL AND NEW.purged_at IS DISTINCT FROM OLD.purged_at)"
    # The file's name as the customer got it never changes.
    " OR NEW.customer_name IS DISTINCT FROM OLD.customer_name"
)
REFUSED = "the conversation record is kept: % on % is refused"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION keepline_record_guard() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('{MAINTENANCE_SETTING}', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- Nested: a condition names the columns of its own table only.
        IF TG_TABLE_NAME = '{MESSAGE}' THEN
            IF NOT ({_message_kept("postgresql")}) THEN
                RETURN NEW;
            END IF;
        ELSIF TG_TABLE_NAME = '{REVISION}' THEN
            IF NOT ({_revision_kept("postgresql")}) THEN
                RETURN NEW;
            END IF;
        ELSIF TG_TABLE_NAME = '{ATTACHMENT}' THEN
            IF NOT ({_FILE_KEPT}) THEN
                RETURN NEW;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION '{REFUSED}', TG_OP, TG_TABLE_NAME;
END
$fn$;
"""  # noqa: S608 - constant table names


def _pg(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_kept BEFORE UPDATE OR DELETE ON {table}"
        f" FOR EACH ROW EXECUTE FUNCTION keepline_record_guard();",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION keepline_record_guard();",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_kept;",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate;",
    ]


def _sqlite(table: str) -> list[str]:
    def trigger(op: str, when: str = "") -> str:
        message = REFUSED.replace("%", op, 1).replace("%", table, 1)
        return (
            f"CREATE TRIGGER IF NOT EXISTS {table}_kept_{op.lower()} BEFORE {op} ON {table}"
            f"{f' WHEN {when}' if when else ''} BEGIN SELECT RAISE(ABORT, '{message}'); END;"
        )

    update_when = {
        MESSAGE: _message_kept("sqlite"),
        REVISION: _revision_kept("sqlite"),
        ATTACHMENT: _FILE_KEPT,
    }[table]
    return [trigger("UPDATE", update_when), trigger("DELETE")]


def guard_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [PG_FUNCTION, *(sql for table in TABLES for sql in _pg(table))]
    if vendor == "sqlite":
        return [sql for table in TABLES for sql in _sqlite(table)]
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


def install(connection) -> None:
    with connection.cursor() as cursor:
        for sql in guard_sql(connection.vendor):
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
