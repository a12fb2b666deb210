"""Staff pages: inbox, conversation page and its controls, the chat panel on deal and contact
pages, and the inbox socket."""

import re

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from audit.models import AuditEvent
from comms import services
from comms.models import Conversation, CustomerLink
from config.asgi import application
from tests.comms.conftest import cid
from tests.comms.sockets import ORIGIN, _cookie
from tests.crm.factories import ContactFactory
from tests.factories import make_channel_account

pytestmark = pytest.mark.django_db


def signed_in(client, user):
    client.force_login(user)
    return client


def detail_url(conversation):
    return reverse("comms:conversation-detail", args=[conversation.pk])


def action(client, conversation, **data):
    return client.post(reverse("comms:conversation-action", args=[conversation.pk]), data)


def test_inbox_lists_what_the_person_may_see_with_unread_counts(
    client, rep, other_rep, customer_contact, conversation
):
    # The customer writes through the link: an inbound, unread message.
    link, _token = services.customer_link_issue(actor=rep, conversation=conversation)
    services.message_receive(link=link, body="Is the quote ready?", client_id=cid())
    page = signed_in(client, rep).get(reverse("comms:inbox")).content.decode()
    assert str(customer_contact) in page
    assert "Is the quote ready?" in page  # preview
    assert re.search(r'class="unread"[^>]*>1<', page)
    other = signed_in(client, other_rep).get(reverse("comms:inbox") + "?box=all")
    assert str(customer_contact) not in other.content.decode()


def test_inbox_boxes_and_filters(client, rep, manager, customer_contact, conversation):
    signed_in(client, manager)
    mine = client.get(reverse("comms:inbox") + "?box=mine").content.decode()
    assert str(customer_contact) not in mine  # assigned to the rep, not the manager
    everything = client.get(reverse("comms:inbox") + "?box=all").content.decode()
    assert str(customer_contact) in everything  # the rep reports to the manager
    closed = client.get(reverse("comms:inbox") + "?box=all&status=closed").content.decode()
    assert str(customer_contact) not in closed
    assert client.get(reverse("comms:inbox") + "?box=nonsense&status=x&kind=y").status_code == 200


@pytest.mark.parametrize("size", [3, 30])
def test_inbox_queries_do_not_grow_with_conversations(
    client, rep, size, django_assert_max_num_queries
):
    for _ in range(size):
        contact = ContactFactory(owner=rep)
        services.conversation_start(actor=rep, contact=contact)
    signed_in(client, rep)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("comms:inbox"))
    assert response.content.decode().count("data-conversation=") == size


def test_conversation_page_is_404_for_someone_without_access(client, other_rep, conversation):
    assert signed_in(client, other_rep).get(detail_url(conversation)).status_code == 404
    response = action(client, conversation, action="status", status="closed")
    assert response.status_code == 404
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_compliance_reads_but_gets_no_composer(client, compliance, conversation):
    page = signed_in(client, compliance).get(detail_url(conversation)).content.decode()
    assert "data-chat" in page and 'data-can-send="false"' in page
    assert 'data-role="composer"' not in page
    assert "You can read this conversation but not write in it." in page


def test_close_reopen_and_assign_from_the_conversation_page(
    client, rep, other_rep, manager, conversation
):
    signed_in(client, rep)
    assert action(client, conversation, action="status", status="closed").status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    action(client, conversation, action="status", status="open")
    conversation.refresh_from_db()
    assert conversation.status == "open"
    signed_in(client, manager)
    action(client, conversation, action="assign", assignee=other_rep.pk)
    conversation.refresh_from_db()
    assert conversation.assignee_id == other_rep.pk
    assert AuditEvent.objects.filter(action="comms.conversation.assigned").exists()
    response = action(client, conversation, action="assign", assignee="999999")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Choose an active person." in page
    response = action(client, conversation, action="explode")
    assert "Unknown action." in client.get(response["Location"]).content.decode()


