# ruff: noqa: F811 - pytest fixtures imported from tests.governance.dlp_fixtures
"""DLP on what staff send: each detector through the send path, each action, file names, edits,
the customer's redacted copy, and who may change the policy."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from comms import presenters, services
from comms.models import Attachment, Message
from governance.models import DlpFlag, DlpRule, ReviewItem
from governance.services import dlp as dlp_services
from tests.governance.dlp_fixtures import (  # noqa: F401 (fixtures)
    cid,
    conversation,
    internal,
    link_and_token,
    set_action,
)

CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"


def send(client, conversation, body, **extra):
    return client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"client_id": cid(), "body": body, **extra},
        content_type="application/json",
    )


def governance_events(action=None):
    decisions = ["blocked", "warned", "flagged", "redacted"]
    events = AuditEvent.objects.filter(action__in=[f"governance.dlp.{d}" for d in decisions])
    if action:
        events = events.filter(action=action)
    return list(events.order_by("seq"))


def assert_secret_not_in_ledger(secret: str):
    digits = secret.replace(" ", "")
    for event in AuditEvent.objects.all():
        text = str(event.data)
        assert secret not in text and digits not in text.replace(" ", "")


@pytest.mark.parametrize(
    ("detector", "valid", "invalid"),
    [
        ("card", "4111 1111 1111 1111", "4111 1111 1111 1112"),
        ("card", "378282246310005", "378282246310006"),
        ("iban", "DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 01"),
        ("br_cpf", "529.982.247-25", "529.982.247-26"),
        ("br_cnpj", "11.222.333/0001-81", "11.222.333/0001-82"),
        ("es_dni", "12345678Z", "12345678A"),
        ("es_nie", "X1234567L", "X1234567A"),
        ("us_ssn", "536-90-4399", "000-12-3456"),
    ],
)
def test_each_detector_blocks_only_numbers_whose_check_digits_hold(
    client, rep, admin_user, conversation, detector, valid, invalid
):
    set_action(admin_user, detector, "web", "block")
    client.force_login(rep)
    refused = send(client, conversation, f"Here it is: {valid}.")
    assert refused.status_code == 400
    assert refused.json()["error"] == "dlp_blocked"
    assert not Message.objects.filter(conversation=conversation).exists()
    accepted = send(client, conversation, f"Here it is: {invalid}.")
    assert accepted.status_code == 201
    assert accepted.json()["body"] == f"Here it is: {invalid}."


def test_block_stores_nothing_names_the_detector_and_audits_without_the_number(
    client, rep, conversation
):
    client.force_login(rep)  # cards are blocked on web chat by default
    before = Message.objects.count()
    response = send(client, conversation, f"Your card {CARD} is on file")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "dlp_blocked" and body["confirm"] is False
    assert body["detectors"] == ["Payment card number"]
    assert "Payment card number" in body["detail"]
    assert Message.objects.count() == before
    # A confirmation does not get past a block.
    assert send(client, conversation, f"card {CARD}", confirm_dlp=True).status_code == 400
    assert Message.objects.count() == before
    [event, _second] = governance_events("governance.dlp.blocked")
    assert event.actor_id == rep.pk
    assert event.data["detectors"] == ["card"]
    assert event.data["findings"] == [
        {"detector": "card", "where": "body", "redacted": "•••• •••• •••• 1111"}
    ]
    assert_secret_not_in_ledger(CARD)


def test_allow_sends_and_records_no_decision(client, rep, admin_user, conversation):
    set_action(admin_user, "card", "web", "allow")
    client.force_login(rep)
    response = send(client, conversation, f"card {CARD}")
    assert response.status_code == 201
    assert "redacted_for_customer" not in response.json()
    assert governance_events() == []
    assert not DlpFlag.objects.exists()


def test_warn_refuses_until_confirmed_then_flags_for_review(client, rep, conversation):
    client.force_login(rep)  # IBANs warn on web chat by default
    response = send(client, conversation, f"Pay to {IBAN}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "dlp_warning" and body["confirm"] is True
    assert body["detectors"] == ["IBAN"]
    assert not Message.objects.filter(conversation=conversation).exists()
    assert governance_events() == []  # a warning shown is not a decision yet

    response = send(client, conversation, f"Pay to {IBAN}", confirm_dlp=True)
    assert response.status_code == 201
    message = Message.objects.get(conversation=conversation)
    assert message.body == f"Pay to {IBAN}" and message.customer_body is None
    flag = DlpFlag.objects.get()
    assert flag.message == message and flag.action == "warn" and flag.author == rep
    assert flag.findings == [
        {"detector": "iban", "where": "body", "redacted": "•••• •••• •••• •••• ••30 00"}
    ]
    item = ReviewItem.objects.get()
    assert item.reason == "dlp" and item.flag == flag and item.rep == rep
    assert item.message == message and item.status == "open" and item.detectors == ["iban"]
    [event] = governance_events()
    assert event.action == "governance.dlp.warned" and event.target_id == str(message.pk)
    assert_secret_not_in_ledger(IBAN)


def test_confirm_dlp_must_be_a_boolean(client, rep, conversation):
    client.force_login(rep)
    response = send(client, conversation, "hello", confirm_dlp="perhaps")
    assert response.status_code == 400


def test_flag_stores_sends_and_queues_for_review(client, rep, admin_user, conversation):
    set_action(admin_user, "iban", "web", "flag")
    client.force_login(rep)
    response = send(client, conversation, f"Pay to {IBAN}")
    assert response.status_code == 201
    message = Message.objects.get(conversation=conversation)
    assert message.customer_text == f"Pay to {IBAN}"
    flag = DlpFlag.objects.get()
    assert flag.action == "flag" and flag.detectors == ["iban"] and flag.channel == "web"
    assert ReviewItem.objects.get().flag == flag
    [event] = governance_events()
    assert event.action == "governance.dlp.flagged"
    assert_secret_not_in_ledger(IBAN)


def test_redact_customer_gets_masked_text_staff_and_record_the_original(
    client, rep, compliance, admin_user, conversation, link_and_token
):
    set_action(admin_user, "card", "web", "redact")
    _link, token = link_and_token
    client.force_login(rep)
    text = f"Card {CARD} is charged"
    response = send(client, conversation, text)
    assert response.status_code == 201
    staff = response.json()
    assert staff["body"] == text and staff["redacted_for_customer"] is True
    assert staff["customer_body"] == "Card •••• •••• •••• 1111 is charged"
    message = Message.objects.get(conversation=conversation)
    assert message.body == text
    assert message.customer_body == "Card •••• •••• •••• 1111 is charged"
    # The customer's catch-up and the customer form of the socket events.
    page = client.get(f"/c/{token}/messages/").json()["results"]
    assert [m["body"] for m in page] == ["Card •••• •••• •••• 1111 is charged"]
    assert "4111" not in page[0]["body_html"].replace("1111 is", "")
    assert "redacted_for_customer" not in page[0]
    assert presenters.message_dict(message, presenters.CUSTOMER)["body"].startswith("Card ••••")
    # The customer's chat page embeds the history: redacted there too.
    html = client.get(f"/c/{token}/").content.decode()
    assert "4111 1111" not in html and " 1111 is charged" in html
    # Compliance reads the original.
    client.force_login(compliance)
    seen = client.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()["results"]
    assert seen[0]["body"] == text and seen[0]["redacted_for_customer"] is True
    [event] = governance_events()
    assert event.action == "governance.dlp.redacted"
    assert_secret_not_in_ledger(CARD)
    assert not DlpFlag.objects.exists()


def test_redacted_text_is_what_a_channel_delivers(rep, admin_user, conversation, monkeypatch):
    """The connectors' outbound payloads read the customer's copy."""
    from connectors import outbound

    set_action(admin_user, "card", "web", "redact")
    result = services.message_send(
        author=rep, conversation=conversation, body=f"card {CARD}", client_id=cid()
    )
    sent = {}

    class FakeSms:
        def __init__(self, config):
            pass

        def send_sms(self, *, to, body):
            sent["body"] = body
            return type("R", (), {"provider_id": "x"})()

    monkeypatch.setattr(outbound, "TwilioClient", FakeSms)
    monkeypatch.setattr(outbound, "recipient", lambda conversation: "+5511999999999")
    account = type(
        "A", (), {"kind": "sms", "setting": lambda self, k: "", "secret": lambda s, k: ""}
    )
    delivery = type("D", (), {"account": account(), "template": None})()
    outbound._send(delivery, result.message)
    assert sent["body"] == "card •••• •••• •••• 1111"


def test_notes_follow_the_internal_channel(client, rep, conversation, internal):
    client.force_login(rep)
    # A card in a note warns (internal default) instead of being blocked (web default).
    response = send(client, conversation, f"card {CARD}", note=True)
    assert response.status_code == 400 and response.json()["error"] == "dlp_warning"
    assert (
        send(client, conversation, f"card {CARD}", note=True, confirm_dlp=True).status_code == 201
    )
    assert send(client, internal, f"card {CARD}").json()["error"] == "dlp_warning"


def test_redact_is_not_offered_inside(admin_user, db):
    with pytest.raises(Exception) as refused:
        dlp_services.dlp_policy_set(actor=admin_user, actions={("card", "internal"): "redact"})
    assert getattr(refused.value, "status", None) == 400
    assert not DlpRule.objects.exists()


def test_attachment_names_are_checked(client, rep, admin_user, conversation, link_and_token):
    client.force_login(rep)
    url = f"/api/v1/conversations/{conversation.pk}/attachments/"
    upload = SimpleUploadedFile(f"card {CARD}.pdf", b"%PDF-1.4", content_type="application/pdf")
    response = client.post(url, {"file": upload, "client_id": cid()})
    assert response.status_code == 400 and response.json()["error"] == "dlp_blocked"
    assert not Attachment.objects.exists() and not Message.objects.exists()
    [event] = governance_events("governance.dlp.blocked")
    assert event.data["findings"][0]["where"] == "file_name"

    set_action(admin_user, "card", "web", "redact")
    client.force_login(rep)
    upload = SimpleUploadedFile(f"card {CARD}.pdf", b"%PDF-1.4", content_type="application/pdf")
    response = client.post(url, {"file": upload, "client_id": cid()})
    assert response.status_code == 201
    assert response.json()["attachments"][0]["name"] == f"card {CARD}.pdf"
    attachment = Attachment.objects.get()
    assert attachment.customer_name == "card •••• •••• •••• 1111.pdf"
    _link, token = link_and_token
    page = client.get(f"/c/{token}/messages/").json()["results"]
    assert page[0]["attachments"][0]["name"] == "card •••• •••• •••• 1111.pdf"


def test_warned_upload_goes_with_confirmation(client, rep, conversation):
    client.force_login(rep)
    url = f"/api/v1/conversations/{conversation.pk}/attachments/"
    name = "dni 12345678Z.pdf"
    upload = SimpleUploadedFile(name, b"%PDF-1.4", content_type="application/pdf")
    assert client.post(url, {"file": upload}).json()["error"] == "dlp_warning"
    upload = SimpleUploadedFile(name, b"%PDF-1.4", content_type="application/pdf")
    response = client.post(url, {"file": upload, "confirm_dlp": "true"})
    assert response.status_code == 201
    assert DlpFlag.objects.get().findings[0]["where"] == "file_name"


def test_edits_are_checked_like_sends(client, rep, admin_user, conversation, link_and_token):
    client.force_login(rep)
    message = send(client, conversation, "Your number is below").json()
    url = f"/api/v1/conversations/{conversation.pk}/messages/{message['id']}/"
    response = client.patch(url, {"body": f"card {CARD}"}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "dlp_blocked"
    assert Message.objects.get(pk=message["id"]).body == "Your number is below"
    assert governance_events("governance.dlp.blocked")[0].data["edit"] is True

    response = client.patch(url, {"body": f"iban {IBAN}"}, content_type="application/json")
    assert response.json()["error"] == "dlp_warning"
    response = client.patch(
        url, {"body": f"iban {IBAN}", "confirm_dlp": True}, content_type="application/json"
    )
    assert response.status_code == 200
    assert DlpFlag.objects.get().edit is True

    set_action(admin_user, "card", "web", "redact")
    client.force_login(rep)
    response = client.patch(url, {"body": f"card {CARD}"}, content_type="application/json")
    assert response.status_code == 200
    stored = Message.objects.get(pk=message["id"])
    assert stored.body == f"card {CARD}" and stored.customer_body == "card •••• •••• •••• 1111"
    _link, token = link_and_token
    assert client.get(f"/c/{token}/messages/").json()["results"][0]["body"] == (
        "card •••• •••• •••• 1111"
    )
    # Edited back to plain text: the customer gets the text again.
    client.patch(url, {"body": "nothing secret"}, content_type="application/json")
    assert Message.objects.get(pk=message["id"]).customer_body is None


def test_admin_patterns_and_keywords_flag_by_default(client, rep, admin_user, conversation):
    dlp_services.dlp_pattern_create(
        actor=admin_user, name="contract", kind="pattern", text=r"CT-\d{6}"
    )
    dlp_services.dlp_pattern_create(
        actor=admin_user, name="insider", kind="keyword", text="insider tip\ndica quente"
    )
    client.force_login(rep)
    assert send(client, conversation, "contract CT-123456, an Insider Tip").status_code == 201
    flag = DlpFlag.objects.get()
    assert flag.detectors == ["pattern:contract", "keyword:insider"]
    set_action(admin_user, "keyword:insider", "web", "block")
    client.force_login(rep)
    response = send(client, conversation, "dica quente!")
    assert response.status_code == 400 and response.json()["detectors"] == ["insider"]


def test_bad_patterns_are_refused(admin_user, db):
    for text in ("(unclosed", "a*"):
        with pytest.raises(Exception) as refused:
            dlp_services.dlp_pattern_create(actor=admin_user, name="x", kind="pattern", text=text)
        assert refused.value.status == 400


@pytest.mark.parametrize("actor", ["rep", "manager", "compliance"])
def test_only_admins_change_the_policy(request, actor, db):
    from django.http import Http404

    user = request.getfixturevalue(actor)
    with pytest.raises(Http404):
        dlp_services.dlp_policy_set(actor=user, actions={("card", "web"): "allow"})
    with pytest.raises(Http404):
        dlp_services.dlp_pattern_create(actor=user, name="x", kind="keyword", text="x")
    assert not DlpRule.objects.exists()


def test_policy_change_is_audited_and_seen_at_once(client, rep, admin_user, conversation):
    client.force_login(rep)
    assert send(client, conversation, f"card {CARD}").status_code == 400  # cached: block
    set_action(admin_user, "card", "web", "allow")
    event = AuditEvent.objects.get(action="governance.dlp.policy_changed")
    assert event.data["changes"] == [
        {"detector": "card", "channel": "web", "from": "block", "to": "allow"}
    ]
    client.force_login(rep)
    assert send(client, conversation, f"card {CARD}").status_code == 201


def test_a_clean_send_costs_no_more_queries(
    client, rep, conversation, django_assert_max_num_queries
):
    client.force_login(rep)
    send(client, conversation, "warm the policy cache")
    with django_assert_max_num_queries(12):
        assert send(client, conversation, "hello again").status_code == 201


# --- the chat socket ----------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_socket_send_gets_error_frames_for_block_and_warn_and_acks_a_confirmation(
    rep, conversation
):
    from channels.db import database_sync_to_async

    from tests.comms.sockets import frame, staff_socket

    ws, ok, _code = await staff_socket(rep, conversation.pk)
    assert ok
    await frame(ws, "ready")
    blocked = cid()
    await ws.send_json_to({"action": "send", "client_id": blocked, "body": f"card {CARD}"})
    error = await frame(ws, "error")
    assert error["error"] == "dlp_blocked" and error["client_id"] == blocked
    assert error["detectors"] == ["Payment card number"] and error["confirm"] is False
    warned = cid()
    await ws.send_json_to({"action": "send", "client_id": warned, "body": f"iban {IBAN}"})
    error = await frame(ws, "error")
    assert error["error"] == "dlp_warning" and error["confirm"] is True
    assert error["client_id"] == warned
    count = database_sync_to_async(Message.objects.filter(conversation=conversation).count)
    assert await count() == 0
    await ws.send_json_to(
        {"action": "send", "client_id": warned, "body": f"iban {IBAN}", "confirm_dlp": True}
    )
    ack = await frame(ws, "ack")
    assert ack["client_id"] == warned and ack["duplicate"] is False
    assert await count() == 1
    assert await database_sync_to_async(DlpFlag.objects.count)() == 1
    await ws.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_customer_socket_gets_the_redacted_copy_staff_the_original(
    rep, admin_user, conversation, link_and_token
):
    from channels.db import database_sync_to_async

    from tests.comms.sockets import customer_socket, frame, staff_socket

    await database_sync_to_async(set_action)(admin_user, "card", "web", "redact")
    _link, token = link_and_token
    staff, ok, _ = await staff_socket(rep, conversation.pk)
    assert ok
    await frame(staff, "ready")
    customer, ok, _ = await customer_socket(token)
    assert ok
    await frame(customer, "ready")
    await staff.send_json_to({"action": "send", "client_id": cid(), "body": f"card {CARD}"})
    await frame(staff, "ack")
    mine = await frame(staff, "message.created")
    assert mine["message"]["body"] == f"card {CARD}"
    assert mine["message"]["redacted_for_customer"] is True
    theirs = await frame(customer, "message.created")
    assert theirs["message"]["body"] == "card •••• •••• •••• 1111"
    assert "4111 1111" not in str(theirs)
    await staff.disconnect()
    await customer.disconnect()


def test_the_database_keeps_the_customers_copy_as_sent(
    client, rep, admin_user, conversation, link_and_token
):
    from django.db import DatabaseError, connection, transaction

    set_action(admin_user, "card", "web", "redact")
    client.force_login(rep)
    message_id = send(client, conversation, f"card {CARD}").json()["id"]
    upload = SimpleUploadedFile(f"card {CARD}.pdf", b"%PDF-1.4", content_type="application/pdf")
    client.post(f"/api/v1/conversations/{conversation.pk}/attachments/", {"file": upload})
    attachment = Attachment.objects.get()
    statements = [
        ("UPDATE comms_message SET customer_body = %s WHERE id = %s", ["card 4111", message_id]),
        ("UPDATE comms_message SET customer_body = NULL WHERE id = %s", [message_id]),
        ("UPDATE comms_attachment SET customer_name = %s WHERE id = %s", ["x.pdf", attachment.pk]),
    ]
    for statement, params in statements:
        with (
            pytest.raises(DatabaseError, match="record is kept"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, params)
    assert Message.objects.get(pk=message_id).customer_body == "card •••• •••• •••• 1111"
