"""The customer's copy of a message's text and of a file's name, when an outbound check redacted
them (comms.outbound_checks); the record's guards (comms/ddl.py) keep both as written. The guards
are off while the tables change (SQLite remakes a table to add a column) and on again after."""

from django.db import migrations, models

from comms import ddl


def install(apps, schema_editor):
    ddl.install(schema_editor.connection)


def remove(apps, schema_editor):
    ddl.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("comms", "0008_message_tombstones")]

    operations = [
        migrations.RunPython(remove, install),
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
        migrations.RunPython(install, remove),
    ]
