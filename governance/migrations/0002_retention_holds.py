"""Retention policies and legal holds (issue 14, points 1 and 2)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('comms', '0008_message_tombstones'),
        ('crm', '0005_contact_is_new'),
        ('governance', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='LegalHold',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('scope', models.CharField(choices=[('user', 'Staff member'), ('contact', 'Contact'), ('company', 'Company'), ('deal', 'Deal'), ('conversation', 'Conversation'), ('time_range', 'Time range')], max_length=16, verbose_name='scope')),
                ('since', models.DateTimeField(blank=True, null=True, verbose_name='from')),
                ('until', models.DateTimeField(blank=True, null=True, verbose_name='until')),
                ('matter', models.CharField(max_length=200, verbose_name='matter')),
                ('reason', models.TextField(verbose_name='reason')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='placed')),
                ('released_at', models.DateTimeField(blank=True, null=True, verbose_name='released')),
                ('release_reason', models.TextField(blank=True, verbose_name='release reason')),
                ('company', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crm.company', verbose_name='company')),
                ('contact', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crm.contact', verbose_name='contact')),
                ('conversation', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='comms.conversation', verbose_name='conversation')),
                ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='placed by')),
                ('deal', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crm.deal', verbose_name='deal')),
                ('released_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='released by')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='staff member')),
            ],
            options={
                'verbose_name': 'legal hold',
                'verbose_name_plural': 'legal holds',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(condition=models.Q(('released_at__isnull', True)), fields=['scope'], name='gov_hold_active_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('scope', 'user'), ('user__isnull', False)), models.Q(('contact__isnull', False), ('scope', 'contact')), models.Q(('company__isnull', False), ('scope', 'company')), models.Q(('deal__isnull', False), ('scope', 'deal')), models.Q(('conversation__isnull', False), ('scope', 'conversation')), models.Q(('scope', 'time_range'), ('since__isnull', False), ('until__isnull', False)), _connector='OR'), name='gov_hold_scope_target'), models.CheckConstraint(condition=models.Q(('since__isnull', True), ('until__isnull', True), ('since__lte', models.F('until')), _connector='OR'), name='gov_hold_range_order')],
            },
        ),
        migrations.CreateModel(
            name='RetentionPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('record_class', models.CharField(choices=[('messages:web', 'Messages: web chat'), ('messages:whatsapp', 'Messages: WhatsApp'), ('messages:sms', 'Messages: SMS'), ('messages:email', 'Messages: email'), ('messages:internal', 'Messages: internal'), ('attachments', 'Files'), ('closed_conversations', 'Closed conversations'), ('audit_events', 'Audit events')], max_length=32, unique=True, verbose_name='record class')),
                ('period_days', models.PositiveIntegerField(verbose_name='kept for (days)')),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='changed')),
                ('updated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='changed by')),
            ],
            options={
                'verbose_name': 'retention policy',
                'verbose_name_plural': 'retention policies',
                'ordering': ['record_class'],
                'constraints': [models.CheckConstraint(condition=models.Q(('period_days__gte', 1)), name='gov_retention_period_positive')],
            },
        ),
    ]
