"""Database-side pieces of the ledger: the PostgreSQL append function and the immutability triggers.

Migrations install these; `install_immutability`/`remove_immutability` are also used by the test
suite on SQLite, whose table flush is a DELETE (see tests/conftest.py), and by a post_migrate hook
that puts SQLite's triggers back after any later migration remakes an audit table.

What the triggers do and do not protect against: they stop the application (an ORM bug, a stray
UPDATE in a shell, a SQL injection that can run DML) from changing or removing ledger rows, and on
PostgreSQL they are ENABLE ALWAYS so `SET session_replication_role = replica` does not skip them.
TRUNCATE is refused unless the session has set `keepline.audit_maintenance = 'on'`; that is how
the test suite empties tables between transactional tests. The role that owns the tables can
disable or drop triggers and a superuser can do anything; run the application as a role that does
not own the tables, and keep signed checkpoints outside the database, which is what detects a
rewrite by someone who got past the triggers.
"""

EVENT_TABLE = "audit_auditevent"
CHECKPOINT_TABLE = "audit_auditcheckpoint"
HEAD_TABLE = "audit_auditchainhead"
IMMUTABLE_TABLES = (EVENT_TABLE, CHECKPOINT_TABLE)
MAINTENANCE_SETTING = "keepline.audit_maintenance"

# One round trip per append: lock the head, number, time and hash the event, insert it and move
# the head. The client sends the canonical text around seq and time (audit.serialization
# .canonical_parts), so both databases hash the same bytes and PostgreSQL only concatenates.
PG_APPEND_FUNCTION = f"""
CREATE OR REPLACE FUNCTION keepline_audit_append(
    p_version smallint, p_actor_type varchar, p_actor_id bigint, p_actor_label varchar,
    p_action varchar, p_target_type varchar, p_target_id varchar, p_target_label varchar,
    p_data text, p_ip varchar, p_user_agent varchar, p_request_id varchar,
    p_head text, p_mid text, p_tail text,
    OUT o_seq bigint, OUT o_created_at timestamptz, OUT o_prev_hash varchar, OUT o_hash varchar)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_head_seq bigint;
BEGIN
    SELECT seq, hash INTO v_head_seq, o_prev_hash FROM {HEAD_TABLE} WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        -- First event (or emptied tables): create the head from the last event, race-free.
        INSERT INTO {HEAD_TABLE} (id, seq, hash)
        SELECT 1,
               COALESCE((SELECT seq FROM {EVENT_TABLE} ORDER BY seq DESC LIMIT 1), 0),
               COALESCE((SELECT hash FROM {EVENT_TABLE} ORDER BY seq DESC LIMIT 1), repeat('0', 64))
        ON CONFLICT (id) DO NOTHING;
        SELECT seq, hash INTO v_head_seq, o_prev_hash FROM {HEAD_TABLE} WHERE id = 1 FOR UPDATE;
    END IF;
    o_seq := v_head_seq + 1;
    o_created_at := clock_timestamp();
    o_hash := encode(sha256(decode(o_prev_hash, 'hex') || convert_to(
        p_head || o_seq::text || p_mid
        || to_char(o_created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || p_tail, 'UTF8')), 'hex');
    INSERT INTO {EVENT_TABLE} (seq, version, created_at, actor_type, actor_id, actor_label,
        action, target_type, target_id, target_label, data, ip, user_agent, request_id,
        prev_hash, hash)
    VALUES (o_seq, p_version, o_created_at, p_actor_type, p_actor_id, p_actor_label,
        p_action, p_target_type, p_target_id, p_target_label, p_data, p_ip, p_user_agent,
        p_request_id, o_prev_hash, o_hash);
    UPDATE {HEAD_TABLE} SET seq = o_seq, hash = o_hash WHERE id = 1;
END
$fn$;
"""  # noqa: S608 - constant table names

PG_DROP_APPEND_FUNCTION = (
    "DROP FUNCTION IF EXISTS keepline_audit_append(smallint, varchar, bigint, varchar, varchar,"
    " varchar, varchar, varchar, text, varchar, varchar, varchar, text, text, text);"
)

# A batch in one call: the head is locked and read once, the chain computed in a loop (the same
# canonical text and hash as keepline_audit_append, a clock_timestamp() per row), the rows inserted
# by one INSERT and the head moved once. keepline_audit_append called once per row instead updates
# the head row once per event, and inside one transaction each lookup of the head walks every
# earlier version of that row: quadratic (20k events took 17 s). Returns one row per element, in
# array order.
PG_APPEND_MANY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION keepline_audit_append_many(
    p_version smallint[], p_actor_type varchar[], p_actor_id bigint[], p_actor_label varchar[],
    p_action varchar[], p_target_type varchar[], p_target_id varchar[], p_target_label varchar[],
    p_data text[], p_ip varchar[], p_user_agent varchar[], p_request_id varchar[],
    p_head text[], p_mid text[], p_tail text[])
RETURNS TABLE (o_ord bigint, o_seq bigint, o_created_at timestamptz, o_prev_hash varchar,
    o_hash varchar)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_n integer := coalesce(cardinality(p_head), 0);
    v_first bigint;
    v_seq bigint;
    v_hash varchar;
    v_time timestamptz;
    v_times timestamptz[] := '{{}}';
    v_prevs varchar[] := '{{}}';
    v_hashes varchar[] := '{{}}';
