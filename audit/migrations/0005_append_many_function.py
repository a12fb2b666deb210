"""PostgreSQL: keepline_audit_append_many, the batch append behind audit.record_many.

The SQL lives in audit/ddl.py (frozen: a change to it needs a new migration). SQLite appends in
Python and needs nothing here.
"""

from django.db import migrations

from audit import ddl


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(ddl.PG_APPEND_MANY_FUNCTION)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(ddl.PG_DROP_APPEND_MANY_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_checkpoint_one_per_seq_and_key")]

    operations = [migrations.RunPython(install, uninstall)]
