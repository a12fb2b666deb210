"""A batch of two or more drafts is judged and stamped in a constant number of statements
(comms.services.messages._stamp_batch): each draft still gets exactly the answer it would get
alone, and the statements do not grow with the batch."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import UserSession
from accounts.permissions import SocketBinding
from audit.models import AuditEvent
from comms import errors, services
from comms.models import Conversation, Message
from tests.audit.ledger import verify
from tests.comms.conftest import cid

pytestmark = pytest.mark.django_db
CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


def staff(author, conversation, body, client_id=None, binding=None):
    return services.staff_draft(
        author=author,
        conversation=conversation,
        body=body,
        client_id=client_id or cid(),
        binding=binding,
    )


def binding_of(user, *, ended=False) -> SocketBinding:
    session = UserSession.objects.create(
        user=user, session_key=cid().replace("-", ""), ended_at=timezone.now() if ended else None
    )
    version = type(user).objects.values_list("access_version", flat=True).get(pk=user.pk)
    return SocketBinding(user.pk, session.session_key, version)


def test_a_mixed_batch_answers_every_draft_as_it_would_alone(
    rep, other_rep, customer_contact, conversation, link_and_token
):
    link, _token = link_and_token
    closed = services.conversation_start(actor=rep, contact=customer_contact, subject="Closed")
    closed_link, _ = services.customer_link_issue(actor=rep, conversation=closed)
    services.conversation_set_status(actor=rep, conversation=closed, status="closed")
    untouched = services.conversation_start(actor=rep, contact=customer_contact, subject="Mine")
    earlier = services.message_send(
        author=rep, conversation=conversation, body="earlier", client_id=cid()
    )
    moved_before = dict(Conversation.objects.values_list("pk", "last_message_at"))
    events_before = AuditEvent.objects.count()

    first = staff(rep, conversation, "first", binding=binding_of(rep))
    items = [
        first,  # 0: allowed staff on a live socket
        staff(other_rep, conversation, "not mine"),  # 1: refused: sees nothing of it
        services.customer_draft(link=link, body="open reply", client_id=cid()),  # 2
        services.customer_draft(link=closed_link, body="closed reply", client_id=cid()),  # 3
        staff(rep, conversation, "first", first.client_id, binding=first.binding),  # 4: repeat
        staff(rep, conversation, "earlier", earlier.message.client_id),  # 5: stored before
        staff(rep, conversation, "signed out", binding=binding_of(rep, ended=True)),  # 6
        staff(other_rep, untouched, "not mine either"),  # 7: its conversation's only draft
        staff(rep, closed, "staff into closed"),  # 8
    ]
    results = services.messages_store(items)

    ok, refused, open_reply, closed_reply, repeat, old, signed_out, refused_2, staff_closed = (
        results
    )
    assert isinstance(refused, errors.NotFound) and isinstance(refused_2, errors.NotFound)
    assert isinstance(signed_out, errors.AccessChanged)
    assert ok.created and open_reply.created and closed_reply.created and staff_closed.created
    assert (repeat.created, repeat.message.pk) == (False, ok.message.pk)
    assert (old.created, old.message.pk) == (False, earlier.message.pk)
    assert repeat.data == ok.data and ok.data["body"] == "first"
    assert old.data["id"] == earlier.message.pk and old.data["body"] == "earlier"
    assert open_reply.message.direction == Message.Direction.INBOUND
    assert open_reply.message.author_contact_id == customer_contact.pk

    stored = list(Message.objects.order_by("id").values_list("conversation_id", "body"))
    assert stored == [
        (conversation.pk, "earlier"),
        (conversation.pk, "first"),
        (conversation.pk, "open reply"),
        (closed.pk, "closed reply"),
        (closed.pk, "staff into closed"),
    ]
    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert statuses[closed.pk] == "open" and statuses[conversation.pk] == "open"
    moved_after = dict(Conversation.objects.values_list("pk", "last_message_at"))
    assert moved_after[untouched.pk] == moved_before[untouched.pk]  # all refused: unchanged
    assert moved_after[conversation.pk] > moved_before[conversation.pk]
    assert moved_after[closed.pk] == ok.message.created_at

    new_events = list(
        AuditEvent.objects.order_by("seq").values_list("action", "target_id", "data")
    )[events_before:]
    assert [(a, t) for a, t, _d in new_events] == [
        ("comms.message.sent", str(ok.message.pk)),
        ("comms.message.received", str(open_reply.message.pk)),
        ("comms.message.received", str(closed_reply.message.pk)),
        ("comms.message.sent", str(staff_closed.message.pk)),
        ("comms.conversation.status_changed", str(closed.pk)),
    ]
    assert new_events[-1][2] == {"from": "closed", "to": "open", "reason": "customer_reply"}
    assert verify()[0] == 0


def test_a_bumped_access_version_refuses_in_the_batch(rep, conversation):
    from accounts.models import User

    live = binding_of(rep)
    stale = SocketBinding(rep.pk, live.session_key, live.access_version)
    User.objects.filter(pk=rep.pk).update(access_version=live.access_version + 1)
    fresh = SocketBinding(rep.pk, live.session_key, live.access_version + 1)
    a, b = services.messages_store(
        [
            staff(rep, conversation, "stale", binding=stale),
            staff(rep, conversation, "fresh", binding=fresh),
        ]
    )
    assert isinstance(a, errors.AccessChanged)
    assert b.created and Message.objects.get().body == "fresh"


def test_a_revoked_link_refuses_its_drafts_in_the_batch(rep, conversation, link_and_token):
    link, _token = link_and_token
    services.customer_link_revoke(actor=rep, link=link)
    link.refresh_from_db()
    a, b = services.messages_store(
        [
            services.customer_draft(link=link, body="too late", client_id=cid()),
            staff(rep, conversation, "staff still writes"),
        ]
    )
    assert isinstance(a, errors.Forbidden)
    assert b.created and list(Message.objects.values_list("body", flat=True)) == [
        "staff still writes"
    ]


def sends_across(author, conversations, label):
    return [staff(author, c, f"{label} {n}") for n, c in enumerate(conversations)]


def statements_of(items) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        results = services.messages_store(items)
    assert all(r.created for r in results)
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].upper().startswith(CONTROL)]


def test_a_batch_of_20_costs_the_statements_of_a_batch_of_2(rep, customer_contact):
    conversations = [
        services.conversation_start(actor=rep, contact=customer_contact, subject=f"c{n}")
        for n in range(22)
    ]
    for c in conversations:  # a connected socket has compiled its checks and read its roles
        services.message_send(author=rep, conversation=c, body="warm", client_id=cid())
    two = statements_of(sends_across(rep, conversations[:2], "two"))
    twenty = statements_of(sends_across(rep, conversations[2:], "twenty"))

    def outside_audit(statements):
        return [s for s in statements if "audit_" not in s]

    # The audit append is one statement on PostgreSQL, a few per event on SQLite.
    assert len(outside_audit(twenty)) == len(outside_audit(two)), (two, twenty)
    assert len(outside_audit(two)) == 4  # FOR UPDATE, verdict, stamp, INSERT
    if connection.vendor == "postgresql":
        assert len(twenty) == len(two) == 5, (two, twenty)
    assert Message.objects.exclude(body="warm").count() == 22
