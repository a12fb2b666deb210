"""user.has_perm(perm, obj) on a CRM record is the CRM policy's answer (crm/auth_backend.py)."""

import pytest
from django.utils import timezone
from guardian.backends import ObjectPermissionBackend
from guardian.shortcuts import assign_perm

from crm import permissions
from tests.crm.conftest import EXPECTED_VIEW
from tests.crm.factories import ActivityFactory, DealFactory

pytestmark = pytest.mark.django_db


def test_has_perm_with_a_record_agrees_with_the_policy(world, rep, outsider):
    actors, records = world
    assign_perm("crm.change_deal", rep, records["deal"]["shared"])
    archived = DealFactory(owner=rep, title="Archived", archived_at=timezone.now())
    for name, user in actors.items():
        for kind, by_key in records.items():
            for key, record in {**by_key, "archived": archived}.items():
                if key == "archived" and kind != "deal":
                    continue
                model = type(record)._meta.model_name
                for action, check in (
                    ("view", permissions.can_view),
                    ("change", permissions.can_change),
                ):
                    expected = check(user, record)
                    assert user.has_perm(f"crm.{action}_{model}", record) is expected, (
                        name,
                        key,
                        action,
                    )
                    if action == "view" and key != "archived":
                        assert expected is (key in EXPECTED_VIEW[name]), (name, kind, key)


def test_has_perm_on_activities_follows_their_record(world, rep, other_rep):
    _actors, records = world
    note = ActivityFactory(author=rep, deal=records["deal"]["own"])
    assert rep.has_perm("crm.view_activity", note) and rep.has_perm("crm.change_activity", note)
    assert not other_rep.has_perm("crm.view_activity", note)
    assert not other_rep.has_perm("crm.change_activity", note)


def test_other_permissions_with_a_record_are_refused(world, rep, admin_user):
    _actors, records = world
    own = records["deal"]["own"]
    assert rep.has_perm("crm.view_deal", own)
    assert not rep.has_perm("crm.delete_deal", own)
    assert not rep.has_perm("crm.view_contact", own)  # another model's permission
    assert not rep.has_perm("comms.view_deal", own)
    # Without an object the role's model permissions still answer (ModelBackend).
    assert rep.has_perm("crm.view_deal") and not rep.has_perm("crm.change_deal")
    assert rep.get_all_permissions(own) == {"crm.view_deal", "crm.change_deal"}
    assert admin_user.has_perm("crm.change_deal", own)


def test_guardian_backend_alone_would_disagree(world, rep, manager):
    """Why guardian's backend is not installed: it reads shares only, so an owner or their
    manager is refused their own records."""
    _actors, records = world
    own = records["deal"]["own"]
    guardian = ObjectPermissionBackend()
    assert permissions.can_view(rep, own) and not guardian.has_perm(rep, "crm.view_deal", own)
    assert permissions.can_change(manager, own)
    assert not guardian.has_perm(manager, "crm.change_deal", own)
    assert rep.has_perm("crm.view_deal", own) and manager.has_perm("crm.change_deal", own)
