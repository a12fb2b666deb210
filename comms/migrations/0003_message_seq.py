"""Per-conversation change numbers (docs/realtime.md, "Gap-free sync"): existing messages are
numbered in id order, staff and customer numberings apart, and each conversation's counters set
to its last number."""

from django.db import migrations, models
from django.db.models import Q


def number(apps, schema_editor):
    Conversation = apps.get_model("comms", "Conversation")
    Message = apps.get_model("comms", "Message")
    for conversation in Conversation.objects.only("pk", "kind").iterator():
        seq = customer_seq = 0
        rows = []
        for message in Message.objects.filter(conversation_id=conversation.pk).order_by("pk"):
            seq += 1
            message.seq = seq
            if conversation.kind != "internal" and message.direction != "note":
                customer_seq += 1
                message.customer_seq = customer_seq
            rows.append(message)
        Message.objects.bulk_update(rows, ["seq", "customer_seq"], batch_size=500)
        Conversation.objects.filter(pk=conversation.pk).update(
            seq=seq, customer_seq=customer_seq
        )


class Migration(migrations.Migration):
    dependencies = [("comms", "0002_message_system_client_id")]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="seq",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="conversation",
            name="customer_seq",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="message",
            name="seq",
            field=models.BigIntegerField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name="message",
            name="customer_seq",
            field=models.BigIntegerField(blank=True, null=True, editable=False),
        ),
        migrations.RunPython(number, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="message",
            name="seq",
            field=models.BigIntegerField(editable=False),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                fields=("conversation", "seq"), name="comms_message_conversation_seq"
            ),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                condition=Q(customer_seq__isnull=False),
                fields=("conversation", "customer_seq"),
                name="comms_message_conversation_customer_seq",
            ),
        ),
    ]
