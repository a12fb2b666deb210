"""Issue 15, "Attention": one unread count (comms.selectors.unread_for) behind the navigation
badge, the inbox's "Mine" tab and its rows, the API; a read tells the reader's own sockets; the
conversations waiting for the rep's reply, longest wait first."""

import re

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from accounts import roles
from comms import permissions, selectors, services
from comms.models import Conversation
from config.asgi import application
from tests.comms.conftest import cid
from tests.comms.sockets import ORIGIN, _cookie
from tests.crm.factories import ContactFactory
from tests.factories import make_user

pytestmark = pytest.mark.django_db

INBOX = reverse("comms:inbox")
UNREAD_API = "/api/v1/conversations/unread/"


def customer_conversation(owner, first_name="Clara"):
    contact = ContactFactory(owner=owner, first_name=first_name, last_name="Cliente")
    conversation = services.conversation_start(actor=owner, contact=contact)
    link, _token = services.customer_link_issue(actor=owner, conversation=conversation)
    return conversation, link


def customer_writes(link, *bodies):
    return [services.message_receive(link=link, body=b, client_id=cid()).message for b in bodies]


def row_counts(html: str) -> dict[int, int]:
    """{conversation id: unread shown on its inbox row}."""
    found = {}
    for pk, row in re.findall(r'<li data-conversation="(\d+)">(.*?)</li>', html, re.S):
        badge = re.search(r'class="unread"[^>]*>(\d+)<', row)
        found[int(pk)] = int(badge.group(1)) if badge else 0
    return found


def tab_count(html: str) -> int:
    badge = re.search(r'data-testid="unread-total"[^>]*>(\d+)<', html)
    return int(badge.group(1)) if badge else 0


def test_badge_mine_tab_and_rows_agree_and_a_manager_is_not_counted_for_the_team(
    client, rep, other_rep, manager
):
    first, first_link = customer_conversation(rep, "Ana")
    second, second_link = customer_conversation(rep, "Bia")
    customer_writes(first_link, "one", "two")
    customer_writes(second_link, "three")
    services.message_send(author=rep, conversation=second, body="answer", client_id=cid())
    # An internal conversation the rep is a member of counts too; their own message does not.
    room = services.internal_conversation_create(actor=other_rep, subject="desk", members=[rep])
    services.message_send(author=other_rep, conversation=room, body="@rep look", client_id=cid())
    services.message_send(author=rep, conversation=room, body="mine", client_id=cid())
    # A conversation the rep holds nothing in (another rep's customer) is not counted.
    _theirs, theirs_link = customer_conversation(other_rep, "Cris")
    customer_writes(theirs_link, "not for rep")

    unread = selectors.unread_for(rep)
    assert unread.counts == {first.pk: 2, second.pk: 1, room.pk: 1}
    assert unread.total == 4 == sum(unread.counts.values())

    client.force_login(rep)
    page = client.get(INBOX + "?box=mine").content.decode()
    assert tab_count(page) == 4
    rows = row_counts(page)
    assert {k: v for k, v in rows.items() if v} == unread.counts
    assert sum(rows.values()) == tab_count(page)
    api = client.get(UNREAD_API).json()
    assert api["total"] == 4
    assert api["conversations"] == {str(k): v for k, v in unread.counts.items()}
    assert [c["title"] for c in api["recent"]][:2] == ["desk", "Bia Cliente"]
    assert api["recent"][0]["preview"] == "@rep look"
    assert api["recent"][0]["url"] == reverse("comms:conversation-detail", args=[room.pk])

    # The manager sees the rep's conversations (the "All" tab shows their unread rows) but
    # holds none: the badge and the Mine tab say 0, not the team's total (the demo's "Inbox 53").
    client.force_login(manager)
    everything = client.get(INBOX + "?box=all").content.decode()
    assert sum(row_counts(everything).values()) >= 3
    assert tab_count(everything) == 0
    assert client.get(UNREAD_API).json()["total"] == 0
    assert row_counts(client.get(INBOX + "?box=mine").content.decode()) == {}


