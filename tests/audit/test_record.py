import threading

import pytest
from django.db import connection, connections, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

import audit
from audit.models import AuditEvent, ImmutableError
from audit.serialization import GENESIS, canonical, chain_hash, reference_canonical
from tests.audit.ledger import verify

TRICKY = {
    "quote": 'say "hi" \\ bye',
    "controls": "\x00\x01\x1f\x7f\n\t\r\b\f",
    "unicode": "é 中文 😀 \u2028\u2029",
    "nested": {"b": [1, {"z": None, "a": True}], "a": -12345678901234567890},
    "money": "12.50",
}


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
    assert stored.data == {"n": 1}
    assert second.actor_type == "system"
    assert AuditEvent.objects.order_by("seq").first().prev_hash == GENESIS


@pytest.mark.django_db
def test_both_databases_hash_the_bytes_the_v1_definition_names(rep):
    """PostgreSQL hashes in keepline_audit_append, SQLite in Python: the same v1 bytes."""
    factory = RequestFactory(HTTP_USER_AGENT='Agent "q" é', REMOTE_ADDR="2001:db8::1")
    request = factory.get("/")
    request.request_id = "req-1"
    event = audit.record(
        actor=rep,
        action="crm.deal.changed",
        target=("crm.deal", 7, "Deal \x00 with NUL"),
        data=TRICKY,
        request=request,
    )
    stored = AuditEvent.objects.get(seq=event.seq)
    assert canonical(stored) == reference_canonical(stored)
    assert chain_hash(stored.prev_hash, reference_canonical(stored)) == stored.hash == event.hash
    assert stored.data["controls"] == TRICKY["controls"]
    assert stored.data["nested"]["a"] == -12345678901234567890
    assert (stored.ip, stored.user_agent, stored.request_id) == (
        "2001:db8::1",
        'Agent "q" é',
        "req-1",
    )
    assert stored.created_at == event.created_at and stored.created_at.tzinfo is not None
    assert verify()[0] == 0


@pytest.mark.django_db
def test_a_rolled_back_outer_transaction_leaves_no_event_and_no_gap(rep):
    before = audit.record(actor=rep, action="accounts.user.viewed")
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(actor=rep, action="accounts.user.changed")
        raise RuntimeError("the change failed")
    assert not AuditEvent.objects.filter(action="accounts.user.changed").exists()
    after = audit.record(actor=rep, action="accounts.user.viewed")
    assert after.seq == before.seq + 1 and after.prev_hash == before.hash
    assert verify()[0] == 0


@pytest.mark.django_db
def test_events_refuse_update_and_delete_in_python(rep):
    event = audit.record(actor=rep, action="accounts.user.viewed")
    with pytest.raises(ImmutableError):
        AuditEvent.objects.filter(seq=event.seq).update(action="x.y.z")
    with pytest.raises(ImmutableError):
        AuditEvent.objects.filter(seq=event.seq).delete()
    with pytest.raises(ImmutableError):
        AuditEvent.objects.bulk_update([event], ["action"])
    with pytest.raises(ImmutableError):
        event.delete()
    event.action = "x.y.z"
    with pytest.raises(ImmutableError):
        event.save()


@pytest.mark.django_db
def test_bad_input_is_refused(rep):
    count = AuditEvent.objects.count()
    with pytest.raises(ValueError, match="float"):
        audit.record(actor=rep, action="crm.deal.changed", data={"amount": 1.5})
    with pytest.raises(ValueError, match="<app>.<entity>.<past_verb>"):
        audit.record(actor=rep, action="changed")
    with pytest.raises(TypeError):
        audit.record(actor=42, action="crm.deal.changed")
    assert AuditEvent.objects.count() == count


def test_changes_lists_only_what_differs():
    assert audit.changes({"a": 1, "b": "x"}, {"a": 2, "b": "x"}) == {"a": {"before": 1, "after": 2}}


@pytest.mark.django_db
def test_request_id_is_echoed_and_recorded(client, rep):
    response = client.get("/login/", HTTP_X_REQUEST_ID="edge-abc-123")
    assert response["X-Request-ID"] == "edge-abc-123"
    generated = client.get("/login/", HTTP_X_REQUEST_ID="bad id; drop")["X-Request-ID"]
    assert len(generated) == 32 and generated != "bad id; drop"
    client.post("/login/", {"username": "rep", "password": "wrong"}, HTTP_X_REQUEST_ID="r-9")
    failed = AuditEvent.objects.get(action="accounts.sign_in.failed")
    assert failed.request_id == "r-9"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_threads_appending_concurrently_never_fork_or_leave_gaps():
    per_thread, threads, errors = 25, 8, []
    start = threading.Barrier(threads)

    def writer(n: int):
        try:
            start.wait()
            for i in range(per_thread):
                with transaction.atomic():
                    audit.record(actor=None, action="bench.event.appended", data={"w": n, "i": i})
                if i % 5 == 0:  # a rolled-back append in between leaves nothing behind
                    with pytest.raises(RuntimeError), transaction.atomic():
                        audit.record(actor=None, action="bench.event.rolled_back")
                        raise RuntimeError
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    seqs = list(AuditEvent.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, threads * per_thread + 1))
    assert not AuditEvent.objects.filter(action="bench.event.rolled_back").exists()
    assert len(set(AuditEvent.objects.values_list("prev_hash", flat=True))) == len(seqs)
    assert verify() == (
        0,
        f"verified {len(seqs)} events up to seq {len(seqs)}, "
        f"head {AuditEvent.objects.get(seq=len(seqs)).hash}",
    )
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_record_many_appends_in_order_in_one_statement_on_postgresql(rep, team):
    before = audit.record(actor=rep, action="accounts.team.viewed", target=team)
    events = [
        {"actor": rep, "action": "accounts.team.viewed", "target": team, "data": {"n": n}}
        for n in range(5)
    ] + [{"actor": None, "action": "accounts.team.changed", "data": TRICKY}]
    with CaptureQueriesContext(connection) as ctx:
        appended = audit.record_many(events)
    assert [e.seq for e in appended] == list(range(before.seq + 1, before.seq + 7))
    assert appended[0].prev_hash == before.hash
    assert all(b.prev_hash == a.hash for a, b in zip(appended, appended[1:], strict=False))
    stored = list(AuditEvent.objects.filter(seq__gt=before.seq).order_by("seq"))
    assert [e.data for e in stored] == [{"n": n} for n in range(5)] + [TRICKY]
    assert [e.hash for e in stored] == [e.hash for e in appended]
    assert verify()[0] == 0
    if connection.vendor == "postgresql":
        assert len(ctx.captured_queries) == 1
    assert audit.record_many([]) == []


