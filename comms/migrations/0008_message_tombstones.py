"""Tombstones: a purged message keeps its id, time, author and its text's SHA-256 (body_sha256),
its revisions likewise, a purged file its row; the record's guards (comms/ddl.py) re-created
with the one sanctioned path that empties a text (comms.services.purge).

On a new database 0007 already installs the guards of today's comms/ddl.py, naming these columns
before they exist (SQLite then refuses to remake the tables): so the guards are dropped first,
the columns added, and the guards installed again."""

from django.db import migrations, models

from comms import ddl


def install(apps, schema_editor):
    ddl.install(schema_editor.connection)


def remove(apps, schema_editor):
    # Backwards, the database is left without guards: they would name columns that are gone.
    ddl.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("comms", "0007_record_guards"),
    ]

    operations = [
        migrations.RunPython(remove, migrations.RunPython.noop),
        migrations.AddField(
            model_name="attachment",
            name="purged_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="purged"
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="body_sha256",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="message",
            name="purged_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="purged"
            ),
        ),
        migrations.AddField(
            model_name="messagerevision",
            name="body_sha256",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="messagerevision",
            name="purged_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="purged"
            ),
        ),
        migrations.RunPython(install, remove),
    ]
