"""PostgreSQL: the one-round-trip append function. Both databases: append-only triggers.

Branches on schema_editor.connection.vendor; the SQL lives in audit/ddl.py (frozen: a change to it
needs a new migration).
"""

from django.db import migrations

from audit import ddl


def install(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(ddl.PG_APPEND_FUNCTION)
        for sql in ddl.immutability_sql(connection.vendor):
            cursor.execute(sql)


def uninstall(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for sql in ddl.remove_immutability_sql(connection.vendor):
            cursor.execute(sql)
        if connection.vendor == "postgresql":
            cursor.execute(ddl.PG_DROP_APPEND_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_canonical_data_checkpoints")]

    operations = [migrations.RunPython(install, uninstall)]
