from io import StringIO

from django.core.management import call_command

from crm.models import Company, Contact, Deal


def test_seed_demo_is_idempotent_and_fills_the_crm(db):
    call_command("seed_demo", stdout=StringIO())
    counts = (Company.objects.count(), Contact.objects.count(), Deal.objects.count())
    assert counts == (50, 200, 80)
    stages = set(Deal.objects.values_list("stage__name", flat=True))
    assert len(stages) >= 5
    owners = set(Deal.objects.values_list("owner__username", flat=True))
    assert owners == {"rep1", "rep2", "rep3", "rep4"}
    call_command("seed_demo", stdout=StringIO())
    assert (Company.objects.count(), Contact.objects.count(), Deal.objects.count()) == counts