@pytest.mark.django_db
def test_record_many_of_thousands_continues_and_is_continued_by_single_appends(rep, team):
    """A big batch (offboarding appends ~40k) between two single appends: one gap-free chain."""
    before = audit.record(actor=rep, action="accounts.team.viewed", target=team)
    events = [
        {
            "actor": rep,
            "action": "crm.contact.reassigned",
            "target": ("crm.contact", n, f'Contact {n} "q" é'),
            "data": {"changes": {"owner": {"before": 1, "after": 2}}, "reason": "offboarding"},
        }
        for n in range(3_000)
    ]
    events[1_500]["data"] = TRICKY
    with transaction.atomic():
        appended = audit.record_many(events)
    after = audit.record(actor=None, action="accounts.team.changed", target=team)
    assert [e.seq for e in appended] == list(range(before.seq + 1, before.seq + 3_001))
    assert appended[0].prev_hash == before.hash and after.prev_hash == appended[-1].hash
    assert after.seq == appended[-1].seq + 1
    assert all(b.prev_hash == a.hash for a, b in zip(appended, appended[1:], strict=False))
    assert all(b.created_at >= a.created_at for a, b in zip(appended, appended[1:], strict=False))
    seqs = list(AuditEvent.objects.filter(seq__gte=before.seq).values_list("seq", flat=True))
    assert seqs == list(range(before.seq, after.seq + 1))
    stored = AuditEvent.objects.get(seq=appended[1_500].seq)
    assert stored.data == TRICKY and stored.hash == appended[1_500].hash
    assert canonical(stored) == reference_canonical(stored)
    code, line = verify()
    assert code == 0, line
    assert f"up to seq {after.seq}" in line


@pytest.mark.django_db
def test_record_many_prepares_each_event_as_record_does(rep, other_rep, team):
    """The batch fast path (actor and request looked at once) builds the same rows as prepare."""
    from audit import services

    request = RequestFactory(HTTP_USER_AGENT="Agent é", REMOTE_ADDR="10.1.2.3").get("/")
    request.request_id = "req-7"
    scope = {"type": "websocket", "client": ("192.0.2.9", 5000), "headers": []}
    events = [
        {"actor": rep, "action": "crm.deal.changed", "target": team, "data": TRICKY},
        {"actor": other_rep, "action": "crm.deal.changed", "request": request, "data": {1: (2,)}},
        {"actor": rep, "action": "crm.deal.changed", "request": request, "target": ("a", 1, "b")},
        {"actor": None, "action": "crm.deal.changed", "request": scope, "data": {"s": {3, 1}}},
        {"actor": "anonymous", "action": "crm.deal.changed", "data": {"d": team, "x": None}},
    ]
    fields = [f.attname for f in AuditEvent._meta.concrete_fields]
    batch = services._prepare_batch(events)
    single = [services.prepare(**event) for event in events]
    for (b_values, b_parts, b_text), (s_event, s_parts, s_text) in zip(batch, single, strict=True):
        b_event = services._event_of(b_values)
        assert (b_parts, b_text) == (s_parts, s_text)
        assert [getattr(b_event, f) for f in fields] == [getattr(s_event, f) for f in fields]
    with pytest.raises(ValueError, match="float"):
        services._prepare_batch([{"actor": rep, "action": "crm.deal.changed", "data": {"a": 1.5}}])
    with pytest.raises(ValueError, match="<app>.<entity>.<past_verb>"):
        services._prepare_batch([{"actor": rep, "action": "changed"}])
    with pytest.raises(TypeError):
        services._prepare_batch([{"actor": 42, "action": "crm.deal.changed"}])


@pytest.mark.django_db
def test_record_many_without_returning_appends_the_same_chain(rep, team):
    """returning=False (offboarding, message batches) stores the same events and answers None."""
    before = audit.record(actor=rep, action="accounts.team.viewed", target=team)
    events = [
        {
            "actor": rep,
            "action": "crm.contact.reassigned",
            "target": ("crm.contact", n, "C"),
            "data": {"n": n},
        }
        for n in range(50)
    ]
    with transaction.atomic():
        assert audit.record_many(events, returning=False) is None
    stored = list(AuditEvent.objects.filter(seq__gt=before.seq).order_by("seq"))
    assert [e.data for e in stored] == [{"n": n} for n in range(50)]
    assert [e.seq for e in stored] == list(range(before.seq + 1, before.seq + 51))
    assert stored[0].prev_hash == before.hash
    assert verify()[0] == 0
    assert audit.record_many([], returning=False) is None
