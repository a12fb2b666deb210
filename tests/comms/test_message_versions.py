"""A message's versions page: every text it had (with editor and time), its retraction and its
files, opened from the audit ledger's events about it. Compliance and admins read everything,
and their reading is audited; others see it only where they may read the conversation (404
otherwise), without the earlier or retracted text."""

import hashlib
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from comms import services
from tests.comms.conftest import cid

FILE = b"the signed proposal, version 3"


@pytest.fixture
def edited(rep, conversation):
    """A message sent as "Price: 100", edited to 120, then to 110."""
    sent = services.message_send(
        author=rep, conversation=conversation, body="Price: 100", client_id=cid()
    )
    for body in ("Price: 120", "Price: 110"):
        services.message_edit(
            editor=rep, conversation=conversation, message_id=sent.message.pk, body=body
        )
    return sent.message


@pytest.fixture
def retracted_file(settings, tmp_path, rep, conversation):
    """A file sent with "see attached", then the whole message retracted."""
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("proposal.txt", FILE, content_type="text/plain")
    filed = services.attachment_upload(
        actor=rep, conversation=conversation, upload=upload, body="see attached"
    )
    services.message_retract(actor=rep, conversation=conversation, message_id=filed.message.pk)
    return filed.message


def url(message) -> str:
    return reverse("comms:message-versions", args=[message.pk])


def versions(page: str) -> list[str]:
    """The rows of the versions table, newest first, as text without tags."""
    rows = re.findall(r'<tr data-testid="message-version">(.*?)</tr>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


@pytest.mark.parametrize("who", ["compliance", "admin_user"])
def test_compliance_and_admin_read_every_version_and_the_retraction(
    client, request, who, rep, edited, retracted_file
):
    client.force_login(request.getfixturevalue(who))
    response = client.get(url(edited))
    assert response.status_code == 200
    rows = versions(response.content.decode())
    assert len(rows) == 3
    assert rows[0].startswith(f"3 current {rep}") and rows[0].endswith("Price: 110")
    assert rows[1].startswith(f"2 {rep}") and rows[1].endswith("Price: 120")
    assert rows[2].startswith(f"1 {rep}") and rows[2].endswith("Price: 100")
    assert "Edited 2 times" in response.content.decode()

    page = client.get(url(retracted_file)).content.decode()
    assert 'data-testid="message-state"' in page and f"Retracted by {rep} on" in page
    assert versions(page) == [versions(page)[0]] and versions(page)[0].endswith("see attached")
    assert f"1 retracted {rep}" in versions(page)[0]
    assert "proposal.txt" in page and hashlib.sha256(FILE).hexdigest() in page
    assert f"({len(FILE)} bytes)" in page


def test_reading_them_is_audited_for_those_who_read_everything(
    client, compliance, rep, manager, edited
):
    client.force_login(compliance)
    client.get(url(edited))
    event = AuditEvent.objects.get(action="comms.message.versions_viewed")
    assert (event.actor_label, event.target_type, event.target_id) == (
        "compliance",
        "comms.message",
        str(edited.pk),
    )
    assert event.data == {"conversation": edited.conversation_id, "versions": 3, "retracted": False}
    client.force_login(manager)  # sees the conversation, not the earlier text: nothing to audit
    assert client.get(url(edited)).status_code == 200
    assert AuditEvent.objects.filter(action="comms.message.versions_viewed").count() == 1


def test_a_rep_who_cannot_read_the_conversation_gets_404(client, other_rep, edited):
    client.force_login(other_rep)
    assert client.get(url(edited)).status_code == 404
    assert client.get(reverse("comms:message-versions", args=[10**12])).status_code == 404
    assert client.get(reverse("comms:message-versions", args=[2**63])).status_code == 404


def test_a_rep_who_reads_the_conversation_sees_versions_without_earlier_text(
    client, rep, edited, retracted_file
):
    client.force_login(rep)
    page = client.get(url(edited)).content.decode()
    rows = versions(page)
    assert len(rows) == 3 and rows[0].endswith("Price: 110")
    assert rows[1].endswith("Hidden") and rows[2].endswith("Hidden")
    assert "Price: 100" not in page and "Price: 120" not in page
    page = client.get(url(retracted_file)).content.decode()
    assert "see attached" not in page and "proposal.txt" not in page
    assert f"Retracted by {rep} on" in page


def test_the_audit_page_links_message_and_file_events_to_the_versions(
    client, compliance, edited, retracted_file
):
    client.force_login(compliance)
    page = client.get("/audit/", {"target_type": "comms.message"}).content.decode()
    for message in (edited, retracted_file):
        assert f'href="{url(message)}" data-testid="audit-target-link"' in page
    downloaded = AuditEvent.objects.get(action="comms.attachment.uploaded")
    detail = client.get(reverse("audit:event-detail", args=[downloaded.seq])).content.decode()
    assert f'href="{url(retracted_file)}" data-testid="audit-target-link"' in detail


def test_query_count_does_not_grow_with_versions(
    client, compliance, rep, conversation, edited, django_assert_max_num_queries
):
    client.force_login(compliance)
    client.get("/")  # the once-a-minute session touch is not the page's cost
    counts = []
    for _ in range(2):
        with django_assert_max_num_queries(12) as captured:
            assert client.get(url(edited)).status_code == 200
        counts.append(len(captured))
        for n in range(5):
            services.message_edit(
                editor=rep, conversation=conversation, message_id=edited.pk, body=f"v{n}"
            )
    assert counts[0] == counts[1]
