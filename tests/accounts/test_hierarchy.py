import pytest

from accounts import roles, selectors, services
from accounts.models import Team
from config.errors import Forbidden, Invalid
from tests.factories import TeamFactory, make_user


def chain(depth: int):
    """A reporting line depth people long under a root; returns (root, everyone below)."""
    root = make_user(roles.MANAGER)
    below, boss = [], root
    for _ in range(depth):
        person = make_user(roles.REP, manager=boss)
        # A sibling at each level, so the subtree is not a single line.
        below += [person, make_user(roles.REP, manager=boss)]
        boss = person
    return root, below


@pytest.mark.django_db
def test_subtree_has_everyone_below_and_nobody_else():
    root, below = chain(4)
    outsider = make_user(roles.REP)
    ids = set(selectors.user_subtree_for(root).values_list("id", flat=True))
    assert ids == {u.pk for u in below}
    assert outsider.pk not in ids and root.pk not in ids
    middle = below[2]
    assert set(selectors.user_subtree_for(middle).values_list("id", flat=True)) == {
        u.pk for u in below[4:]
    }
    with_self = selectors.user_subtree_for(root, include_self=True)
    assert root.pk in set(with_self.values_list("id", flat=True))


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [2, 6])
def test_subtree_is_one_query_at_any_depth(depth, django_assert_num_queries):
    root, below = chain(depth)
    with django_assert_num_queries(1):
        people = list(selectors.user_subtree_for(root))
    assert len(people) == 2 * depth


@pytest.mark.django_db
def test_self_as_manager_is_refused_and_nothing_written(admin_user):
    person = make_user(roles.REP)
    with pytest.raises(Invalid) as exc:
        services.user_set_manager(actor=admin_user, user=person, manager=person)
    assert "own manager" in str(exc.value)
    person.refresh_from_db()
    assert person.manager_id is None


@pytest.mark.django_db
def test_indirect_cycle_is_refused(admin_user):
    root, below = chain(3)
    deepest = below[-2]
    with pytest.raises(Invalid, match="reporting loop"):
        services.user_set_manager(actor=admin_user, user=root, manager=deepest)
    root.refresh_from_db()
    assert root.manager_id is None


@pytest.mark.django_db
def test_only_admin_changes_reporting_lines(rep, other_rep):
    with pytest.raises(Forbidden):
        services.user_set_manager(actor=rep, user=other_rep, manager=rep)
    other_rep.refresh_from_db()
    assert other_rep.manager_id is None


@pytest.mark.django_db
def test_team_tree_paths_follow_a_move_and_cycles_are_refused():
    sales = TeamFactory(name="Sales")
    field = TeamFactory(name="Field", parent=sales)
    north = TeamFactory(name="North", parent=field)
    assert north.path.startswith(field.path) and field.path.startswith(sales.path)
    assert north.depth == 2
    emea = TeamFactory(name="EMEA")
    services.team_save(team=field, parent=emea)
    north.refresh_from_db()
    assert north.path.startswith(emea.path)
    assert set(selectors.team_subtree(emea)) == {emea, field, north}
    with pytest.raises(Invalid):
        services.team_save(team=emea, parent=north)
    assert Team.objects.get(pk=emea.pk).parent_id is None


@pytest.mark.django_db
def test_role_groups_exist_with_their_permissions():
    from django.contrib.auth.models import Group

    groups = {g.name: g for g in Group.objects.prefetch_related("permissions__content_type")}
    assert set(roles.ALL) <= set(groups)

    def perms(role):
        return {f"{p.content_type.app_label}.{p.codename}" for p in groups[role].permissions.all()}

    assert {"accounts.add_user", "accounts.change_user", "accounts.change_team"} <= perms(
        roles.ADMIN
    )
    assert "accounts.view_usersession" in perms(roles.COMPLIANCE)
    assert "accounts.change_user" not in perms(roles.REP)
    assert "accounts.change_user" not in perms(roles.MANAGER)
    assert "accounts.view_user" in perms(roles.MANAGER)
