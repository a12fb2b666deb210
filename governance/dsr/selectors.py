"""Reads of data-subject requests and of everything Keepline holds about a contact.

Every function here is for the compliance console: `require_console` first (404 for anyone
else). `contact_data` gathers a contact's data for an access export in a constant number of
queries whatever its size (subqueries, never id lists built in Python).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, CharField, F, Prefetch, Q, QuerySet, Value, When
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone

from audit.models import AuditEvent
from comms import selectors as comms_selectors
from comms.models import (
    Attachment,
    Conversation,
    CustomerLink,
    Message,
    MessageRevision,
)
from crm.models import Activity, Contact, Deal
from governance import permissions
from governance.models import DataSubjectRequest

FORMAT = "keepline-data-subject-export"
VERSION = 1


def dsr_list_for(user) -> QuerySet[DataSubjectRequest]:
    """Open requests first, the earliest due (so the overdue ones) on top; then the decided
    ones, the latest decision first."""
    permissions.require_console(user)
    is_open = Q(status=DataSubjectRequest.Status.OPEN)
    return DataSubjectRequest.objects.select_related("contact", "requester", "decided_by").order_by(
        Case(When(is_open, then=Value(0)), default=Value(1)),
        Case(When(is_open, then=F("due_at"))).asc(nulls_last=True),
        F("decided_at").desc(nulls_last=True),
        "-id",
    )


def dsr_get_for(user, pk) -> DataSubjectRequest:
    permissions.require_console(user)
    found = (
        DataSubjectRequest.objects.select_related("contact", "requester", "decided_by")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    return found


def contact_get_for(user, pk) -> Contact:
    """A contact for a new request: any contact, archived ones too (the console sees all)."""
    permissions.require_console(user)
    found = Contact.objects.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def contact_search_for(user, text: str, *, limit: int = 20) -> list[Contact]:
    """Contacts by name, email or phone, for the request form (the console sees all)."""
    from crm import selectors as crm_selectors

    permissions.require_console(user)
    text = (text or "").strip()
    if not text:
        return []
    return list(
        Contact.objects.filter(crm_selectors.contact_search_q(text))
        .select_related("company")
        .prefetch_related("emails")
        .order_by("last_name", "first_name", "id")[:limit]
    )


# --- the access export --------------------------------------------------------------------


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def _person(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


def _conversations_of(contact: Contact) -> QuerySet[Conversation]:
    return comms_selectors.conversations_of_contact(contact.pk)


def _as_text(qs: QuerySet) -> QuerySet:
    """The ids of `qs` as text, as audit events name their targets."""
    return qs.annotate(text_id=Cast("pk", CharField())).values("text_id")


def audit_events_about(contact: Contact) -> QuerySet[AuditEvent]:
    """Ledger events about the contact: those naming it as target or actor, and those about its
    conversations, their messages, files and customer links, and its data-subject requests."""
    conversations = _conversations_of(contact).values("pk")
    messages = Message.objects.filter(conversation_id__in=conversations)
    links = CustomerLink.objects.filter(
        Q(contact_id=contact.pk) | Q(conversation_id__in=conversations)
    )
    requests = DataSubjectRequest.objects.filter(contact_id=contact.pk)
    files = Attachment.objects.filter(conversation_id__in=conversations)
    activities = Activity.objects.filter(contact_id=contact.pk)
    about = (
        Q(target_type="crm.contact", target_id=str(contact.pk))
        | Q(actor_type=AuditEvent.ActorType.CONTACT, actor_id=contact.pk)
        | Q(target_type="comms.conversation", target_id__in=_as_text(_conversations_of(contact)))
        | Q(target_type="comms.message", target_id__in=_as_text(messages))
        | Q(target_type="comms.attachment", target_id__in=_as_text(files))
        | Q(target_type="comms.customerlink", target_id__in=_as_text(links))
        | Q(target_type="crm.activity", target_id__in=_as_text(activities))
        | Q(target_type="governance.datasubjectrequest", target_id__in=_as_text(requests))
    )
    return AuditEvent.objects.filter(about).order_by("seq")


def contact_data(contact: Contact) -> dict:
    """Everything Keepline holds about a contact, as one JSON-ready document: the contact's own
    fields, addresses, consents and tags; their company; their deals and the activities logged
    on them; their conversations with every message (each earlier version, retraction marks,
    files' names, types, sizes and digests), and customer links; their data-subject requests;
    and the audit events about them. A constant number of queries (15) whatever its size."""
    contact = (
        Contact.objects.select_related("company", "owner")
        .prefetch_related("tags", "emails", "phones", "consents")
        .get(pk=contact.pk)
    )
    company = contact.company
    deals = (
        Deal.objects.filter(Q(primary_contact_id=contact.pk) | Q(contacts=contact.pk))
        .distinct()
        .select_related("stage", "pipeline", "company", "owner")
        .order_by("created_at", "id")
    )
    activities = (
        Activity.objects.filter(contact_id=contact.pk)
        .select_related("author")
        .order_by("created_at", "id")
    )
    messages = Message.objects.select_related("author_user", "author_contact").prefetch_related(
        Prefetch(
            "revisions",
            queryset=MessageRevision.objects.select_related("editor").order_by("id"),
        ),
        "attachments",
    )
    conversations = (
        _conversations_of(contact)
        .select_related("deal", "assignee")
        .prefetch_related(
            Prefetch("messages", queryset=messages.order_by("id")),
            Prefetch("customer_links", queryset=CustomerLink.objects.order_by("id")),
        )
        .order_by("created_at", "id")
    )
    requests = DataSubjectRequest.objects.filter(contact_id=contact.pk).order_by("received_at")
    events = audit_events_about(contact)
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": _iso(timezone.now()),
        "contact": {
            "id": contact.pk,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "title": contact.title,
            "emails": [e.email for e in contact.emails.all()],
            "phones": [p.number for p in contact.phones.all()],
            "preferred_channel": contact.preferred_channel,
            "lifecycle_stage": contact.lifecycle_stage,
            "tags": sorted(t.name for t in contact.tags.all()),
            "owner": _person(contact.owner),
            "processing_restricted": contact.processing_restricted,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
            "archived_at": _iso(contact.archived_at),
        },
        "company": None
        if company is None
        else {
            "id": company.pk,
            "name": company.name,
            "domain": company.domain,
            "industry": company.industry,
            "phone": company.phone,
            "address": company.address,
        },
        "consents": [
            {
                "channel": c.channel,
                "status": c.status,
                "recorded_at": _iso(c.recorded_at),
                "source": c.source,
            }
            for c in contact.consents.all()
        ],
        "deals": [
            {
                "id": d.pk,
                "title": d.title,
                "status": d.status,
                "pipeline": d.pipeline.name,
                "stage": d.stage.name,
                "amount": str(d.amount),
                "currency": d.currency,
                "company": d.company.name if d.company else None,
                "primary_contact": d.primary_contact_id == contact.pk,
                "expected_close_date": _iso(d.expected_close_date),
                "closed_at": _iso(d.closed_at),
                "lost_reason": d.lost_reason,
                "owner": _person(d.owner),
                "created_at": _iso(d.created_at),
            }
            for d in deals
        ],
        "activities": [
            {
                "id": a.pk,
                "kind": a.kind,
                "subject": a.subject,
                "details": a.body,
                "due_at": _iso(a.due_at),
                "done": a.done,
                "done_at": _iso(a.done_at),
                "deal": a.deal_id,
                "author": _person(a.author),
                "created_at": _iso(a.created_at),
            }
            for a in activities
        ],
        "conversations": [_conversation(c) for c in conversations],
        "requests": [
            {
                "id": r.pk,
                "kind": r.kind,
                "law": r.law,
                "reference": r.subject_reference,
                "channel": r.channel,
                "received_at": _iso(r.received_at),
                "due_at": _iso(r.due_at),
                "status": r.status,
                "decision": r.decision,
                "legal_basis": r.legal_basis,
                "decided_at": _iso(r.decided_at),
            }
            for r in requests
        ],
        "audit_events": [
            {
                "seq": e.seq,
                "time": _iso(e.created_at),
                "actor": e.actor_label,
                "actor_type": e.actor_type,
                "action": e.action,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "target": e.target_label,
                "data": e.data,
            }
            for e in events
        ],
    }


def _conversation(c: Conversation) -> dict:
    return {
        "id": c.pk,
        "channel": c.kind,
        "status": c.status,
        "subject": c.subject,
        "deal": c.deal.title if c.deal else None,
        "assignee": _person(c.assignee),
        "created_at": _iso(c.created_at),
        "messages": [_message(m) for m in c.messages.all()],
        "customer_links": [
            {
                "id": link.pk,
                "issued_at": _iso(link.created_at),
                "expires_at": _iso(link.expires_at),
                "revoked_at": _iso(link.revoked_at),
            }
            for link in c.customer_links.all()
        ],
    }


def _author(m: Message) -> str:
    if m.author_contact_id is not None:
        return m.author_contact.name
    if m.author_user_id is not None:
        return _person(m.author_user)
    return "Keepline"


def _message(m: Message) -> dict:
    return {
        "id": m.pk,
        "direction": m.direction,
        "author": _author(m),
        "from_contact": m.author_contact_id is not None,
        "text": m.body,
        "sent_at": _iso(m.created_at),
        "delivery_status": m.status,
        "edited_at": _iso(m.edited_at),
        "retracted": m.retracted,
        "retracted_at": _iso(m.retracted_at),
        # Purged (retention or erasure): the text is gone, its SHA-256 kept.
        "purged_at": _iso(m.purged_at),
        "text_sha256": m.body_sha256 or None,
        "earlier_versions": [
            {
                "text": r.body,
                "replaced_at": _iso(r.edited_at),
                "editor": _person(r.editor),
                "purged_at": _iso(r.purged_at),
            }
            for r in m.revisions.all()
        ],
        "files": [
            {
                "id": a.pk,
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "uploaded_at": _iso(a.created_at),
                "purged_at": _iso(a.purged_at),
            }
            for a in m.attachments.all()
        ],
    }
