"""The customer sends files through their link, sees read ticks, and both sides see previews."""

import io
import uuid

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from comms import services
from comms.models import Attachment, CustomerLink, Message
from tests.comms.sockets import customer_socket, frame, staff_socket


def png_bytes(size=(900, 600), color=(200, 30, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def upload(client, token, name, data, content_type, **extra):
    return client.post(
        f"/c/{token}/attachments/",
        {"file": SimpleUploadedFile(name, data, content_type=content_type), **extra},
    )


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_customer_sends_a_file_stored_audited_and_answered(
    client, conversation, link_and_token, media, django_capture_on_commit_callbacks
):
    link, token = link_and_token
    client_id = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, token, "photo.png", png_bytes(), "image/png", client_id=client_id)
    assert response.status_code == 201, response.content
    sent = response.json()["message"]
    assert sent["client_id"] == client_id and sent["direction"] == "inbound"
    assert sent["author"] == {"type": "contact", "id": link.contact_id, "name": link.contact.name}
    [file] = sent["attachments"]
    assert file["name"] == "photo.png" and file["size"] > 0
    assert file["url"] == f"attachments/{file['id']}/"
    assert file["thumbnail_url"] == f"attachments/{file['id']}/thumbnail/"
    stored = Attachment.objects.get(pk=file["id"])
    assert stored.message.author_contact_id == link.contact_id and stored.uploaded_by is None
    uploaded = AuditEvent.objects.get(action="comms.attachment.uploaded")
    assert uploaded.data["name"] == "photo.png" and uploaded.data["sha256"] == stored.sha256
    assert AuditEvent.objects.filter(action="comms.message.received").count() == 1
    # The same client_id again: the stored message, nothing new.
    again = upload(client, token, "photo.png", png_bytes(), "image/png", client_id=client_id)
    assert again.status_code == 200 and again.json()["message"]["id"] == sent["id"]
    assert Attachment.objects.count() == 1


def test_customer_file_limits_and_refusals(
    client, rep, conversation, link_and_token, media, settings
):
    link, token = link_and_token
    settings.COMMS_ATTACHMENT_MAX_BYTES = 1000
    big = upload(client, token, "big.pdf", b"%PDF" + b"x" * 2000, "application/pdf")
    assert big.status_code == 413 and big.json()["error"] == "too_large"
    exe = upload(client, token, "tool.exe", b"MZ..", "application/octet-stream")
    assert exe.status_code == 415 and exe.json()["detail"]
    missing = client.post(f"/c/{token}/attachments/", {})
    assert missing.status_code == 400 and missing.json()["detail"]
    assert client.get(f"/c/{token}/attachments/").status_code == 405
    bogus = upload(client, "not-a-token", "a.txt", b"hi", "text/plain")
    assert bogus.status_code == 404
    services.customer_link_revoke(actor=rep, link=link)
    revoked = upload(client, token, "a.txt", b"hi", "text/plain")
    # Refused exactly as the customer's catch-up and page are for a revoked link (410 Gone).
    assert revoked.status_code == 410 and revoked.json()["error"] == "link_revoked"
    other, other_token = services.customer_link_issue(actor=rep, conversation=conversation)
    CustomerLink.objects.filter(pk=other.pk).update(expires_at=timezone.now())
    expired = upload(client, other_token, "a.txt", b"hi", "text/plain")
    assert expired.status_code == 410 and expired.json()["error"] == "link_expired"
    assert (
        not Attachment.objects.exists()
        and not Message.objects.filter(direction=Message.Direction.INBOUND).exists()
    )
    assert not AuditEvent.objects.filter(action="comms.attachment.uploaded").exists()


def test_thumbnails_are_small_authorised_and_not_audited(
    client, rep, other_rep, conversation, link_and_token, media
):
    _link, token = link_and_token
    response = upload(client, token, "photo.png", png_bytes((1600, 800)), "image/png")
    file = response.json()["message"]["attachments"][0]
    thumb = client.get(f"/c/{token}/{file['thumbnail_url']}")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
    from PIL import Image

    with Image.open(io.BytesIO(thumb.content)) as image:
        assert max(image.size) == 320
    staff = Client()
    staff.force_login(rep)
    url = f"/conversations/attachments/{file['id']}/thumbnail/"
    assert staff.get(url).content == thumb.content  # made once, kept
    assert not AuditEvent.objects.filter(action="comms.attachment.downloaded").exists()
    staff.force_login(other_rep)
    assert staff.get(url).status_code == 404
    assert client.get(f"/c/other-token/attachments/{file['id']}/thumbnail/").status_code == 404
    # The file itself is still the audited download.
    assert client.get(f"/c/{token}/{file['url']}").status_code == 200
    assert AuditEvent.objects.filter(action="comms.attachment.downloaded").count() == 1


def test_a_pdf_has_no_thumbnail_and_a_broken_image_answers_404(
    client, conversation, link_and_token, media
):
    _link, token = link_and_token
    pdf = upload(client, token, "quote.pdf", b"%PDF-1.4 quote", "application/pdf")
    file = pdf.json()["message"]["attachments"][0]
    assert "thumbnail_url" not in file and file["size"] == 14
    broken = upload(client, token, "broken.png", b"not an image", "image/png")
    file = broken.json()["message"]["attachments"][0]
    assert client.get(f"/c/{token}/{file['thumbnail_url']}").status_code == 404


def test_customer_page_knows_how_far_the_rep_has_read(client, rep, conversation, link_and_token):
    link, token = link_and_token
    sent = services.message_receive(link=link, body="hello", client_id=uuid.uuid4())
    page = client.get(f"/c/{token}/")
    assert b'"read_upto": 0' in page.content
    assert b'data-testid="file-input"' in page.content
    services.conversation_mark_read(user=rep, conversation=conversation, message_id=sent.message.pk)
    assert f'"read_upto": {sent.message.pk}'.encode() in client.get(f"/c/{token}/").content
    catch_up = client.get(f"/c/{token}/messages/?since=0").json()
    assert catch_up["read_upto"] == sent.message.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_staff_sees_the_customer_file_live_and_the_customer_sees_it_read(
    rep, conversation, link_and_token, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    _link, token = link_and_token
    staff, connected, _code = await staff_socket(rep, conversation.pk)
    assert connected
    customer, connected, _code = await customer_socket(token)
    assert connected
    await frame(staff, "ready")
    await frame(customer, "ready")

    def post():
        return upload(Client(), token, "photo.png", png_bytes(), "image/png")

    response = await database_sync_to_async(post)()
    assert response.status_code == 201
    created = await frame(staff, "message.created")
    [file] = created["message"]["attachments"]
    assert file["thumbnail_url"] == f"/conversations/attachments/{file['id']}/thumbnail/"
    seen = await frame(customer, "message.created")
    assert seen["message"]["attachments"][0]["url"] == f"attachments/{file['id']}/"

    await database_sync_to_async(services.conversation_mark_read)(
        user=rep, conversation=conversation, message_id=created["message"]["id"]
    )
    read = await frame(customer, "read")
    assert read["message_id"] == created["message"]["id"] and read["actor"]["type"] == "user"
    await staff.disconnect()
    await customer.disconnect()


def test_customer_uploads_are_rate_limited_per_link(
    client, conversation, link_and_token, media, monkeypatch
):
    from comms import customer_views

    monkeypatch.setattr(customer_views, "UPLOADS_PER_MINUTE", 2)
    _link, token = link_and_token
    answers = [upload(client, token, f"{i}.txt", b"hi", "text/plain").status_code for i in range(3)]
    assert answers == [201, 201, 429]
    assert Attachment.objects.count() == 2


def test_a_purged_file_loses_its_thumbnail_too(
    client, conversation, link_and_token, media, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from comms.services.purge import files_purge
    from comms.thumbnails import thumbnail_path

    _link, token = link_and_token
    file = upload(client, token, "photo.png", png_bytes(), "image/png").json()["message"][
        "attachments"
    ][0]
    assert client.get(f"/c/{token}/{file['thumbnail_url']}").status_code == 200
    stored = Attachment.objects.get(pk=file["id"])
    thumb = media / thumbnail_path(stored.file.name)
    assert thumb.exists()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        files_purge(attachment_ids=[stored.pk])
    assert not thumb.exists() and not (media / stored.file.name).exists()
    assert client.get(f"/c/{token}/{file['thumbnail_url']}").status_code == 404
