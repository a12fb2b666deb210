"""Demo organisation for `make run`: safe to run again, it converges to the same data."""

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import roles, services
from accounts.models import Team, User

DEMO_PASSWORD = "keepline-demo"

# username, first, last, role, title, manager username, team name
PEOPLE = [
    ("admin", "Ada", "Admin", roles.ADMIN, "Systems administrator", None, None),
    ("director", "Diana", "Duarte", roles.MANAGER, "Sales director", None, "Sales"),
    ("manager", "Marco", "Moreno", roles.MANAGER, "Sales manager", "director", "Field sales"),
    ("rep1", "Rita", "Ramos", roles.REP, "Account executive", "manager", "Field sales"),
    ("rep2", "Raul", "Reis", roles.REP, "Account executive", "manager", "Field sales"),
    ("rep3", "Rosa", "Ruiz", roles.REP, "Account executive", "director", "Sales"),
    ("rep4", "Renan", "Rocha", roles.REP, "Sales development rep", "director", "Sales"),
    ("compliance", "Carla", "Castro", roles.COMPLIANCE, "Compliance officer", None, None),
]
TEAMS = [("Sales", None, "director"), ("Field sales", "Sales", "manager")]


class Command(BaseCommand):
    help = "Create or refresh the demo organisation (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        roles.sync(apps)
        teams: dict[str, Team] = {}
        for name, parent_name, _lead in TEAMS:
            team = Team.objects.filter(name=name).first() or Team(name=name)
            teams[name] = services.team_save(team=team, parent=teams.get(parent_name))
        people: dict[str, User] = {}
        for username, first, last, role, title, _manager, team_name in PEOPLE:
            user = User.objects.filter(username=username).first() or User(username=username)
            user.first_name, user.last_name, user.title = first, last, title
            user.email = f"{username}@demo.keepline.test"
            user.team = teams.get(team_name)
            user.is_active = True
            if user.pk is None:
                user.set_password(DEMO_PASSWORD)
            # Through the service, so the demo's ledger records who was created and changed.
            people[username] = services.user_save(
                actor=None, user=user, groups=[Group.objects.get(name=role)]
            )
        for username, *_rest, manager_username, _team in PEOPLE:
            services.user_set_manager(
                actor=None, user=people[username], manager=people.get(manager_username)
            )
        for name, _parent, lead in TEAMS:
            team = teams[name]
            team.lead = people[lead]
            services.team_save(team=team, parent=team.parent)
        self.extend(people)
        self.stdout.write(self.style.SUCCESS("Demo organisation ready. Sign in as:"))
        for username, first, last, role, *_ in PEOPLE:
            self.stdout.write(f"  {username:<11} {first} {last} ({role})")
        if settings.DEBUG:
            self.stdout.write(f"Demo password for every account: {DEMO_PASSWORD}")
        else:
            self.stdout.write("DEBUG is off: the demo password is not shown.")

    def extend(self, people: dict[str, User]) -> None:
        from comms import demo as comms_demo
        from crm import demo as crm_demo

        crm_demo.seed(people, self.stdout)
        comms_demo.seed(people, self.stdout)
