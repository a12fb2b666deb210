"""One checkpoint per (seq, public_key): a requeued Celery run used to sign the same head again.

Before the constraint can hold, redundant copies already written are removed: for each head and
key the first checkpoint is kept. The copies are statements about the same (seq, head_hash) by
the same key, so nothing verifiable is lost (verify_audit checks the chain against any one of
them, and checkpoint files kept outside the database are not touched). The append-only trigger
is lifted for that DELETE alone, inside this migration's transaction, and only when copies
exist.
"""

from django.db import migrations, models

TABLE = "audit_auditcheckpoint"
DUPLICATES = f"""
    SELECT id FROM {TABLE} AS c
    WHERE EXISTS (
        SELECT 1 FROM {TABLE} AS first
        WHERE first.seq = c.seq AND first.public_key = c.public_key AND first.id < c.id
    )
"""  # noqa: S608 - a constant table name


def remove_duplicate_checkpoints(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(DUPLICATES)
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TABLE}_append_only")
            cursor.execute(f"DELETE FROM {TABLE} WHERE id = ANY(%s)", [ids])  # noqa: S608
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER {TABLE}_append_only")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_delete")
            placeholders = ", ".join(["%s"] * len(ids))
            cursor.execute(f"DELETE FROM {TABLE} WHERE id IN ({placeholders})", ids)  # noqa: S608
            # Put back by audit.ddl.ensure_sqlite_triggers after migrate (AddConstraint remakes
            # the table on SQLite, which drops its triggers anyway).


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_function_immutability")]

    operations = [
        migrations.RunPython(remove_duplicate_checkpoints, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="auditcheckpoint",
            constraint=models.UniqueConstraint(
                fields=("seq", "public_key"), name="audit_checkpoint_one_per_seq_and_key"
            ),
        ),
    ]