def test_customer_link_is_shown_once_then_revoked(client, rep, conversation):
    signed_in(client, rep)
    response = action(client, conversation, action="link-issue")
    first = client.get(response["Location"]).content.decode()
    link_url = re.search(r'value="http://testserver(/c/[^"]+/)"', first).group(1)
    assert client.get(link_url).status_code == 200  # the customer page opens
    # Shown once: the next visit no longer carries the token.
    assert link_url not in client.get(detail_url(conversation)).content.decode()
    link = CustomerLink.objects.get(conversation=conversation)
    action(client, conversation, action="link-revoke", link=link.pk)
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert client.get(link_url).status_code == 410


def test_start_a_conversation_from_the_deal_page(client, rep, deal, customer_contact):
    make_channel_account("whatsapp")
    signed_in(client, rep)
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "Start a conversation" in page and "No conversations yet." in page
    response = client.post(
        reverse("comms:conversation-start"),
        {
            "contact": customer_contact.pk,
            "deal": deal.pk,
            "kind": "whatsapp",
            "subject": "Renewal",
            "next": deal.get_absolute_url(),
        },
    )
    conversation = Conversation.objects.get(deal=deal)
    assert conversation.kind == "whatsapp" and conversation.assignee_id == rep.pk
    assert (
        response["Location"]
        == f"{deal.get_absolute_url()}?conversation={conversation.pk}#conversations"
    )
    page = client.get(response["Location"]).content.decode()
    assert f'data-conversation-id="{conversation.pk}"' in page
    assert f'data-ws-path="/ws/conversations/{conversation.pk}/"' in page
    assert 'id="chat-strings-' in page  # translated strings for the script


def test_starting_with_a_contact_one_cannot_see_is_404(client, other_rep, customer_contact):
    signed_in(client, other_rep)
    response = client.post(reverse("comms:conversation-start"), {"contact": customer_contact.pk})
    assert response.status_code == 404
    response = client.post(reverse("comms:conversation-start"), {"contact": "not-a-number"})
    assert response.status_code == 404
    assert not Conversation.objects.exists()


def test_contact_page_shows_its_conversations(client, rep, customer_contact, conversation):
    page = signed_in(client, rep).get(customer_contact.get_absolute_url()).content.decode()
    assert 'data-testid="chat-panel"' in page and "js/chat.js" in page


def test_names_and_subjects_are_escaped_on_staff_pages(client, rep, deal):
    evil = ContactFactory(owner=rep, first_name="<script>alert(1)</script>", last_name="X")
    deal.contacts.add(evil)
    conv = services.conversation_start(
        actor=rep, contact=evil, deal=deal, subject='<img src=x onerror="alert(2)">'
    )
    services.message_send(
        author=rep, conversation=conv, body="<script>alert(3)</script>", client_id=cid()
    )
    signed_in(client, rep)
    for url in (reverse("comms:inbox"), detail_url(conv), deal.get_absolute_url()):
        page = client.get(url).content.decode()
        assert "<script>alert(" not in page and '<img src=x onerror="alert(2)">' not in page, url


def test_deal_page_queries_do_not_grow_with_messages(
    client, rep, deal, conversation, django_assert_max_num_queries
):
    signed_in(client, rep)
    client.get(deal.get_absolute_url())
    with django_assert_max_num_queries(40) as small:
        client.get(deal.get_absolute_url())
    for _ in range(30):
        services.message_send(author=rep, conversation=conversation, body="hi", client_id=cid())
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(deal.get_absolute_url())


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_inbox_socket_passes_on_only_visible_conversations(rep, other_rep, conversation):
    async def inbox_socket(user):
        cookie = await sync_to_async(_cookie)(user)
        ws = WebsocketCommunicator(application, "/ws/inbox/", [ORIGIN, (b"cookie", cookie)])
        assert (await ws.connect())[0]
        return ws

    mine, theirs = await inbox_socket(rep), await inbox_socket(other_rep)
    await sync_to_async(services.message_send)(
        author=rep, conversation=conversation, body="hello", client_id=cid()
    )
    assert await mine.receive_json_from(timeout=3) == {
        "type": "inbox.changed",
        "conversation_id": conversation.pk,
    }
    assert await theirs.receive_nothing(timeout=0.5)
    await mine.disconnect()
    await theirs.disconnect()
    anonymous = WebsocketCommunicator(application, "/ws/inbox/", [ORIGIN])
    connected, code = await anonymous.connect()
    assert not connected and code == 4401
