"""Data-subject requests (GDPR, LGPD): logging with its deadline, the access export, erasure (and
its refusal under a legal hold), restriction of processing, and who may do any of it."""

import datetime as dt
import json
import uuid

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from comms import services as comms_services
from comms.models import Message
from crm.models import Contact
from governance.dsr import selectors, services
from governance.models import DataSubjectRequest
from tests.audit.ledger import verify
from tests.comms.conftest import ensure_default_pipeline
from tests.crm.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory

pytestmark = pytest.mark.django_db

DSR = DataSubjectRequest


def cid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def chat(rep, customer_contact):
    """A conversation with the customer: a message edited once, one retracted, one from them."""
    ensure_default_pipeline()
    deal = DealFactory(title="Fleet renewal", owner=rep, primary_contact=customer_contact)
    conversation = comms_services.conversation_start(
        actor=rep, contact=customer_contact, deal=deal, subject="Clara's renewal"
    )
    first = comms_services.message_send(
        author=rep, conversation=conversation, body="Hello Clara, first draft", client_id=cid()
    ).message
    comms_services.message_edit(
        editor=rep, conversation=conversation, message_id=first.pk, body="Hello Clara"
    )
    oops = comms_services.message_send(
        author=rep, conversation=conversation, body="wrong price 999", client_id=cid()
    ).message
    comms_services.message_retract(actor=rep, conversation=conversation, message_id=oops.pk)
    link, _token = comms_services.customer_link_issue(actor=rep, conversation=conversation)
    comms_services.message_receive(link=link, body="My address is Rua A, 10", client_id=cid())
    return conversation


def log(actor, contact, kind=DSR.Kind.ACCESS, **kwargs):
    return services.dsr_create(actor=actor, contact=contact, kind=kind, **kwargs)


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


# --- logging and the deadline -------------------------------------------------------------


def test_deadline_is_thirty_days_after_receipt_and_overdue_requests_come_first(
    client, compliance, customer_contact, rep
):
    now = timezone.now()
    late = log(compliance, customer_contact, received_at=now - dt.timedelta(days=40))
    fresh = log(compliance, customer_contact, kind=DSR.Kind.ERASURE, received_at=now)
    other = ContactFactory(owner=rep, first_name="Bruno")
    soon = log(compliance, other, received_at=now - dt.timedelta(days=25))
    assert late.due_at == late.received_at + dt.timedelta(days=30)
    assert fresh.due_at == fresh.received_at + dt.timedelta(days=30)
    assert late.is_overdue() and not fresh.is_overdue() and soon.is_due_soon()

    client.force_login(compliance)
    page = client.get("/compliance/dsr/")
    assert page.status_code == 200
    body = page.content.decode()
    order = [body.index(f'data-dsr="{r.pk}"') for r in (late, soon, fresh)]
    assert order == sorted(order)  # overdue first, then by due date
    assert body.count('data-testid="dsr-overdue"') == 1
    assert body.count('data-testid="dsr-due-soon"') == 1
    received = events("governance.dsr.received")
    assert [e.target_id for e in received] == [str(late.pk), str(fresh.pk), str(soon.pk)]
    assert received[0].data["due_at"] and received[0].actor_id == compliance.pk


def test_period_is_a_setting_per_law(settings, compliance, customer_contact):
    settings.DSR_RESPONSE_DAYS = {"gdpr": 30, "lgpd": 15}
    received = timezone.now() - dt.timedelta(days=1)
    lgpd = log(compliance, customer_contact, law=DSR.Law.LGPD, received_at=received)
    assert lgpd.due_at == received + dt.timedelta(days=15)


def test_logging_from_the_form_finds_the_contact_by_name(client, compliance, customer_contact):
    client.force_login(compliance)
    found = client.get("/compliance/dsr/new/", {"q": "Clara"})
    assert found.status_code == 200
    assert f'value="{customer_contact.pk}"'.encode() in found.content
    answer = client.post(
        "/compliance/dsr/new/",
        {"contact": customer_contact.pk, "kind": "erasure", "law": "gdpr", "channel": "email"},
    )
    dsr = DSR.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/compliance/dsr/{dsr.pk}/"
    assert (dsr.contact, dsr.kind, dsr.requester) == (customer_contact, "erasure", compliance)


