"""Queries per send: constant in room size and at most 6 SQL statements, the audit append
included (PostgreSQL: 3, the append being one function call; SQLite: 6), for a staff send and
for a customer's message alike; a message in an internal conversation reads its members with
their working hours once more, to notify them (issue 14, point 7: PostgreSQL 4, SQLite 7).
Django also logs the service's BEGIN and COMMIT among captured queries; they are counted
separately."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import roles
from comms import services
from tests.comms.conftest import cid
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)
CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
MAX_SQL = 6
NOTIFY_MEMBERS = 1  # internal conversations: who to notify, and their working hours


@pytest.fixture
def conversation_with_link(rep, customer_contact):
    conversation = services.conversation_start(actor=rep, contact=customer_contact)
    link, _token = services.customer_link_issue(actor=rep, conversation=conversation)
    return conversation, link


def room(owner, size):
    members = [make_user(roles.REP) for _ in range(size - 1)]
    return services.internal_conversation_create(
        actor=owner, subject=f"room {size}", members=members
    )


def sql_only(captured) -> list[str]:
    return [q["sql"] for q in captured if not q["sql"].upper().startswith(CONTROL)]


def measure(author, conversation) -> list[dict]:
    # A connected socket has read the author's roles once at connect: warm that cache.
    services.message_send(author=author, conversation=conversation, body="warm", client_id=cid())
    with CaptureQueriesContext(connection) as ctx:
        result = services.message_send(
            author=author, conversation=conversation, body="hello room", client_id=cid()
        )
    assert result.created
    return ctx.captured_queries


def test_queries_per_send_constant_in_room_size_and_at_most_six(rep, django_assert_max_num_queries):
    small, large = room(rep, 2), room(rep, 50)
    all_small, all_large = measure(rep, small), measure(rep, large)
    assert len(all_small) == len(all_large), (all_small, all_large)
    assert len(sql_only(all_small)) == len(sql_only(all_large)) <= MAX_SQL + NOTIFY_MEMBERS
    # Everything captured, transaction control included.
    with django_assert_max_num_queries(MAX_SQL + NOTIFY_MEMBERS + 2) as ctx:
        services.message_send(author=rep, conversation=large, body="again", client_id=cid())
    assert len(sql_only(ctx.captured_queries)) <= MAX_SQL + NOTIFY_MEMBERS
    if connection.vendor == "postgresql":
        assert len(sql_only(ctx.captured_queries)) == 3 + NOTIFY_MEMBERS


def test_queries_per_send_in_a_customer_conversation(rep, customer_contact):
    conversation = services.conversation_start(actor=rep, contact=customer_contact)
    captured = measure(rep, conversation)
    assert len(sql_only(captured)) <= MAX_SQL


def test_queries_per_customer_message_at_most_six(rep, conversation_with_link):
    conversation, link = conversation_with_link
    services.message_receive(link=link, body="warm", client_id=cid())
    with CaptureQueriesContext(connection) as ctx:
        result = services.message_receive(link=link, body="hello", client_id=cid())
    assert result.created
    assert len(sql_only(ctx.captured_queries)) <= MAX_SQL
    if connection.vendor == "postgresql":
        assert len(sql_only(ctx.captured_queries)) == 3
