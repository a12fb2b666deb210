"""Gap-free sync (docs/realtime.md): change numbers, the `since` catch-up for staff and customers,
every page of it, and what a page needs to see that it missed something."""

import uuid

import pytest

from comms import services
from comms.models import Conversation, Message
from comms.services.messages import customer_draft, staff_draft

pytestmark = pytest.mark.django_db


def cid() -> str:
    return str(uuid.uuid4())


def send(rep, conversation, body, note=False):
    return services.message_send(
        author=rep, conversation=conversation, body=body, client_id=cid(), note=note
    ).message


def numbers(conversation):
    return list(
        Message.objects.filter(conversation=conversation)
        .order_by("pk")
        .values_list("body", "seq", "customer_seq")
    )


def test_every_change_takes_the_next_number_and_customers_count_only_theirs(
    rep, conversation, link_and_token
):
    link, _token = link_and_token
    hello = send(rep, conversation, "hello")
    send(rep, conversation, "psst", note=True)
    services.message_receive(link=link, body="hi!", client_id=cid())
    assert numbers(conversation) == [("hello", 1, 1), ("psst", 2, None), ("hi!", 3, 2)]
    services.message_edit(editor=rep, conversation=conversation, message_id=hello.pk, body="Hello")
    hello.refresh_from_db()
    assert (hello.seq, hello.customer_seq) == (4, 3)  # the edit is the latest change
    services.message_retract(actor=rep, conversation=conversation, message_id=hello.pk)
    hello.refresh_from_db()
    assert (hello.seq, hello.customer_seq) == (5, 4)
    conversation.refresh_from_db()
    assert (conversation.seq, conversation.customer_seq) == (5, 4)


def test_a_batch_numbers_each_conversation_in_arrival_order(rep, conversation, customer_contact):
    other = services.conversation_start(actor=rep, contact=customer_contact, subject="Other")
    drafts = [
        staff_draft(author=rep, conversation=c, body=b, client_id=cid(), note=n)
        for c, b, n in [
            (conversation, "a1", False),
            (other, "b1", False),
            (conversation, "a2", True),
            (other, "b2", False),
            (conversation, "a3", False),
        ]
    ]
    results = services.messages_store(drafts)
    assert all(r.created for r in results)
    assert numbers(conversation) == [("a1", 1, 1), ("a2", 2, None), ("a3", 3, 2)]
    assert numbers(other) == [("b1", 1, 1), ("b2", 2, 2)]
    counters = Conversation.objects.filter(pk__in=[conversation.pk, other.pk]).order_by("pk")
    assert list(counters.values_list("seq", "customer_seq")) == [(3, 2), (2, 2)]


def test_staff_catch_up_returns_every_change_after_a_number_in_pages(client, rep, conversation):
    first = send(rep, conversation, "m0")
    for n in range(1, 7):
        send(rep, conversation, f"m{n}")
    services.message_edit(editor=rep, conversation=conversation, message_id=first.pk, body="M0")
    client.force_login(rep)
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    seen, since, pages = [], 2, 0
    while True:
        page = client.get(url, {"since": since, "limit": 2}).json()
        pages += 1
        seen += [(m["body"], m["seq"]) for m in page["results"]]
        since = max([since] + [m["seq"] for m in page["results"]])
        assert page["seq"] == 8
        if not page["has_more"]:
            break
    # m0 changed at 8 (the edit): caught up although its id is below everything else.
    assert seen == [("m2", 3), ("m3", 4), ("m4", 5), ("m5", 6), ("m6", 7), ("M0", 8)]
    assert pages == 3 and since == 8
    newest = client.get(url).json()
    assert newest["seq"] == 8 and newest["results"][0]["seq"] == 7


def test_customer_catch_up_has_no_notes_and_shows_retractions(
    client, rep, conversation, link_and_token
):
    _link, token = link_and_token
    kept = send(rep, conversation, "kept")
    send(rep, conversation, "staff only", note=True)
    gone = send(rep, conversation, "oops")
    services.message_retract(actor=rep, conversation=conversation, message_id=gone.pk)
    page = client.get(f"/c/{token}/messages/", {"since": 0}).json()
    assert [(m["id"], m["body"], m["seq"]) for m in page["results"]] == [
        (kept.pk, "kept", 1),
        (gone.pk, None, 3),  # retracted: the page removes it
    ]
    assert page["seq"] == 3 and page["has_more"] is False
    # The first page load knows its number, and shows neither the note nor the retraction.
    html = client.get(f"/c/{token}/").content.decode()
    assert '"seq": 3' in html and "staff only" not in html and "oops" not in html


@pytest.mark.parametrize("since", ["x", "-1", str(2**70)])
def test_a_bad_since_is_refused_not_a_500(client, rep, conversation, link_and_token, since):
    _link, token = link_and_token
    client.force_login(rep)
    api = client.get(f"/api/v1/conversations/{conversation.pk}/messages/", {"since": since})
    assert api.status_code == 400 and api.json()["error"] == "invalid"
    assert client.get(f"/c/{token}/messages/", {"since": since}).status_code == 404


def test_a_customer_resend_numbers_nothing(rep, conversation, link_and_token):
    link, _token = link_and_token
    client_id = cid()
    first = services.message_store(customer_draft(link=link, body="hi", client_id=client_id))
    again = services.message_store(customer_draft(link=link, body="hi", client_id=client_id))
    assert (first.created, again.created) == (True, False)
    conversation.refresh_from_db()
    assert (conversation.seq, conversation.customer_seq) == (1, 1)


def test_catch_up_costs_the_same_queries_however_long_the_conversation(
    client, rep, conversation, django_assert_max_num_queries
):
    for n in range(30):
        send(rep, conversation, f"m{n}")
    client.force_login(rep)
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    client.get(url, {"since": 0})  # warm the session
    with django_assert_max_num_queries(12) as few:
        client.get(url, {"since": 0, "limit": 5})
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url, {"since": 0, "limit": 30})