def test_bad_input_is_a_clear_400(client, compliance, customer_contact):
    client.force_login(compliance)
    no_contact = client.post("/compliance/dsr/new/", {"kind": "access", "law": "gdpr"})
    assert no_contact.status_code == 400
    assert "choose them in the list" in no_contact.content.decode()
    api = client.post(
        "/api/v1/compliance/dsr/",
        {"contact": customer_contact.pk, "kind": "forget-me"},
        content_type="application/json",
    )
    assert api.status_code == 400 and "kind" in api.json()["fields"]
    future = client.post(
        "/api/v1/compliance/dsr/",
        {
            "contact": customer_contact.pk,
            "kind": "access",
            "received_at": (timezone.now() + dt.timedelta(days=2)).isoformat(),
        },
        content_type="application/json",
    )
    assert future.status_code == 400 and "future" in future.json()["detail"]
    missing = client.post(
        "/api/v1/compliance/dsr/",
        {"contact": 10**12, "kind": "access"},
        content_type="application/json",
    )
    assert missing.status_code == 400 and "contact" in missing.json()["fields"]
    dsr = log(compliance, customer_contact)
    refused = client.post(f"/api/v1/compliance/dsr/{dsr.pk}/refuse/", {}, "application/json")
    assert refused.status_code == 400 and set(refused.json()["fields"]) == {"reason", "basis"}
    assert not events("governance.dsr.refused")


# --- the access export ----------------------------------------------------------------------


def test_access_export_holds_every_message_version_and_is_audited(
    client, compliance, customer_contact, chat
):
    dsr = log(compliance, customer_contact)
    client.force_login(compliance)
    response = client.post(f"/compliance/dsr/{dsr.pk}/export/", {"format": "json"})
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["contact"]["first_name"] == "Clara"
    assert data["contact"]["emails"] == ["clara@customer.example"]
    (conversation,) = data["conversations"]
    texts = {m["text"]: m for m in conversation["messages"]}
    assert texts["Hello Clara"]["earlier_versions"][0]["text"] == "Hello Clara, first draft"
    assert texts["wrong price 999"]["retracted"] is True
    assert texts["My address is Rua A, 10"]["from_contact"] is True
    assert [d["title"] for d in data["deals"]] == ["Fleet renewal"]
    assert {"comms.message.edited", "comms.message.retracted"} <= {
        e["action"] for e in data["audit_events"]
    }
    (event,) = events("governance.dsr.access_exported")
    assert event.actor_id == compliance.pk and event.target_id == str(dsr.pk)
    assert event.data["sha256"] and event.data["counts"]["messages"] == 3
    assert event.data["requester"] == compliance.pk and "art. 15" in event.data["basis"]
    dsr.refresh_from_db()
    assert dsr.status == DSR.Status.COMPLETED and "art. 15" in dsr.legal_basis