def test_reading_brings_the_count_down_and_a_retracted_message_stops_counting(
    client, rep, other_rep
):
    room = services.internal_conversation_create(actor=other_rep, subject="desk", members=[rep])
    first, second, third = (
        services.message_send(author=other_rep, conversation=room, body=b, client_id=cid()).message
        for b in ("a", "b", "c")
    )
    assert selectors.unread_for(rep).total == 3
    services.message_retract(actor=other_rep, conversation=room, message_id=second.pk)
    assert selectors.unread_for(rep).total == 2
    services.conversation_mark_read(user=rep, conversation=room, message_id=first.pk)
    assert selectors.unread_for(rep).counts == {room.pk: 1}
    services.conversation_mark_read(user=rep, conversation=room, message_id=third.pk)
    assert selectors.unread_for(rep).total == 0
    client.force_login(rep)
    assert client.get(UNREAD_API).json() == {"total": 0, "conversations": {}, "recent": []}
    assert 'data-testid="unread-total"' not in client.get(INBOX).content.decode()


def test_a_transferred_conversation_leaves_the_old_assignees_count(rep, other_rep, admin_user):
    conversation, link = customer_conversation(rep)
    customer_writes(link, "hello")
    assert selectors.unread_for(rep).total == 1
    services.conversation_assign(actor=admin_user, conversation=conversation, assignee=other_rep)
    assert selectors.unread_for(rep).total == 0
    assert selectors.unread_for(other_rep).counts == {conversation.pk: 1}


def test_unread_total_is_one_query_at_any_size(rep, django_assert_num_queries):
    def grow(n):
        for _ in range(n):
            _c, link = customer_conversation(rep)
            customer_writes(link, "x", "y")
            other = make_user(roles.REP)
            _o, other_link = customer_conversation(other)
            customer_writes(other_link, "z")

    grow(2)
    with django_assert_num_queries(1):  # the badge and the Mine tab: counts only
        small = selectors.unread_for(rep, recent=0)
    with django_assert_num_queries(2):  # the home page: and the newest with their last message
        assert len(selectors.unread_for(rep).recent) == 2
    grow(25)
    with django_assert_num_queries(1):
        large = selectors.unread_for(rep, recent=0)
    with django_assert_num_queries(2):
        assert len(selectors.unread_for(rep).recent) == selectors.RECENT_UNREAD
    assert (small.total, large.total) == (4, 54)


def reference_unread(user) -> dict[int, int]:
    """The unread counts as the selector computed them before issue 16: a subquery per held
    conversation (with_unread), kept here as the definition the grouped query must match."""
    rows = selectors.with_unread(
        Conversation.objects.filter(pk__in=permissions.held_ids(user)), user
    ).filter(unread__gt=0)
    return dict(rows.values_list("pk", "unread"))


def test_unread_for_counts_what_the_per_conversation_subquery_counted(
    rep, other_rep, manager, admin_user
):
    """A mixed organisation: customers writing, a rep's own messages and system lines, a read
    position in the middle, a retracted message, a member who left, a transferred conversation,
    and conversations a manager only sees."""
    mine, link = customer_conversation(rep, "Ana")
    first, *_rest = customer_writes(link, "a", "b", "c")
    services.conversation_mark_read(user=rep, conversation=mine, message_id=first.pk)
    services.message_send(author=rep, conversation=mine, body="mine", client_id=cid())
    _read, read_link = customer_conversation(rep, "Bia")
    (only,) = customer_writes(read_link, "read it")
    services.conversation_mark_read(user=rep, conversation=_read, message_id=only.pk)
    room = services.internal_conversation_create(
        actor=other_rep, subject="desk", members=[rep, manager]
    )
    sent = [
        services.message_send(author=other_rep, conversation=room, body=b, client_id=cid()).message
        for b in ("x", "y", "z")
    ]
    services.message_retract(actor=other_rep, conversation=room, message_id=sent[1].pk)
    left = services.internal_conversation_create(actor=other_rep, subject="old", members=[rep])
    services.message_send(author=other_rep, conversation=left, body="gone", client_id=cid())
    services.member_remove(actor=other_rep, conversation=left, user=rep)
    moved, moved_link = customer_conversation(rep, "Caio")
    customer_writes(moved_link, "hello")
    services.conversation_assign(actor=admin_user, conversation=moved, assignee=other_rep)
    _theirs, their_link = customer_conversation(other_rep, "Duda")
    customer_writes(their_link, "for the team")

    for person in (rep, other_rep, manager, admin_user):
        unread = selectors.unread_for(person)
        assert unread.counts == reference_unread(person), person
        assert unread.total == sum(reference_unread(person).values())
    assert selectors.unread_for(rep).counts == {mine.pk: 2, room.pk: 2}
    recent = selectors.unread_for(rep).recent
    assert [c.pk for c in recent] == [room.pk, mine.pk]  # newest activity first
    assert (recent[0].latest_id, recent[0].latest_body, recent[0].unread) == (sent[2].pk, "z", 2)
    assert recent[1].latest_body == "c" and recent[1].contact.first_name == "Ana"


