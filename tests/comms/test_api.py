"""REST API: same policy, same services and the same <message> as the socket."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from audit.models import AuditEvent
from comms import presenters, services
from comms.models import Attachment, Message


def cid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def api(client, rep):
    client.force_login(rep)
    return client


def url(conversation, rest=""):
    return f"/api/v1/conversations/{conversation.pk}/{rest}"


def test_other_rep_cannot_read_conversation(client, other_rep, conversation):
    client.force_login(other_rep)
    for path in ("", "messages/", "links/", "members/"):
        response = client.get(url(conversation, path))
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"
    response = client.post(
        url(conversation, "messages/"),
        {"client_id": cid(), "body": "x"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert client.get("/api/v1/conversations/").json()["results"] == []


def test_send_parity_with_the_socket_and_duplicates(api, rep, conversation):
    client_id = cid()
    payload = {"client_id": client_id, "body": "Quote: https://example.com/q?a=1&b=2"}
    first = api.post(url(conversation, "messages/"), payload, content_type="application/json")
    assert first.status_code == 201
    again = api.post(url(conversation, "messages/"), payload, content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    message = Message.objects.get()
    expected = presenters.message_dict(message, presenters.STAFF)
    assert first.json() == expected == again.json()
    listed = api.get(url(conversation, "messages/")).json()
    assert listed["results"] == [expected] and listed["has_more"] is False


def test_api_errors_use_socket_codes(api, conversation, compliance, client):
    too_long = api.post(
        url(conversation, "messages/"),
        {"client_id": cid(), "body": "x" * 10_001},
        content_type="application/json",
    )
    assert too_long.status_code == 400 and too_long.json()["error"] == "too_long"
    assert "10,000" in too_long.json()["detail"]
    malformed = api.post(url(conversation, "messages/"), "{nope", content_type="application/json")
    assert malformed.status_code == 400 and malformed.json()["error"] == "malformed_json"
    bad_id = api.post(
        url(conversation, "messages/"),
        {"client_id": "x", "body": "y"},
        content_type="application/json",
    )
    assert bad_id.json()["error"] == "invalid"
    client.force_login(compliance)
    refused = client.post(
        url(conversation, "messages/"),
        {"client_id": cid(), "body": "y"},
        content_type="application/json",
    )
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"


def test_edit_retract_read_history(api, rep, conversation):
    sent = services.message_send(author=rep, conversation=conversation, body="v1", client_id=cid())
    mid = sent.message.pk
    edited = api.patch(
        url(conversation, f"messages/{mid}/"), {"body": "v2"}, content_type="application/json"
    )
    assert edited.status_code == 200 and edited.json()["body"] == "v2"
    retracted = api.post(url(conversation, f"messages/{mid}/retract/"))
    assert retracted.json()["retracted"] is True and retracted.json()["body"] is None
    revisions = api.get(url(conversation, f"messages/{mid}/revisions/"))
    assert revisions.status_code == 403
    later = [
        services.message_send(author=rep, conversation=conversation, body=f"m{n}", client_id=cid())
        for n in range(3)
    ]
    after = api.get(url(conversation, f"messages/?after={mid}&limit=2")).json()
    assert [m["body"] for m in after["results"]] == ["m0", "m1"] and after["has_more"]
    before = api.get(url(conversation, f"messages/?before={later[-1].message.pk}")).json()
    assert [m["id"] for m in before["results"]] == [later[1].message.pk, later[0].message.pk, mid]
    read = api.post(
        url(conversation, "read/"),
        {"message_id": later[-1].message.pk},
        content_type="application/json",
    )
    assert read.status_code == 200


def test_inbox_assign_status_and_links(api, rep, other_rep, conversation):
    inbox = api.get("/api/v1/conversations/?mine=1&status=open").json()
    assert [c["id"] for c in inbox["results"]] == [conversation.pk]
    assert inbox["results"][0]["unread"] == 0
    detail = api.get(url(conversation)).json()
    assert detail["permissions"]["send"] and detail["permissions"]["issue_link"]
    link = api.post(url(conversation, "links/"))
    assert link.status_code == 201 and "/c/" in link.json()["url"]
    token = link.json()["token"]
    assert api.get(f"/c/{token}/").status_code == 200
    revoke = api.post(url(conversation, f"links/{link.json()['id']}/revoke/"))
    assert revoke.json()["revoked_at"]
    assert api.get(f"/c/{token}/").status_code == 410
    closed = api.post(
        url(conversation, "status/"), {"status": "closed"}, content_type="application/json"
    )
    assert closed.json()["status"] == "closed"
    moved = api.post(
        url(conversation, "assign/"), {"assignee": other_rep.pk}, content_type="application/json"
    )
    assert moved.json()["assignee"]["id"] == other_rep.pk
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "comms.customer_link.issued",
        "comms.customer_link.revoked",
        "comms.conversation.status_changed",
        "comms.conversation.assigned",
    } <= actions


def test_start_conversations_and_internal_members(api, rep, other_rep, customer_contact, deal):
    started = api.post(
        "/api/v1/conversations/",
        {"contact": customer_contact.pk, "deal": deal.pk, "kind": "web", "subject": "Hi"},
        content_type="application/json",
    )
    assert started.status_code == 201 and started.json()["deal"]["id"] == deal.pk
    internal = api.post(
        "/api/v1/conversations/",
        {"kind": "internal", "subject": "Desk", "members": [other_rep.pk]},
        content_type="application/json",
    )
    assert internal.status_code == 201
    conv_id = internal.json()["id"]
    members = api.get(f"/api/v1/conversations/{conv_id}/members/").json()["results"]
    assert {m["actor"]["id"] for m in members} == {rep.pk, other_rep.pk}
    gone = api.delete(f"/api/v1/conversations/{conv_id}/members/{other_rep.pk}/")
    assert gone.status_code == 204
    unread = api.get("/api/v1/conversations/unread/").json()
    assert unread == {"total": 0, "conversations": {}, "recent": []}


def test_upload_limits_and_audited_downloads(
    api, client, rep, other_rep, conversation, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path
    with override_settings(COMMS_ATTACHMENT_MAX_BYTES=1000):
        big = SimpleUploadedFile("big.pdf", b"%PDF" + b"x" * 2000, content_type="application/pdf")
        response = api.post(url(conversation, "attachments/"), {"file": big})
        assert response.status_code == 413 and response.json()["error"] == "too_large"
    exe = SimpleUploadedFile("tool.exe", b"MZ...", content_type="application/octet-stream")
    response = api.post(url(conversation, "attachments/"), {"file": exe})
    assert response.status_code == 415
    html = SimpleUploadedFile("page.html", b"<script>", content_type="text/html")
    assert api.post(url(conversation, "attachments/"), {"file": html}).status_code == 415
    pdf = SimpleUploadedFile("quote.pdf", b"%PDF-1.4 quote", content_type="application/pdf")
    response = api.post(url(conversation, "attachments/"), {"file": pdf, "body": "the quote"})
    assert response.status_code == 201
    files = response.json()["attachments"]
    assert files[0]["name"] == "quote.pdf" and files[0]["size"] == len(b"%PDF-1.4 quote")
    attachment = Attachment.objects.get()
    assert len(attachment.sha256) == 64
    download = api.get(files[0]["url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == b"%PDF-1.4 quote"
    event = AuditEvent.objects.filter(action="comms.attachment.downloaded").get()
    assert event.actor_id == rep.pk and event.target_id == str(attachment.pk)
    assert AuditEvent.objects.filter(action="comms.attachment.uploaded").exists()
    client.force_login(other_rep)
    assert client.get(files[0]["url"]).status_code == 404
    assert AuditEvent.objects.filter(action="comms.attachment.downloaded").count() == 1


def test_a_full_page_at_the_largest_limit_still_says_there_is_more(
    api, rep, conversation, link_and_token
):
    """205 messages, ?limit=200 (the largest page): 200 of them and has_more (it said false), then
    the last 5 without more; the customer's catch-up pages the same way."""
    from comms.services import messages as message_services

    drafts = [
        services.staff_draft(author=rep, conversation=conversation, body=f"m{n}", client_id=cid())
        for n in range(205)
    ]
    for start in range(0, 205, 100):
        message_services.messages_store(drafts[start : start + 100])
    first = api.get(url(conversation, "messages/?limit=200")).json()
    assert len(first["results"]) == 200 and first["has_more"] is True
    oldest = first["results"][-1]["id"]
    rest = api.get(url(conversation, f"messages/?limit=200&before={oldest}")).json()
    assert [m["body"] for m in rest["results"]] == ["m4", "m3", "m2", "m1", "m0"]
    assert rest["has_more"] is False
    everything = api.get(url(conversation, "messages/?limit=500")).json()  # capped at 200
    assert len(everything["results"]) == 200 and everything["has_more"] is True

    _link, token = link_and_token
    caught_up = api.get(f"/c/{token}/messages/?after=0&limit=200").json()
    assert len(caught_up["results"]) == 200 and caught_up["has_more"] is True
    last = caught_up["results"][-1]["id"]
    tail = api.get(f"/c/{token}/messages/?after={last}&limit=200").json()
    assert len(tail["results"]) == 5 and tail["has_more"] is False
