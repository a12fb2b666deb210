"""A staff message marked urgent notifies colleagues outside their working hours at once
(accounts.notifications); the guards are off while SQLite remakes the table, on again after."""

from django.db import migrations, models

from comms import ddl


def install(apps, schema_editor):
    ddl.install(schema_editor.connection)


def remove(apps, schema_editor):
    ddl.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("comms", "0009_message_customer_text")]

    operations = [
        migrations.RunPython(remove, install),
        migrations.AddField(
            model_name="message",
            name="urgent",
            field=models.BooleanField(default=False, verbose_name="urgent"),
        ),
        migrations.RunPython(install, remove),
    ]
