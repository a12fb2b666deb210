"""Issue 14's acceptance, in the demo: the compliance officer finds a retracted message by a word
it contained, exports the conversation, and verify_export passes on the zip."""

import io
import json
import re
import zipfile

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from comms import demo
from comms.models import Message
from governance.models import ExportJob
from tests.governance.search_fixtures import *  # noqa: F403 (fixtures)

pytestmark = pytest.mark.django_db


def test_compliance_officer_finds_a_retracted_message_exports_and_verifies(
    client,
    exports_dir,
    audit_signing_key,
    django_capture_on_commit_callbacks,
    tmp_path,  # noqa: F811
):
    call_command("seed_demo", stdout=io.StringIO())
    carla = User.objects.get(username="compliance")
    assert carla.get_full_name() == "Carla Castro"
    retracted = Message.objects.get(retracted=True)
    client.force_login(carla)

    page = client.get(reverse("governance:search"), {"q": demo.RETRACTED_DEMO_WORD})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="search-hit"') == 1
    assert reverse("governance:search-result", args=[retracted.pk]) in html
    assert "Retracted" in html

    result = client.get(reverse("governance:search-result", args=[retracted.pk]))
    assert demo.RETRACTED_DEMO_TEXT in result.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("governance:export-list"), {"conversation": retracted.conversation_id}
        )
    job = ExportJob.objects.get()
    assert response["Location"] == reverse("governance:export-detail", args=[job.pk])
    assert client.get(reverse("governance:export-status", args=[job.pk])).json()["status"] == "done"

    download = client.get(reverse("governance:export-download", args=[job.pk]))
    path = tmp_path / "downloaded.zip"
    path.write_bytes(b"".join(download.streaming_content))
    with zipfile.ZipFile(path) as zf:
        lines = zf.read(f"conversations/{retracted.conversation_id}.jsonl").splitlines()
    exported = {r["id"]: r for r in map(json.loads, lines[1:])}
    assert exported[retracted.pk]["retracted"] is True
    assert exported[retracted.pk]["body"] == demo.RETRACTED_DEMO_TEXT
    out = io.StringIO()
    call_command("verify_export", str(path), "--sha256", job.sha256, stdout=out)
    assert re.match(r"OK: \d+ files match the manifest", out.getvalue())
