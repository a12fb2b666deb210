"""Demo data for `make run`: safe to run again, it converges to the same data.

Here, in the top app, because it seeds every app: the organisation (accounts), the CRM records
(crm) and the conversations (comms)."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import demo as accounts_demo
from comms import demo as comms_demo
from crm import demo as crm_demo


class Command(BaseCommand):
    help = "Create or refresh the demo organisation, CRM records and conversations (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        people = accounts_demo.seed()
        crm_demo.seed(people, self.stdout)
        comms_demo.seed(people, self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo organisation ready. Sign in as:"))
        for username, first, last, role, *_ in accounts_demo.PEOPLE:
            self.stdout.write(f"  {username:<11} {first} {last} ({role})")
        if settings.DEBUG:
            self.stdout.write(f"Demo password for every account: {accounts_demo.DEMO_PASSWORD}")
        else:
            self.stdout.write("DEBUG is off: the demo password is not shown.")
