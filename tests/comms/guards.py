"""Test helper: the conversation record's database guards off, as the tables' owner could."""

from contextlib import contextmanager

from django.db import connection

from comms import ddl


@contextmanager
def record_guards_off():
    """For what only the tables' owner can do: time travel in tests, or a tamper to detect."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The test's own inserts leave deferred foreign-key checks pending, which ALTER
            # TABLE refuses to run past: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in ddl.TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for table in ddl.TABLES:
                    for name in ("kept", "no_truncate"):
                        cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_{name}")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys' default
    else:
        ddl.remove(connection)
        try:
            yield
        finally:
            ddl.install(connection)
