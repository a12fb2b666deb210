import pytest
from django.db import transaction

import audit
from audit.models import AuditEvent, ImmutableError
from audit.serialization import GENESIS, canonical, chain_hash


@pytest.mark.django_db
def test_record_chains_events_with_gap_free_sequence(rep, team):
    first = audit.record(actor=rep, action="accounts.team.viewed", target=team, data={"n": 1})
    second = audit.record(actor=None, action="accounts.team.changed", target=team)
    assert second.seq == first.seq + 1
    assert second.prev_hash == first.hash
    stored = AuditEvent.objects.get(seq=first.seq)
    assert chain_hash(stored.prev_hash, canonical(stored)) == stored.hash
    assert (stored.actor_type, stored.actor_id, stored.actor_label) == ("user", rep.pk, "rep")
    assert (stored.target_type, stored.target_id) == ("accounts.team", str(team.pk))
    assert second.actor_type == "system"
    assert AuditEvent.objects.order_by("seq").first().prev_hash == GENESIS or first.seq > 1


@pytest.mark.django_db
def test_a_rolled_back_transaction_leaves_no_event_and_no_gap(rep):
    before = audit.record(actor=rep, action="accounts.user.viewed")
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(actor=rep, action="accounts.user.changed")
        raise RuntimeError("the change failed")
    after = audit.record(actor=rep, action="accounts.user.viewed")
    assert after.seq == before.seq + 1 and after.prev_hash == before.hash


@pytest.mark.django_db
def test_events_refuse_update_and_delete_in_python(rep):
    event = audit.record(actor=rep, action="accounts.user.viewed")
    with pytest.raises(ImmutableError):
        AuditEvent.objects.filter(seq=event.seq).update(action="x.y.z")
    with pytest.raises(ImmutableError):
        AuditEvent.objects.filter(seq=event.seq).delete()
    with pytest.raises(ImmutableError):
        event.delete()
    event.action = "x.y.z"
    with pytest.raises(ImmutableError):
        event.save()


@pytest.mark.django_db
def test_bad_input_is_refused(rep):
    with pytest.raises(ValueError, match="float"):
        audit.record(actor=rep, action="crm.deal.changed", data={"amount": 1.5})
    with pytest.raises(ValueError, match="<app>.<entity>.<past_verb>"):
        audit.record(actor=rep, action="changed")
    assert not AuditEvent.objects.exists()


def test_changes_lists_only_what_differs():
    assert audit.changes({"a": 1, "b": "x"}, {"a": 2, "b": "x"}) == {"a": {"before": 1, "after": 2}}
