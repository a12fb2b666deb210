"""Demo channel accounts for `make run`, after seed_demo (connectors sits above comms, whose
seed_demo cannot import it). Idempotent."""

from django.core.management.base import BaseCommand

from accounts.models import User
from connectors import demo


class Command(BaseCommand):
    help = "Create the demo WhatsApp account (pointing at channel_simulator) and its customer."

    def handle(self, *args, **options):
        people = {u.username: u for u in User.objects.filter(username="rep1")}
        demo.seed(people, self.stdout)
