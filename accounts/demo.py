"""The demo organisation for seed_demo (idempotent): teams, people, roles and reporting lines.

The command lives in comms, the top app, because it also seeds crm and comms; each app's demo
module seeds only its own data."""

from django.apps import apps
from django.contrib.auth.models import Group

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


def seed() -> dict[str, User]:
    """Create or refresh the demo people and teams; returns the people by username. Call it
    inside a transaction."""
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
    return people
