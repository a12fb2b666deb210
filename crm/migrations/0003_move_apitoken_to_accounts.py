"""API tokens belong to accounts now (accounts 0005_apitoken holds the model's state): the table
is renamed crm_apitoken -> accounts_apitoken with its rows, and crm forgets the model, without
dropping anything."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_default_pipeline"),
        ("accounts", "0005_apitoken"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="ApiToken", table="accounts_apitoken"),
            ],
            state_operations=[
                migrations.DeleteModel(name="ApiToken"),
            ],
        ),
    ]
