"""Database guards of messages, their earlier versions and files (comms/ddl.py; a change to that
SQL needs a new migration)."""

from django.db import migrations

from comms import ddl


def install(apps, schema_editor):
    ddl.install(schema_editor.connection, customer_copies=False)


def uninstall(apps, schema_editor):
    ddl.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("comms", "0006_message_failed_reason_inbound_attachments"),
        ("audit", "0003_append_function_immutability"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
