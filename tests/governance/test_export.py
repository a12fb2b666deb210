import io
import json
import zipfile
from email import message_from_bytes

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from audit.models import AuditEvent
from comms import services
from governance import archive, exports
from governance.models import ExportJob
from governance.search import Criteria
from tests.governance.search_fixtures import *  # noqa: F403 (fixtures)
from tests.governance.search_fixtures import cid, say

pytestmark = pytest.mark.django_db


def export(user, **criteria) -> ExportJob:
    job = exports.export_request(requester=user, criteria=Criteria(**criteria))
    job.refresh_from_db()
    return job


def run_export(user, django_capture_on_commit_callbacks, **criteria) -> ExportJob:
    with django_capture_on_commit_callbacks(execute=True):
        job = exports.export_request(requester=user, criteria=Criteria(**criteria))
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE, job.error
    return job


def messages_in(path, conversation_id) -> dict[int, dict]:
    with zipfile.ZipFile(path) as zf:
        lines = zf.read(f"conversations/{conversation_id}.jsonl").decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert records[0]["type"] == "conversation"
    return {r["id"]: r for r in records[1:]}


def rewrite(path, name, change):
    """A copy of the zip at `path` with one member's bytes changed (the manifest kept)."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[name] = change(members[name])
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def verify(path) -> str:
    out = io.StringIO()
    call_command("verify_export", str(path), stdout=out)
    return out.getvalue()


def test_export_holds_every_edit_retraction_file_and_event_and_verifies(
    compliance, history, conversation, audit_signing_key, django_capture_on_commit_callbacks
):
    job = run_export(compliance, django_capture_on_commit_callbacks, q="confidencial")
    assert (job.done, job.total, job.conversations) == (4, 4, 1)
    assert job.sha256 and job.size
    records = messages_in(job.file_path, conversation.pk)
    edited = records[history["edited"].pk]
    assert edited["body"] == "We can offer a discount"
    assert [r["body"] for r in edited["revisions"]] == ["We can offer a descuento of 15%"]
    retracted = records[history["retracted"].pk]
    assert retracted["retracted"] is True and retracted["retracted_by"] == "rep"
    assert retracted["body"] == "Internal: confidencial margin is 40%"
    with_file = next(r for r in records.values() if r["attachments"])
    with zipfile.ZipFile(job.file_path) as zf:
        assert zf.read(with_file["attachments"][0]["path"]) == b"%PDF-1.4 quote"
        transcript = zf.read(f"transcripts/{conversation.pk}.html").decode()
        events = [
            json.loads(line) for line in zf.read(f"audit/{conversation.pk}.jsonl").splitlines()
        ]
        manifest = json.loads(zf.read("manifest.json"))
    assert "We can offer a descuento of 15%" in transcript and "Retracted" in transcript
    actions = {e["action"] for e in events}
    assert {"comms.message.edited", "comms.message.retracted", "comms.message.sent"} <= actions
    assert manifest["search"] == {"q": "confidencial"}
    assert manifest["requester"]["username"] == "compliance"
    assert manifest["checkpoint"]["signature"]
    assert set(manifest["files"]) == {
        f"conversations/{conversation.pk}.jsonl",
        f"transcripts/{conversation.pk}.html",
        f"audit/{conversation.pk}.jsonl",
        with_file["attachments"][0]["path"],
    }
    assert "OK: 4 files match the manifest" in verify(job.file_path)


def test_transcript_escapes_what_people_wrote(
    compliance,
    rep,
    conversation,
    exports_dir,
    audit_signing_key,
    django_capture_on_commit_callbacks,
):
    say(conversation, rep, "<script>alert('x')</script> escaped")
    job = run_export(compliance, django_capture_on_commit_callbacks, q="escaped")
    with zipfile.ZipFile(job.file_path) as zf:
        transcript = zf.read(f"transcripts/{conversation.pk}.html").decode()
    assert "<script>" not in transcript
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; escaped" in transcript


def test_a_changed_byte_fails_verify_export(
    compliance, history, conversation, audit_signing_key, django_capture_on_commit_callbacks
):
    job = run_export(compliance, django_capture_on_commit_callbacks, q="proposal")
    name = f"conversations/{conversation.pk}.jsonl"
    rewrite(job.file_path, name, lambda data: data.replace(b"40%", b"30%"))
    with pytest.raises(CommandError, match=f"{name}: its SHA-256 differs from the manifest's"):
        verify(job.file_path)


def test_a_flipped_byte_in_the_zip_fails_verify_export(
    compliance, history, audit_signing_key, django_capture_on_commit_callbacks
):
    job = run_export(compliance, django_capture_on_commit_callbacks, q="proposal")
    from pathlib import Path

    path = Path(job.file_path)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(job.file_path) as zf:
        info = zf.getinfo(next(n for n in zf.namelist() if n.startswith("attachments/")))
    # the first byte of the stored (uncompressed) file's data, after its local header
    start = info.header_offset
    name_length = int.from_bytes(raw[start + 26 : start + 28], "little")
    extra_length = int.from_bytes(raw[start + 28 : start + 30], "little")
    offset = start + 30 + name_length + extra_length
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CommandError) as failure:
        verify(job.file_path)
    assert info.filename in str(failure.value)


def test_missing_extra_and_unsigned(
    compliance, history, conversation, audit_signing_key, django_capture_on_commit_callbacks
):
    job = run_export(compliance, django_capture_on_commit_callbacks, q="proposal")
    with zipfile.ZipFile(job.file_path, "a") as zf:
        zf.writestr("extra.txt", b"added later")
    with pytest.raises(CommandError, match="extra.txt is in the zip but not in the manifest"):
        verify(job.file_path)
    job2 = run_export(compliance, django_capture_on_commit_callbacks, q="descuento")

    def forge(data):
        manifest = json.loads(data)
        manifest["checkpoint"]["head_hash"] = "0" * 64
        return json.dumps(manifest).encode()

    rewrite(job2.file_path, "manifest.json", forge)
    with pytest.raises(CommandError, match="checkpoint's signature does not verify"):
        verify(job2.file_path)


def test_a_changed_audit_event_fails_verify_export(
    compliance, history, conversation, audit_signing_key, django_capture_on_commit_callbacks
):
    job = run_export(compliance, django_capture_on_commit_callbacks, q="proposal")
    name = f"audit/{conversation.pk}.jsonl"
    changed = lambda data: data.replace(b'"actor_label":"rep"', b'"actor_label":"xyz"', 1)  # noqa: E731
    rewrite(job.file_path, name, changed)
    # the manifest no longer matches the file: recompute it, as a forger would
    with zipfile.ZipFile(job.file_path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        data = zf.read(name)
    import hashlib

    manifest["files"][name]["sha256"] = hashlib.sha256(data).hexdigest()
    rewrite(job.file_path, "manifest.json", lambda _d: json.dumps(manifest).encode())
    with pytest.raises(archive.Problem, match="does not match its hash"):
        archive.verify(job.file_path)


def test_an_edit_after_an_export_is_in_the_next_export(
    compliance, rep, history, conversation, audit_signing_key, django_capture_on_commit_callbacks
):
    first = run_export(compliance, django_capture_on_commit_callbacks, conversation=conversation.pk)
    services.message_edit(
        editor=rep,
        conversation=conversation,
        message_id=history["hello"].pk,
        body="Hola Clara, here is the new proposal",
    )
    second = run_export(
        compliance, django_capture_on_commit_callbacks, conversation=conversation.pk
    )
    before = messages_in(first.file_path, conversation.pk)[history["hello"].pk]
    after = messages_in(second.file_path, conversation.pk)[history["hello"].pk]
    assert before["revisions"] == []
    assert after["body"] == "Hola Clara, here is the new proposal"
    assert [r["body"] for r in after["revisions"]] == ["Hola Clara, here is the proposal"]
    verify(second.file_path)


def test_email_conversations_are_exported_as_eml(
    compliance,
    rep,
    customer_contact,
    exports_dir,
    audit_signing_key,
    django_capture_on_commit_callbacks,
):
    from comms.models import Conversation

    conversation = Conversation.objects.create(
        kind=Conversation.Kind.EMAIL, contact=customer_contact, assignee=rep, subject="Fatura nº 12"
    )
    services.message_inbound_record(
        conversation=conversation,
        body="Where is my invoice? Cadê a fatura, ação já",
        client_id=cid(),
        external_id="abc@mail.example",
    )
    job = run_export(compliance, django_capture_on_commit_callbacks, q="invoice")
    with zipfile.ZipFile(job.file_path) as zf:
        names = [n for n in zf.namelist() if n.startswith(f"email/{conversation.pk}/")]
        assert len(names) == 1
        mail = message_from_bytes(zf.read(names[0]))
    from email.header import decode_header, make_header

    assert str(make_header(decode_header(mail["Subject"]))) == "Fatura nº 12"
    assert mail["From"] == "clara@customer.example"
    assert mail["Message-ID"] == "<abc@mail.example>"
    assert mail.get_content_charset() == "utf-8"
    assert mail.get_payload(decode=True).decode().strip() == (
        "Where is my invoice? Cadê a fatura, ação já"
    )
    verify(job.file_path)


def test_export_is_audited_and_download_too(
    client,
    compliance,
    admin_user,
    rep,
    manager,
    history,
    audit_signing_key,
    django_capture_on_commit_callbacks,
):
    client.force_login(compliance)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("governance:export-list"), {"q": "confidencial"})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "governance:export-detail", args=[job.pk]
    )
    requested = AuditEvent.objects.get(action="governance.export.requested")
    assert requested.actor_id == compliance.pk and requested.data["search"] == {"q": "confidencial"}
    assert AuditEvent.objects.filter(action="governance.export.completed").count() == 1
    page = client.get(reverse("governance:export-detail", args=[job.pk])).content.decode()
    assert "export_progress.js" in page and 'id="export-progress"' in page
    status = client.get(reverse("governance:export-status", args=[job.pk])).json()
    assert status["status"] == "done" and status["percent"] == 100
    download = reverse("governance:export-download", args=[job.pk])
    for user in (rep, manager):
        client.force_login(user)
        assert client.get(download).status_code == 404
        assert client.get(reverse("governance:export-detail", args=[job.pk])).status_code == 404
        assert client.get(f"/api/v1/compliance/exports/{job.pk}/").status_code == 404
    assert not AuditEvent.objects.filter(action="governance.export.downloaded").exists()
    client.force_login(admin_user)
    response = client.get(download)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).read("manifest.json")
    downloaded = AuditEvent.objects.get(action="governance.export.downloaded")
    assert downloaded.actor_id == admin_user.pk and downloaded.data["sha256"] == job.sha256


def test_api_export(
    client, compliance, history, audit_signing_key, django_capture_on_commit_callbacks
):
    client.force_login(compliance)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/compliance/exports/", {"q": "descuento"}, content_type="application/json"
        )
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert client.get(f"/api/v1/compliance/exports/{job_id}/").json()["status"] == "done"
    assert [j["id"] for j in client.get("/api/v1/compliance/exports/").json()] == [job_id]
    assert (
        client.post(
            "/api/v1/compliance/exports/", {"since": "never"}, content_type="application/json"
        ).status_code
        == 400
    )


@pytest.mark.parametrize("size", [2, 8])
def test_export_queries_constant(
    compliance,
    rep,
    customer_contact,
    exports_dir,
    audit_signing_key,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
    size,
):
    for n in range(size):
        conversation = services.conversation_start(
            actor=rep, contact=customer_contact, subject=f"chat {n}"
        )
        for k in range(size):
            message = say(conversation, rep, f"contract clause {n} {k}")
            services.message_edit(
                editor=rep, conversation=conversation, message_id=message.pk, body=f"edited {k}"
            )
        services.message_inbound_record(conversation=conversation, body="thanks", client_id=cid())
    job = export(compliance, q="contract")
    with django_assert_max_num_queries(24):
        exports.export_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.total == size * (size + 1)
    verify(job.file_path)
    with zipfile.ZipFile(job.file_path) as zf:
        audit_files = [n for n in zf.namelist() if n.startswith("audit/")]
        assert len(audit_files) == size
        for name in audit_files:
            conversation_id = name.split("/")[1].split(".")[0]
            events = [json.loads(line) for line in zf.read(name).splitlines()]
            assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
            actions = [e["action"] for e in events]
            assert actions.count("comms.message.edited") == size
            created = [e for e in events if e["action"] == "comms.conversation.created"]
            assert [e["target_id"] for e in created] == [conversation_id]