def test_readable_page_shows_the_data_escaped(client, compliance, rep):
    contact = ContactFactory(owner=rep, first_name="<script>alert(1)</script>", last_name="X")
    ActivityFactory(contact=contact, author=rep, subject="Called <b>her</b>", body="ok")
    dsr = log(compliance, contact)
    client.force_login(compliance)
    page = client.post(f"/compliance/dsr/{dsr.pk}/export/", {"format": "html"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert" not in body
    assert "Called &lt;b&gt;her&lt;/b&gt;" in body
    assert events("governance.dsr.access_exported")[0].data["format"] == "html"


def _grow(rep, contact, n):
    ensure_default_pipeline()
    company = CompanyFactory(owner=rep)
    Contact.objects.filter(pk=contact.pk).update(company=company)
    for i in range(n):
        deal = DealFactory(owner=rep, primary_contact=contact)
        ActivityFactory(contact=contact, author=rep, subject=f"call {i}")
        conversation = comms_services.conversation_start(actor=rep, contact=contact, deal=deal)
        for j in range(n):
            message = comms_services.message_send(
                author=rep, conversation=conversation, body=f"m{i}.{j}", client_id=cid()
            ).message
            comms_services.message_edit(
                editor=rep, conversation=conversation, message_id=message.pk, body=f"e{i}.{j}"
            )


def test_access_export_queries_do_not_grow_with_the_data(
    rep, customer_contact, django_assert_max_num_queries
):
    small = ContactFactory(owner=rep, first_name="Small")
    _grow(rep, small, 1)
    _grow(rep, customer_contact, 4)
    with django_assert_max_num_queries(20) as few:
        selectors.contact_data(small)
    with django_assert_max_num_queries(len(few.captured_queries)):
        data = selectors.contact_data(customer_contact)
    assert sum(len(c["messages"]) for c in data["conversations"]) == 16
    assert all(m["earlier_versions"] for c in data["conversations"] for m in c["messages"])


# --- restriction ------------------------------------------------------------------------------


def test_a_restricted_contact_cannot_be_messaged(client, rep, compliance, customer_contact, chat):
    dsr = log(compliance, customer_contact, kind=DSR.Kind.RESTRICTION)
    services.dsr_restrict(actor=compliance, dsr=dsr, basis="")
    dsr.refresh_from_db()
    assert dsr.status == DSR.Status.RESTRICTED and "art. 18" in dsr.legal_basis
    assert Contact.objects.get(pk=customer_contact.pk).processing_restricted

    client.force_login(rep)
    before = Message.objects.count()
    answer = client.post(
        f"/api/v1/conversations/{chat.pk}/messages/",
        {"body": "Special offer!", "client_id": cid()},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "processing_restricted"
    assert "restricted" in answer.json()["detail"]
    assert Message.objects.count() == before
    # An internal note about them is still theirs to write; a new conversation is not.
    note = client.post(
        f"/api/v1/conversations/{chat.pk}/messages/",
        {"body": "customer asked us to stop", "client_id": cid(), "note": True},
        content_type="application/json",
    )
    assert note.status_code == 201
    with pytest.raises(Exception, match="restricted"):
        comms_services.conversation_start(actor=rep, contact=customer_contact)
    with pytest.raises(Exception, match="restricted"):
        comms_services.customer_link_issue(actor=rep, conversation=chat)
    (restricted,) = events("governance.dsr.restricted")
    assert restricted.data["basis"] == dsr.legal_basis
    assert events("crm.contact.processing_restricted")[0].target_id == str(customer_contact.pk)


def test_a_decided_request_is_not_decided_again(client, compliance, customer_contact):
    dsr = log(compliance, customer_contact)
    services.dsr_refuse(
        actor=compliance, dsr=dsr, reason="Identity not confirmed", basis="GDPR art. 12(6)"
    )
    client.force_login(compliance)
    again = client.post(f"/api/v1/compliance/dsr/{dsr.pk}/restrict/", {}, "application/json")
    assert again.status_code == 409 and "decided" in again.json()["detail"]
    assert not Contact.objects.get(pk=customer_contact.pk).processing_restricted


# --- who may ------------------------------------------------------------------------------------

PAGES = [
    ("get", "/compliance/dsr/"),
    ("get", "/compliance/dsr/new/"),
    ("post", "/compliance/dsr/new/"),
    ("get", "/compliance/dsr/{pk}/"),
    ("post", "/compliance/dsr/{pk}/export/"),
    ("post", "/compliance/dsr/{pk}/erase/"),
    ("post", "/compliance/dsr/{pk}/restrict/"),
    ("post", "/compliance/dsr/{pk}/refuse/"),
    ("get", "/api/v1/compliance/dsr/"),
    ("post", "/api/v1/compliance/dsr/"),
    ("get", "/api/v1/compliance/dsr/{pk}/"),
    ("post", "/api/v1/compliance/dsr/{pk}/export/"),
    ("post", "/api/v1/compliance/dsr/{pk}/erase/"),
    ("post", "/api/v1/compliance/dsr/{pk}/restrict/"),
    ("post", "/api/v1/compliance/dsr/{pk}/refuse/"),
    ("get", "/compliance/dsr/{pk}/erase/"),  # a wrong method is no hint either
]


@pytest.mark.parametrize("actor", ["rep", "other_rep", "manager"])
def test_reps_and_managers_get_404_on_every_page_and_endpoint(
    client, request, actor, compliance, customer_contact
):
    dsr = log(compliance, customer_contact, kind=DSR.Kind.ERASURE)
    client.force_login(request.getfixturevalue(actor))
    for method, url in PAGES:
        answer = getattr(client, method)(url.format(pk=dsr.pk))
        assert answer.status_code == 404, (method, url)
    dsr.refresh_from_db()
    assert dsr.status == DSR.Status.OPEN
    assert not events("governance.dsr.access_exported")
    assert AuditEvent.objects.filter(action__startswith="governance.dsr.").count() == 1


@pytest.mark.parametrize("actor", ["compliance", "admin_user"])
def test_compliance_officers_and_admins_use_it(client, request, actor, customer_contact):
    user = request.getfixturevalue(actor)
    client.force_login(user)
    assert b'href="/compliance/dsr/"' in client.get("/compliance/").content
    created = client.post(
        "/api/v1/compliance/dsr/",
        {"contact": customer_contact.pk, "kind": "access", "law": "lgpd"},
        content_type="application/json",
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    assert created.json()["requester"] == user.username
    assert client.get("/compliance/dsr/").status_code == 200
    assert client.get(f"/compliance/dsr/{pk}/").status_code == 200
    assert client.get(f"/api/v1/compliance/dsr/{pk}/").json()["status"] == "open"
    exported = client.post(f"/api/v1/compliance/dsr/{pk}/export/")
    assert exported.status_code == 200
    assert exported.json()["contact"]["id"] == customer_contact.pk
    assert client.get(f"/api/v1/compliance/dsr/{pk}/").json()["status"] == "completed"


def test_a_batch_of_sends_refuses_only_the_restricted_contact(rep, compliance, customer_contact):
    other = ContactFactory(owner=rep, first_name="Bruno")
    restricted = comms_services.conversation_start(actor=rep, contact=customer_contact)
    free = comms_services.conversation_start(actor=rep, contact=other)
    services.dsr_restrict(
        actor=compliance, dsr=log(compliance, customer_contact), basis="GDPR art. 18(1)(a)"
    )
    drafts = [
        comms_services.staff_draft(author=rep, conversation=c, body="Offer", client_id=cid())
        for c in (restricted, free)
    ]
    refused, sent = comms_services.messages_store(drafts)
    assert isinstance(refused, Exception) and refused.code == "processing_restricted"
    assert sent.created and sent.message.conversation_id == free.pk
    assert not Message.objects.filter(conversation=restricted).exists()


# --- erasure ---------------------------------------------------------------------------------


@pytest.fixture
def with_file(settings, tmp_path, rep, chat):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("clara-id.pdf", b"%PDF-1.4 Clara's passport", "application/pdf")
    result = comms_services.attachment_upload(actor=rep, conversation=chat, upload=upload)
    return result.attachments[0]


def test_erasure_anonymises_the_contact_and_purges_their_messages(
    client, rep, compliance, customer_contact, chat, with_file, django_capture_on_commit_callbacks
):
    import os

    from comms.models import Attachment, CustomerLink, MessageRevision

    ActivityFactory(contact=customer_contact, author=rep, subject="Call Clara", body="Her kids")
    stored = with_file.file.path
    dsr = log(compliance, customer_contact, kind=DSR.Kind.ERASURE, subject_reference="ticket 77")
    client.force_login(compliance)
    with django_capture_on_commit_callbacks(execute=True):  # the files' bytes go after commit
        answer = client.post(f"/compliance/dsr/{dsr.pk}/erase/")
    assert answer.status_code == 302

    contact = Contact.objects.get(pk=customer_contact.pk)
    assert contact.name == f"Erased contact #{contact.pk}"
    assert not contact.emails.exists() and not contact.phones.exists()
    assert contact.activities.get().subject == "[erased]" and contact.activities.get().body == ""
    messages = Message.objects.filter(conversation=chat)
    assert messages.count() == 4
    assert all(m.body == "" and m.purged_at and m.body_sha256 for m in messages)
    assert not MessageRevision.objects.exclude(body="").exists()
    assert Attachment.objects.get(pk=with_file.pk).purged_at is not None
    assert not os.path.exists(stored)
    assert not CustomerLink.objects.filter(revoked_at__isnull=True).exists()
    chat.refresh_from_db()
    assert chat.subject == ""
    dsr.refresh_from_db()
    assert dsr.status == DSR.Status.COMPLETED and "art. 17(1)" in dsr.legal_basis
    (erased,) = events("governance.dsr.erased")
    assert erased.data["summary"]["messages_purged"] == 4
    assert erased.data["requester"] == compliance.pk and erased.data["basis"] == dsr.legal_basis
    anonymised = events("crm.contact.anonymised")[0]
    assert "Clara" not in json.dumps(anonymised.data) and "clara@" not in json.dumps(
        anonymised.data
    )
    assert verify()[0] == 0  # the ledger and the record checks still pass

    exported = client.post(f"/api/v1/compliance/dsr/{dsr.pk}/export/").json()
    assert exported["contact"]["first_name"] == f"Erased contact #{contact.pk}"
    assert exported["contact"]["emails"] == []
    texts = [m["text"] for c in exported["conversations"] for m in c["messages"]]
    assert texts == ["", "", "", ""]


def test_erasure_under_a_hold_is_refused_with_the_reason(
    client, rep, compliance, customer_contact, chat
):
    from governance.holds import legal_hold_place

    legal_hold_place(
        actor=compliance,
        scope="contact",
        target_id=customer_contact.pk,
        matter="Acme v. Keepline",
        reason="Fleet contract dispute",
    )
    bodies = sorted(Message.objects.values_list("body", flat=True))
    dsr = log(compliance, customer_contact, kind=DSR.Kind.ERASURE)
    client.force_login(compliance)
    answer = client.post(f"/api/v1/compliance/dsr/{dsr.pk}/erase/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["erased"] is False
    assert (
        "Acme v. Keepline" in body["reasons"][0] and "Fleet contract dispute" in body["reasons"][0]
    )
    assert body["request"]["status"] == "restricted"
    assert "17(3)(e)" in body["request"]["legal_basis"]

    # Nothing changed...
    contact = Contact.objects.get(pk=customer_contact.pk)
    assert contact.name == "Clara Cliente" and contact.emails.count() == 1
    assert sorted(Message.objects.values_list("body", flat=True)) == bodies
    assert not Message.objects.filter(purged_at__isnull=False).exists()
    # ...but processing is restricted, and the page says why.
    assert contact.processing_restricted
    page = client.get(f"/compliance/dsr/{dsr.pk}/").content.decode()
    assert "Acme v. Keepline" in page and "17(3)(e)" in page
    (refused,) = events("governance.dsr.refused")
    assert refused.data["holds"][0]["matter"] == "Acme v. Keepline"
    assert refused.data["requester"] == compliance.pk and "17(3)(e)" in refused.data["basis"]
    assert events("governance.dsr.restricted")[0].data["basis"] == refused.data["basis"]
    assert not events("governance.dsr.erased") and not events("crm.contact.anonymised")


def test_a_retention_duty_refuses_erasure_too(settings, rep, compliance, customer_contact):
    ensure_default_pipeline()
    settings.DSR_RETENTION_DUTY_DAYS = 6 * 365
    won = DealFactory(owner=rep, primary_contact=customer_contact, status="won")
    from crm.models import Deal

    Deal.objects.filter(pk=won.pk).update(closed_at=timezone.now() - dt.timedelta(days=10))
    dsr = log(compliance, customer_contact, kind=DSR.Kind.ERASURE)
    outcome = services.dsr_erase(actor=compliance, dsr=dsr)
    assert not outcome.erased and f"Deal #{won.pk}" in outcome.reasons[0]
    dsr.refresh_from_db()
    assert dsr.status == DSR.Status.RESTRICTED and "17(3)(b)" in dsr.legal_basis
    assert Contact.objects.get(pk=customer_contact.pk).name == "Clara Cliente"
    settings.DSR_RETENTION_DUTY_DAYS = 0
    with pytest.raises(Exception, match="decided"):
        services.dsr_erase(actor=compliance, dsr=dsr)


def test_the_contact_page_tells_staff_the_contact_is_restricted(
    client, rep, compliance, customer_contact
):
    client.force_login(rep)
    assert (
        b'data-testid="processing-restricted"'
        not in client.get(customer_contact.get_absolute_url()).content
    )
    services.dsr_restrict(actor=compliance, dsr=log(compliance, customer_contact), basis="")
    assert (
        b'data-testid="processing-restricted"'
        in client.get(customer_contact.get_absolute_url()).content
    )


def test_list_page_queries_do_not_grow(client, rep, compliance, django_assert_max_num_queries):
    contacts = [ContactFactory(owner=rep) for _ in range(12)]
    for contact in contacts[:2]:
        log(compliance, contact)
    client.force_login(compliance)
    client.get("/compliance/dsr/")  # the session and roles, read once
    with django_assert_max_num_queries(12) as few:
        assert client.get("/compliance/dsr/").status_code == 200
    for contact in contacts[2:]:
        services.dsr_restrict(actor=compliance, dsr=log(compliance, contact), basis="")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/compliance/dsr/")
    assert page.content.count(b'data-testid="dsr-row"') == 12