def test_unread_api_queries_do_not_grow(client, rep, django_assert_max_num_queries):
    client.force_login(rep)
    for _ in range(2):
        _c, link = customer_conversation(rep)
        customer_writes(link, "x")
    with django_assert_max_num_queries(8) as small:
        client.get(UNREAD_API)
    for _ in range(20):
        _c, link = customer_conversation(rep)
        customer_writes(link, "x")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(UNREAD_API).json()["total"] == 22


def test_waiting_for_reply_longest_first_and_a_note_is_not_an_answer(rep):
    older, older_link = customer_conversation(rep, "Older")
    newer, newer_link = customer_conversation(rep, "Newer")
    answered, answered_link = customer_conversation(rep, "Answered")
    noted, noted_link = customer_conversation(rep, "Noted")
    # In time order: older's first message, noted's, answered's, newer's, older's second.
    (older_first,) = customer_writes(older_link, "first")
    customer_writes(noted_link, "question")
    services.message_send(
        author=rep, conversation=noted, body="to myself", client_id=cid(), note=True
    )
    customer_writes(answered_link, "question")
    services.message_send(author=rep, conversation=answered, body="reply", client_id=cid())
    customer_writes(newer_link, "newer")
    customer_writes(older_link, "second")

    waiting = selectors.waiting_for_reply_for(rep)
    assert [c.pk for c in waiting] == [older.pk, noted.pk, newer.pk]
    # Waiting since the first unanswered message, not the latest one.
    assert waiting[0].waiting_since == older_first.created_at
    # The customer writes again after the answer: waiting again, since that message.
    (again,) = customer_writes(answered_link, "and another thing")
    waiting = {c.pk: c.waiting_since for c in selectors.waiting_for_reply_for(rep)}
    assert waiting[answered.pk] == again.created_at
    # Closed conversations wait for nobody.
    services.conversation_set_status(actor=rep, conversation=older, status="closed")
    assert older.pk not in [c.pk for c in selectors.waiting_for_reply_for(rep)]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_read_tells_the_readers_inbox_socket_so_the_badge_counts_again(rep, other_rep):
    conversation, link = await sync_to_async(customer_conversation)(rep)
    (message,) = await sync_to_async(customer_writes)(link, "hello")

    async def inbox_socket(user):
        cookie = await sync_to_async(_cookie)(user)
        ws = WebsocketCommunicator(application, "/ws/inbox/", [ORIGIN, (b"cookie", cookie)])
        assert (await ws.connect())[0]
        return ws

    mine, theirs = await inbox_socket(rep), await inbox_socket(other_rep)
    await sync_to_async(services.conversation_mark_read)(
        user=rep, conversation=conversation, message_id=message.pk
    )
    assert await mine.receive_json_from(timeout=3) == {
        "type": "unread.changed",
        "conversation_id": conversation.pk,
    }
    assert await theirs.receive_nothing(timeout=0.3)
    await mine.disconnect()
    await theirs.disconnect()


def test_every_signed_in_page_carries_the_badge_filled_by_script_not_by_a_query(client, rep):
    _c, link = customer_conversation(rep)
    customer_writes(link, "hello")
    client.force_login(rep)
    for url in (reverse("accounts:home"), reverse("crm:deal-list"), INBOX):
        html = client.get(url).content.decode()
        # Rendered empty (the page pays no query for it); attention.js fills it.
        assert re.search(r'data-testid="nav-unread" hidden></span>', html), url
        assert "js/attention.js" in html and 'id="attention-strings"' in html, url
    client.logout()
    assert "js/attention.js" not in client.get(reverse("accounts:login")).content.decode()
