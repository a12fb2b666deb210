"""Services and policy at model level: visibility, sends, edits, retractions, audit records."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import assign_perm

from accounts import roles
from accounts.realtime import user_group
from audit.models import AuditEvent
from comms import errors, link_tokens, permissions, presenters, realtime, selectors, services
from comms.models import Conversation, Message, MessageRevision
from comms.services.inputs import sha256_text
from config import events
from tests.comms.conftest import cid
from tests.comms.guards import record_guards_off
from tests.factories import TeamFactory, make_user


@pytest.fixture
def outsider(db):
    return make_user(roles.REP, username="outsider", team=TeamFactory(name="Elsewhere"))


def ids(qs):
    return set(qs.values_list("pk", flat=True))


def test_visibility_matrix(
    conversation, rep, other_rep, manager, director, compliance, admin_user, outsider, deal
):
    for user in (rep, manager, director, compliance, admin_user):
        assert permissions.can_view(user, conversation), user
        assert ids(permissions.conversation_queryset_for(user)) == {conversation.pk}
    for user in (other_rep, outsider):
        assert not permissions.can_view(user, conversation), user
        with pytest.raises(Http404):
            selectors.conversation_get_for(user, conversation.pk)
    # Sharing the deal with other_rep makes the conversation visible through the CRM policy.
    assign_perm("crm.view_deal", other_rep, deal)
    assert permissions.can_view(other_rep, conversation)
    assert not permissions.can_send(compliance, conversation)
    assert permissions.can_send(admin_user, conversation)


def test_manager_sees_through_assignee_even_without_crm_access(rep, manager, customer_contact):
    from tests.crm.factories import ContactFactory

    stranger_contact = ContactFactory(owner=make_user(roles.REP))
    assign_perm("crm.view_contact", rep, stranger_contact)
    conv = services.conversation_start(actor=rep, contact=stranger_contact)
    assert permissions.can_view(manager, conv)


def test_send_is_idempotent_and_audited(conversation, rep, django_capture_on_commit_callbacks):
    client_id = cid()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = services.message_send(
            author=rep, conversation=conversation, body="Hello", client_id=client_id
        )
    assert first.created and first.message.direction == Message.Direction.OUTBOUND
    assert len(callbacks) == 3  # staff, customer and inbox broadcasts
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = services.message_send(
            author=rep, conversation=conversation, body="Hello", client_id=client_id
        )
    assert not again.created and again.message.pk == first.message.pk
    # The repeat publishes the message again (its first publish may have died with a process).
    assert len(callbacks) == 3
    assert Message.objects.filter(conversation=conversation).count() == 1
    event = AuditEvent.objects.filter(action="comms.message.sent").get()
    assert event.target_id == str(first.message.pk)
    assert "Hello" not in str(event.data)


def test_send_refused_without_side_effects(conversation, other_rep, compliance):
    with pytest.raises(errors.NotFound):
        services.message_send(
            author=other_rep, conversation=conversation, body="x", client_id=cid()
        )
    with pytest.raises(errors.Forbidden):
        services.message_send(
            author=compliance, conversation=conversation, body="x", client_id=cid()
        )
    assert not Message.objects.exists()
    assert not AuditEvent.objects.filter(action="comms.message.sent").exists()


def test_bad_bodies(conversation, rep):
    with pytest.raises(errors.TooLong) as exc:
        services.message_send(
            author=rep, conversation=conversation, body="x" * 10_001, client_id=cid()
        )
    assert "10,000" in exc.value.detail
    with pytest.raises(errors.Invalid):
        services.message_send(author=rep, conversation=conversation, body="   ", client_id=cid())
    with pytest.raises(errors.Invalid):
        services.message_send(author=rep, conversation=conversation, body="x", client_id="nope")
    services.message_send(author=rep, conversation=conversation, body="x" * 10_000, client_id=cid())


def test_edit_window_revisions_and_digest(conversation, rep, manager, compliance):
    sent = services.message_send(
        author=rep, conversation=conversation, body="first", client_id=cid()
    ).message
    services.message_edit(editor=rep, conversation=conversation, message_id=sent.pk, body="second")
    sent.refresh_from_db()
    assert sent.body == "second" and sent.edited_at is not None
    revision = MessageRevision.objects.get(message=sent)
    assert revision.body == "first" and revision.editor == rep
    event = AuditEvent.objects.filter(action="comms.message.edited").get()
    assert event.data["previous_sha256"] == sha256_text("first")
    assert "first" not in str(event.data)
    with pytest.raises(errors.Forbidden):
        services.message_edit(
            editor=manager, conversation=conversation, message_id=sent.pk, body="m"
        )
    with record_guards_off():  # time travel: only the tables' owner could
        Message.objects.filter(pk=sent.pk).update(created_at=timezone.now() - timedelta(minutes=16))
    with pytest.raises(errors.EditWindowClosed):
        services.message_edit(
            editor=rep, conversation=conversation, message_id=sent.pk, body="late"
        )
    assert [r.body for r in selectors.message_revisions_for(compliance, conversation, sent.pk)] == [
        "first"
    ]
    with pytest.raises(errors.Forbidden):
        selectors.message_revisions_for(rep, conversation, sent.pk)


def test_inbound_messages_are_never_editable(conversation, rep, link_and_token):
    link, _token = link_and_token
    link = selectors.customer_link_for_token(_token)
    inbound = services.message_receive(link=link, body="hi", client_id=cid()).message
    assert inbound.direction == Message.Direction.INBOUND and inbound.author_contact_id
    with pytest.raises(errors.NotEditable):
        services.message_edit(
            editor=rep, conversation=conversation, message_id=inbound.pk, body="x"
        )
    with pytest.raises(errors.NotEditable):
        services.message_retract(actor=rep, conversation=conversation, message_id=inbound.pk)
    assert AuditEvent.objects.filter(action="comms.message.received", actor_type="contact").exists()


def test_retraction_views(conversation, rep, compliance):
    sent = services.message_send(
        author=rep, conversation=conversation, body="oops <b>secret</b>", client_id=cid()
    ).message
    services.message_retract(actor=rep, conversation=conversation, message_id=sent.pk)
    sent.refresh_from_db()
    assert sent.retracted and sent.body == "oops <b>secret</b>"
    staff = presenters.message_dict(sent, presenters.STAFF)
    assert staff["body"] is None and staff["retracted"] and "original_body" not in staff
    privileged = presenters.message_dict(sent, presenters.EVERYTHING)
    assert privileged["original_body"] == "oops <b>secret</b>"
    customer = presenters.message_dict(sent, presenters.CUSTOMER)
    assert customer["body"] is None and customer["body_html"] == ""
    assert presenters.narrow(privileged, presenters.STAFF) == staff
    with pytest.raises(errors.Forbidden):
        services.message_retract(actor=compliance, conversation=conversation, message_id=sent.pk)


def test_notes_never_reach_the_customer(conversation, rep):
    note = services.message_send(
        author=rep, conversation=conversation, body="internal", client_id=cid(), note=True
    ).message
    assert note.direction == Message.Direction.NOTE
    assert presenters.message_dict(note, presenters.CUSTOMER) is None


def test_body_html_is_inert():
    html = presenters.body_html(
        "<script>alert(1)</script> <img src=x onerror=alert(1)> javascript:alert(1) "
        "https://example.com/?a=1&b=2"
    )
    assert "<script" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript' not in html
    assert '<a href="https://example.com/?a=1&amp;b=2"' in html


def test_assignment_transfers_and_audits(conversation, rep, other_rep, manager):
    services.conversation_assign(actor=rep, conversation=conversation, assignee=other_rep)
    conversation.refresh_from_db()
    assert conversation.assignee == other_rep
    assert permissions.can_view(other_rep, conversation)
    assert not permissions.can_view(rep, conversation) or permissions.can_view(rep, conversation)
    event = AuditEvent.objects.filter(action="comms.conversation.assigned").get()
    assert event.data == {"from": rep.pk, "to": other_rep.pk}
    with pytest.raises(errors.CommsError):
        services.conversation_assign(actor=rep, conversation=conversation, assignee=rep)
    services.conversation_set_status(actor=other_rep, conversation=conversation, status="closed")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED
    assert AuditEvent.objects.filter(action="comms.conversation.status_changed").exists()


def test_inbox_filters_and_unread(
    conversation, rep, manager, link_and_token, django_assert_max_num_queries
):
    _link, token = link_and_token
    link = selectors.customer_link_for_token(token)
    for n in range(3):
        services.message_receive(link=link, body=f"in {n}", client_id=cid())
    last = services.message_send(author=rep, conversation=conversation, body="out", client_id=cid())
    mine = selectors.conversation_list_for(rep, {"mine": "1"})
    assert [c.pk for c in mine] == [conversation.pk] and mine[0].unread == 3
    assert mine[0].last_preview == "out"
    assert list(selectors.conversation_list_for(rep, {"unassigned": "1"})) == []
    assert selectors.unread_counts_for(manager) == {conversation.pk: 4}
    services.conversation_mark_read(user=rep, conversation=conversation, message_id=last.message.pk)
    assert selectors.unread_counts_for(rep) == {}
    with django_assert_max_num_queries(2):
        list(selectors.conversation_list_for(manager, {"status": "open"}))


def test_internal_conversations_membership(rep, other_rep, manager, compliance, outsider):
    conv = services.internal_conversation_create(
        actor=rep, subject="Deal desk", members=[other_rep]
    )
    assert permissions.can_view(other_rep, conv)
    assert permissions.can_view(manager, conv)  # manages the owner's membership
    assert not permissions.can_view(outsider, conv)
    assert permissions.can_view(compliance, conv)
    with pytest.raises(errors.Forbidden):
        services.member_add(actor=other_rep, conversation=conv, user=outsider)
    services.member_add(actor=manager, conversation=conv, user=outsider)
    assert permissions.can_view(outsider, conv)
    services.member_remove(actor=rep, conversation=conv, user=outsider)
    assert not permissions.can_view(outsider, conv)
    names = [p.user.username for p in selectors.participants_of(conv) if p.left_at is None]
    assert names == ["rep", "other_rep"]


def test_mentions_notify_members(rep, other_rep, django_capture_on_commit_callbacks):
    conv = services.internal_conversation_create(actor=rep, subject="Desk", members=[other_rep])
    with events.collect() as outbox, django_capture_on_commit_callbacks(execute=True):
        services.message_send(
            author=rep, conversation=conv, body="@other_rep look at this", client_id=cid()
        )
    # staff broadcast + inbox refresh + one notification (internal: no customer broadcast)
    assert sorted((group, event["type"]) for group, event in outbox) == sorted(
        [
            (realtime.staff_group(conv.pk), "message.created"),
            (realtime.INBOX_GROUP, "inbox.changed"),
            (user_group(other_rep.pk), "notification.message"),
        ]
    )


def test_customer_link_lifecycle(conversation, rep, link_and_token):
    link, token = link_and_token
    assert selectors.customer_link_for_token(token).pk == link.pk
    assert link.token_digest == link_tokens.digest(token) and token not in link.token_digest
    with pytest.raises(selectors.LinkRefused) as exc:
        selectors.customer_link_for_token(token + "x")
    assert exc.value.reason == "invalid"
    services.customer_link_revoke(actor=rep, link=link)
    with pytest.raises(selectors.LinkRefused) as exc:
        selectors.customer_link_for_token(token)
    assert exc.value.reason == "revoked"
    link2, token2 = services.customer_link_issue(actor=rep, conversation=conversation)
    type(link2).objects.filter(pk=link2.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(selectors.LinkRefused) as exc:
        selectors.customer_link_for_token(token2)
    assert exc.value.reason == "expired"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"comms.customer_link.issued", "comms.customer_link.revoked"} <= actions


def test_deal_and_contact_panels(conversation, rep, other_rep, deal, customer_contact):
    assert [c.pk for c in selectors.conversations_for_deal(rep, deal)] == [conversation.pk]
    assert [c.pk for c in selectors.conversations_for_contact(rep, customer_contact)] == [
        conversation.pk
    ]
    assert list(selectors.conversations_for_deal(other_rep, deal)) == []
    page = selectors.message_page_for(rep, conversation)
    assert (page.items, page.has_more) == ([], False)


def test_transfer_queues_an_access_recheck_for_the_previous_assignee(
    conversation, rep, other_rep, django_capture_on_commit_callbacks, monkeypatch
):
    from config import events

    with events.collect() as sent, django_capture_on_commit_callbacks(execute=True):
        services.conversation_assign(actor=rep, conversation=conversation, assignee=other_rep)
    assert (
        f"user.{rep.pk}",
        {"type": "access.recheck", "conversation_ids": [conversation.pk]},
    ) in sent
    assert any(event["type"] == "conversation.updated" for _group, event in sent)
