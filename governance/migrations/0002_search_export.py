"""Saved searches, export jobs, and on PostgreSQL the full-text indexes of message texts and their
earlier versions (governance.search: the 'simple' configuration, so Spanish, Portuguese and
English words all match as written, lowercased)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from governance import fts


def create_fts_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # elsewhere governance.search matches with icontains
    for sql in fts.create_sql():
        schema_editor.execute(sql)


def drop_fts_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in fts.drop_sql():
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0001_initial"),
        ("comms", "0007_record_guards"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ExportJob",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("params", models.JSONField(default=dict, verbose_name="search")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("running", "Running"),
                            ("done", "Ready"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                (
                    "done",
                    models.PositiveBigIntegerField(default=0, verbose_name="messages written"),
                ),
                ("total", models.PositiveBigIntegerField(default=0, verbose_name="messages")),
                (
                    "conversations",
                    models.PositiveBigIntegerField(default=0, verbose_name="conversations"),
                ),
                ("file_path", models.CharField(blank=True, max_length=500, verbose_name="file")),
                ("size", models.PositiveBigIntegerField(default=0, verbose_name="size")),
                ("sha256", models.CharField(blank=True, max_length=64, verbose_name="SHA-256")),
                ("error", models.TextField(blank=True, verbose_name="error")),
                (
                    "created_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="requested"
                    ),
                ),
                ("started_at", models.DateTimeField(blank=True, null=True, verbose_name="started")),
                (
                    "finished_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="finished"),
                ),
                (
                    "requester",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="export_jobs",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "export",
                "verbose_name_plural": "exports",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["requester", "-created_at"], name="governance_export_req")
                ],
            },
        ),
        migrations.CreateModel(
            name="SavedSearch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, verbose_name="name")),
                ("params", models.JSONField(default=dict, verbose_name="search")),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="saved"),
                ),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="saved_searches",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "saved search",
                "verbose_name_plural": "saved searches",
                "ordering": ["name", "id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("owner", "name"), name="governance_search_owner_name"
                    )
                ],
            },
        ),
        migrations.RunPython(create_fts_indexes, drop_fts_indexes),
    ]