BEGIN
    IF v_n = 0 THEN
        RETURN;
    END IF;
    IF array_lower(p_head, 1) <> 1 OR array_lower(p_mid, 1) IS DISTINCT FROM 1
        OR array_lower(p_tail, 1) IS DISTINCT FROM 1 OR array_ndims(p_head) <> 1
        OR (v_n <> ANY (ARRAY[cardinality(p_version), cardinality(p_actor_type),
            cardinality(p_actor_id), cardinality(p_actor_label), cardinality(p_action),
            cardinality(p_target_type), cardinality(p_target_id), cardinality(p_target_label),
            cardinality(p_data), cardinality(p_ip), cardinality(p_user_agent),
            cardinality(p_request_id), cardinality(p_mid), cardinality(p_tail)])) IS NOT FALSE
    THEN
        RAISE EXCEPTION 'keepline_audit_append_many: arrays of different lengths';
    END IF;
    SELECT seq, hash INTO v_seq, v_hash FROM {HEAD_TABLE} WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        -- First event (or emptied tables): create the head from the last event, race-free.
        INSERT INTO {HEAD_TABLE} (id, seq, hash)
        SELECT 1,
               COALESCE((SELECT seq FROM {EVENT_TABLE} ORDER BY seq DESC LIMIT 1), 0),
               COALESCE((SELECT hash FROM {EVENT_TABLE} ORDER BY seq DESC LIMIT 1), repeat('0', 64))
        ON CONFLICT (id) DO NOTHING;
        SELECT seq, hash INTO v_seq, v_hash FROM {HEAD_TABLE} WHERE id = 1 FOR UPDATE;
    END IF;
    v_first := v_seq + 1;
    FOR i IN 1..v_n LOOP
        v_seq := v_seq + 1;
        v_time := clock_timestamp();
        v_prevs[i] := v_hash;
        v_hash := encode(sha256(decode(v_hash, 'hex') || convert_to(
            p_head[i] || v_seq::text || p_mid[i]
            || to_char(v_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            || p_tail[i], 'UTF8')), 'hex');
        v_times[i] := v_time;
        v_hashes[i] := v_hash;
    END LOOP;
    INSERT INTO {EVENT_TABLE} (seq, version, created_at, actor_type, actor_id, actor_label,
        action, target_type, target_id, target_label, data, ip, user_agent, request_id,
        prev_hash, hash)
    SELECT v_first + t.ord - 1, t.version, t.created_at, t.actor_type, t.actor_id, t.actor_label,
        t.action, t.target_type, t.target_id, t.target_label, t.data, t.ip, t.user_agent,
        t.request_id, t.prev_hash, t.hash
    FROM unnest(p_version, p_actor_type, p_actor_id, p_actor_label, p_action, p_target_type,
        p_target_id, p_target_label, p_data, p_ip, p_user_agent, p_request_id, v_times, v_prevs,
        v_hashes) WITH ORDINALITY AS t(version, actor_type, actor_id, actor_label, action,
        target_type, target_id, target_label, data, ip, user_agent, request_id, created_at,
        prev_hash, hash, ord);
    UPDATE {HEAD_TABLE} SET seq = v_seq, hash = v_hash WHERE id = 1;
    RETURN QUERY
        SELECT t.ord, v_first + t.ord - 1, t.created_at, t.prev_hash, t.hash
        FROM unnest(v_times, v_prevs, v_hashes) WITH ORDINALITY AS t(created_at, prev_hash, hash,
            ord)
        ORDER BY t.ord;
END
$fn$;
"""  # noqa: S608 - constant table names

PG_DROP_APPEND_MANY_FUNCTION = (
    "DROP FUNCTION IF EXISTS keepline_audit_append_many(smallint[], varchar[], bigint[],"
    " varchar[], varchar[], varchar[], varchar[], varchar[], text[], varchar[], varchar[],"
    " varchar[], text[], text[], text[]);"
)

PG_IMMUTABLE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION keepline_audit_immutable() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('{MAINTENANCE_SETTING}', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME;
END
$fn$;
"""


def _pg_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
        f" FOR EACH ROW EXECUTE FUNCTION keepline_audit_immutable();",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION keepline_audit_immutable();",
        # ALWAYS: fire even under session_replication_role = replica.
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only;",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate;",
    ]


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN"
        f" SELECT RAISE(ABORT, 'the audit ledger is append-only: {op} on {table} is refused');"
        f" END;"
        for op in ("UPDATE", "DELETE")
    ]


def immutability_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = [PG_IMMUTABLE_FUNCTION]
        for table in IMMUTABLE_TABLES:
            statements += _pg_triggers(table)
        return statements
    if vendor == "sqlite":
        return [sql for table in IMMUTABLE_TABLES for sql in _sqlite_triggers(table)]
    return []


def remove_immutability_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = []
        for table in IMMUTABLE_TABLES:
            statements.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
            statements.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};")
        return [*statements, "DROP FUNCTION IF EXISTS keepline_audit_immutable();"]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_{op};"
            for table in IMMUTABLE_TABLES
            for op in ("update", "delete")
        ]
    return []


def install_immutability(connection) -> None:
    with connection.cursor() as cursor:
        for sql in immutability_sql(connection.vendor):
            cursor.execute(sql)


def remove_immutability(connection) -> None:
    with connection.cursor() as cursor:
        for sql in remove_immutability_sql(connection.vendor):
            cursor.execute(sql)


def ensure_sqlite_triggers(sender=None, using="default", **kwargs) -> None:
    """post_migrate: SQLite drops a table's triggers when a migration remakes the table."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    if set(IMMUTABLE_TABLES) <= set(connection.introspection.table_names()):
        install_immutability(connection)
