from django.db import migrations

# name, probability %, won, lost
DEFAULT_STAGES = [
    ("New", 10, False, False),
    ("Qualified", 25, False, False),
    ("Proposal", 50, False, False),
    ("Negotiation", 75, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
]


def create_default_pipeline(apps, schema_editor):
    Pipeline = apps.get_model("crm", "Pipeline")
    Stage = apps.get_model("crm", "Stage")
    if Pipeline.objects.filter(is_default=True).exists():
        return
    pipeline = Pipeline.objects.create(name="Sales", is_default=True)
    Stage.objects.bulk_create(
        Stage(
            pipeline=pipeline,
            name=name,
            position=position,
            probability=probability,
            is_won=won,
            is_lost=lost,
        )
        for position, (name, probability, won, lost) in enumerate(DEFAULT_STAGES, start=1)
    )


def remove_default_pipeline(apps, schema_editor):
    Pipeline = apps.get_model("crm", "Pipeline")
    Stage = apps.get_model("crm", "Stage")
    Deal = apps.get_model("crm", "Deal")
    pipeline = Pipeline.objects.filter(name="Sales", is_default=True).first()
    if pipeline is None or Deal.objects.filter(pipeline=pipeline).exists():
        return
    Stage.objects.filter(pipeline=pipeline).delete()
    pipeline.delete()


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]

    operations = [migrations.RunPython(create_default_pipeline, remove_default_pipeline)]
