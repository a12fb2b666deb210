import pytest
from guardian.shortcuts import assign_perm

from accounts import roles
from tests.crm.factories import CompanyFactory, ContactFactory, DealFactory
from tests.factories import TeamFactory, make_user


@pytest.fixture
def outsider(db):
    """A rep in another team, reporting to nobody here: owns the shared and foreign records."""
    return make_user(roles.REP, username="outsider", team=TeamFactory(name="Elsewhere"))


@pytest.fixture
def world(rep, other_rep, manager, director, compliance, admin_user, team, outsider):
    """Every actor of the matrix, and for each kind of record one own (rep's), one shared with
    rep, one shared with rep's team and one foreign record."""
    director.team = None
    director.save(update_fields=["team"])
    records = {}
    for kind, factory, extra in (
        ("company", CompanyFactory, lambda key: {"name": f"Acme {key}"}),
        ("contact", ContactFactory, lambda key: {"first_name": f"Pat {key}"}),
        ("deal", DealFactory, lambda key: {"title": f"Deal {key}"}),
    ):
        records[kind] = {
            "own": factory(owner=rep, **extra("own")),
            "shared": factory(owner=outsider, **extra("shared")),
            "team_shared": factory(owner=outsider, **extra("team_shared")),
            "foreign": factory(owner=outsider, **extra("foreign")),
        }
        assign_perm(f"crm.view_{kind}", rep, records[kind]["shared"])
        assign_perm(f"crm.view_{kind}", team.group, records[kind]["team_shared"])
    actors = {
        "rep": rep,
        "other_rep": other_rep,
        "manager": manager,
        "director": director,
        "compliance": compliance,
        "admin_user": admin_user,
    }
    return actors, records


EXPECTED_VIEW = {
    "rep": {"own", "shared", "team_shared"},
    "other_rep": {"team_shared"},
    "manager": {"own", "team_shared"},
    "director": {"own"},
    "compliance": {"own", "shared", "team_shared", "foreign"},
    "admin_user": {"own", "shared", "team_shared", "foreign"},
}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the cache: each test starts with none used."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
