"""The customer's copy of a message's text and of a file's name, when an outbound check redacted
them (comms.outbound_checks); the record's guards (comms/ddl.py) keep both as written."""

from django.db import migrations, models

from comms import ddl


def guards_without_copies(apps, schema_editor):
    ddl.remove(schema_editor.connection)
    ddl.install(schema_editor.connection, customer_copies=False)


def guards_with_copies(apps, schema_editor):
    ddl.remove(schema_editor.connection)
    ddl.install(schema_editor.connection)


def remove_guards(apps, schema_editor):
    ddl.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("comms", "0007_record_guards")]

    operations = [
        # Off while the tables change (SQLite remakes a table to add a column), on again after.
        migrations.RunPython(remove_guards, guards_without_copies),
        migrations.AddField(
            model_name="message",
            name="customer_body",
            field=models.TextField(blank=True, null=True, verbose_name="text for the customer"),
        ),
        migrations.AddField(
            model_name="attachment",
            name="customer_name",
            field=models.CharField(
                blank=True, max_length=255, null=True, verbose_name="file name for the customer"
            ),
        ),
        migrations.RunPython(guards_with_copies, remove_guards),
    ]
