"""Every write of data-subject requests (GDPR, LGPD). Keyword-only, one transaction each, the
console's policy checked first (404 for anyone else), the audit record written last.

Each decision is recorded on the request (status, decision, legal basis, who, when) and audited
with the request, its contact, the staff member who logged it (`requester`) and the basis:
governance.dsr.received, .access_exported, .erased, .refused, .restricted.

Erasure happens in one transaction: legal holds covering the contact (governance.holds) and the
statutory retention duty (settings.DSR_RETENTION_DUTY_DAYS) are checked first; when one applies,
nothing is erased, the refusal names it and processing is restricted instead (crm's
Contact.processing_restricted, which stops every send to the contact); otherwise the contact's
personal fields are anonymised (crm), their messages become tombstones and their files' bytes go
(comms.services.purge, which checks holds again in the same transaction), their customer links
end and their conversations' subjects are cleared (comms.services.erasure). The audit ledger
itself is never changed: its events keep what they recorded (GDPR art. 17(3)(b) and (e)).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts.models import User
from comms.models import Message
from comms.services import erasure as comms_erasure
from comms.services.purge import message_bodies_purge
from config.errors import Conflict, Invalid
from crm import services as crm_services
from crm.models import Contact, Deal
from governance import permissions
from governance.dsr import selectors
from governance.holds import holds_covering_contact
from governance.models import DataSubjectRequest

DSR = DataSubjectRequest
Kind, Law, Status = DSR.Kind, DSR.Law, DSR.Status

# The articles each decision rests on, per law (recorded on the request and in the ledger).
BASIS = {
    "access": {
        Law.GDPR: "GDPR art. 15 (right of access)",
        Law.LGPD: "LGPD art. 18, II and art. 19 (acesso aos dados)",
    },
    "erasure": {
        Law.GDPR: "GDPR art. 17(1) (right to erasure)",
        Law.LGPD: "LGPD art. 18, VI (eliminação dos dados)",
    },
    "restriction": {
        Law.GDPR: "GDPR art. 18(1) (restriction of processing)",
        Law.LGPD: "LGPD art. 18, IV (bloqueio)",
    },
    "hold": {
        Law.GDPR: "GDPR art. 17(3)(e) and art. 18(2): establishment, exercise or defence of "
        "legal claims (legal hold)",
        Law.LGPD: "LGPD art. 16, I and art. 7, VI: exercício regular de direitos em processo "
        "judicial (legal hold)",
    },
    "duty": {
        Law.GDPR: "GDPR art. 17(3)(b): compliance with a legal obligation to retain",
        Law.LGPD: "LGPD art. 16, I: cumprimento de obrigação legal ou regulatória",
    },
}


def _basis(topic: str, law: str) -> str:
    return BASIS[topic][law]


def due_at_for(law: str, received_at: dt.datetime) -> dt.datetime:
    """When the answer is due: the law's number of days (settings.DSR_RESPONSE_DAYS) after
    receipt."""
    return received_at + dt.timedelta(days=settings.DSR_RESPONSE_DAYS[law])


def _choice(value, choices, field_name: str, message: str) -> str:
    value = str(value or "").strip()
    if value not in choices.values:
        raise Invalid(fields={field_name: message})
    return value


@transaction.atomic
def dsr_create(
    *,
    actor: User,
    contact: Contact,
    kind: str,
    law: str = Law.GDPR,
    channel: str = DSR.Channel.EMAIL,
    subject_reference: str = "",
    details: str = "",
    received_at: dt.datetime | None = None,
    request=None,
) -> DataSubjectRequest:
    """Log a request as it arrived; its answer is due the law's number of days after receipt.
    Audited (governance.dsr.received)."""
    permissions.require_handle_dsr(actor)
    kind = _choice(kind, Kind, "kind", _("Choose what the person asks for."))
    law = _choice(law, Law, "law", _("Choose the law the request is made under."))
    channel = _choice(channel, DSR.Channel, "channel", _("Choose how the request arrived."))
    now = timezone.now()
    received_at = received_at or now
    if timezone.is_naive(received_at):
        raise Invalid(fields={"received_at": _("Give the time with its time zone.")})
    if received_at > now + dt.timedelta(minutes=5):
        raise Invalid(fields={"received_at": _("A request cannot be received in the future.")})
    dsr = DSR.objects.create(
        contact=contact,
        kind=kind,
        law=law,
        channel=channel,
        subject_reference=(subject_reference or "").strip()[:200],
        details=(details or "").strip()[:5000],
        requester=actor,
        received_at=received_at,
        due_at=due_at_for(law, received_at),
        created_at=now,
    )
    audit.record(
        actor=actor,
        action="governance.dsr.received",
        target=dsr,
        data={
            "contact": contact.pk,
            "kind": kind,
            "law": law,
            "channel": channel,
            "reference": dsr.subject_reference,
            "received_at": received_at,
            "due_at": dsr.due_at,
        },
        request=request,
    )
    return dsr


def _event_data(dsr: DataSubjectRequest, **extra) -> dict:
    return {
        "request": dsr.pk,
        "contact": dsr.contact_id,
        "kind": dsr.kind,
        "law": dsr.law,
        "requester": dsr.requester_id,
        "requester_label": dsr.requester.get_username() if dsr.requester_id else None,
        **extra,
    }


def _locked(dsr: DataSubjectRequest) -> DataSubjectRequest:
    return (
        DSR.objects.select_for_update(of=("self",))
        .select_related("contact", "requester")
        .get(pk=dsr.pk)
    )


def _require_open(dsr: DataSubjectRequest) -> None:
    if not dsr.is_open:
        raise Conflict(
            _("This request was decided already (%(status)s).")
            % {"status": dsr.get_status_display()},
            code="dsr_decided",
        )


def _decide(dsr, *, actor, status: str, decision: str, basis: str, now) -> None:
    dsr.status, dsr.decision, dsr.legal_basis = status, decision, basis
    dsr.decided_by, dsr.decided_at = actor, now
    dsr.save(update_fields=["status", "decision", "legal_basis", "decided_by", "decided_at"])


# --- access ---------------------------------------------------------------------------------


@dataclass
class AccessExport:
    request: DataSubjectRequest
    data: dict
    text: str  # the JSON document, as downloaded
    sha256: str


@transaction.atomic
def dsr_access_export(
    *, actor: User, dsr: DataSubjectRequest, fmt: str = "json", request=None
) -> AccessExport:
    """Everything Keepline holds about the request's contact (governance.dsr.selectors
    .contact_data), for a JSON download or the readable page (`fmt` "json" or "html"). An open
    access request is answered by it (completed, basis GDPR art. 15 / LGPD art. 18, II). Audited
    (governance.dsr.access_exported) with the format, the SHA-256 of the JSON document and what
    it holds."""
    permissions.require_handle_dsr(actor)
    if fmt not in ("json", "html"):
        raise Invalid(fields={"format": _("Choose JSON or the readable page.")})
    dsr = _locked(dsr)
    data = selectors.contact_data(dsr.contact)
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()
    if dsr.is_open and dsr.kind == Kind.ACCESS:
        basis = _basis("access", dsr.law)
        _decide(
            dsr,
            actor=actor,
            status=Status.COMPLETED,
            decision=_("A copy of their data was exported for the person."),
            basis=basis,
            now=timezone.now(),
        )
    counts = {
        "conversations": len(data["conversations"]),
        "messages": sum(len(c["messages"]) for c in data["conversations"]),
        "deals": len(data["deals"]),
        "activities": len(data["activities"]),
        "audit_events": len(data["audit_events"]),
    }
    audit.record(
        actor=actor,
        action="governance.dsr.access_exported",
        target=dsr,
        data=_event_data(
            dsr, format=fmt, sha256=digest, counts=counts, basis=_basis("access", dsr.law)
        ),
        request=request,
    )
    return AccessExport(dsr, data, text, digest)


# --- erasure --------------------------------------------------------------------------------


@dataclass
class ErasureOutcome:
    request: DataSubjectRequest
    erased: bool
    reasons: list[str] = field(default_factory=list)  # why it was refused
    summary: dict = field(default_factory=dict)  # what was erased


def retention_duty(contact: Contact, now: dt.datetime | None = None) -> str | None:
    """The statutory duty to keep this contact's records, or None: a deal with them won less than
    DSR_RETENTION_DUTY_DAYS ago (0: no duty is applied)."""
    days = settings.DSR_RETENTION_DUTY_DAYS
    if days <= 0:
        return None
    since = (now or timezone.now()) - dt.timedelta(days=days)
    deal = (
        Deal.objects.filter(Q(primary_contact_id=contact.pk) | Q(contacts=contact.pk))
        .filter(status=Deal.Status.WON, closed_at__gt=since)
        .order_by("-closed_at", "-pk")
        .first()
    )
    if deal is None:
        return None
    until = deal.closed_at + dt.timedelta(days=days)
    return _(
        "Deal #%(deal)s was won on %(won)s: the records of a sale are kept for %(days)s days, "
        "until %(until)s (statutory retention)."
    ) % {
        "deal": deal.pk,
        "won": deal.closed_at.date().isoformat(),
        "days": days,
        "until": until.date().isoformat(),
    }


def _hold_reason(hold) -> str:
    return _("Legal hold “%(matter)s”: %(reason)s (placed by %(by)s).") % {
        "matter": hold.matter,
        "reason": hold.reason,
        "by": hold.created_by.get_username() if hold.created_by_id else _("system"),
    }


@transaction.atomic
def dsr_erase(*, actor: User, dsr: DataSubjectRequest, request=None) -> ErasureOutcome:
    """Answer an erasure request, in one transaction. Under an active legal hold covering the
    contact, or a statutory retention duty, nothing is erased: the request is marked
    "processing restricted" with the refusal's reasons (each hold's matter and reason, or the
    duty) and its basis (GDPR art. 17(3)(e)/(b), LGPD art. 16, I), and the contact's processing
    is restricted (governance.dsr.refused, then .restricted). Otherwise the contact is
    anonymised, their messages purged to tombstones (files' bytes deleted), their links ended
    and conversation subjects cleared; the request is completed (governance.dsr.erased, with
    counts, never the erased values)."""
    permissions.require_handle_dsr(actor)
    dsr = _locked(dsr)
    _require_open(dsr)
    if dsr.kind != Kind.ERASURE:
        raise Invalid(_("Only an erasure request erases: this one asks for something else."))
    contact = Contact.objects.select_for_update().get(pk=dsr.contact_id)
    now = timezone.now()
    holds = list(holds_covering_contact(contact))
    duty = retention_duty(contact, now)
    if holds or duty:
        return _refuse_and_restrict(actor, dsr, contact, holds, duty, now, request)
    reason = f"DSR #{dsr.pk}: erasure ({dsr.get_law_display()})"
    purged = _purge_messages(actor, contact, reason)
    links = comms_erasure.contact_conversations_erase(
        actor=actor, contact_id=contact.pk, reason=reason, request=request
    )
    fields = crm_services.contact_anonymise(
        actor=actor,
        contact=contact,
        pseudonym=f"Erased contact #{contact.pk}",
        reason=reason,
        request=request,
    )
    summary = {"messages_purged": purged, **links, **fields}
    basis = _basis("erasure", dsr.law)
    _decide(
        dsr,
        actor=actor,
        status=Status.COMPLETED,
        decision=_(
            "Erased: the contact's personal fields were anonymised, %(messages)s message texts "
            "purged, %(links)s customer links ended."
        )
        % {"messages": purged, "links": links["links_revoked"]},
        basis=basis,
        now=now,
    )
    audit.record(
        actor=actor,
        action="governance.dsr.erased",
        target=dsr,
        data=_event_data(dsr, basis=basis, summary=summary),
        request=request,
    )
    return ErasureOutcome(dsr, True, summary=summary)


def _purge_messages(actor: User, contact: Contact, reason: str) -> int:
    """Every message of the contact's conversations becomes a tombstone. A hold placed since our
    check (the purge checks again, under its lock) leaves some unpurged: then nothing is erased."""
    ids = list(
        Message.objects.filter(
            conversation_id__in=selectors.comms_selectors.conversations_of_contact(
                contact.pk
            ).values("pk"),
            purged_at__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    purged = message_bodies_purge(message_ids=ids, actor=actor, reason=reason)
    if purged != len(ids):
        raise Conflict(
            _("A legal hold was placed on this contact meanwhile: nothing was erased. Try again."),
            code="held",
        )
    return purged


def _refuse_and_restrict(actor, dsr, contact, holds, duty, now, request) -> ErasureOutcome:
    reasons = [_hold_reason(h) for h in holds] + ([duty] if duty else [])
    topics = (["hold"] if holds else []) + (["duty"] if duty else [])
    basis = "; ".join(_basis(topic, dsr.law) for topic in topics)
    crm_services.contact_processing_restrict(
        actor=actor, contact=contact, restricted=True, basis=basis, request=request
    )
    _decide(
        dsr,
        actor=actor,
        status=Status.RESTRICTED,
        decision=_("Erasure refused: %(reasons)s Processing is restricted instead.")
        % {"reasons": " ".join(reasons)},
        basis=basis,
        now=now,
    )
    refusal = {
        "reasons": reasons,
        "holds": [
            {
                "id": h.pk,
                "matter": h.matter,
                "reason": h.reason,
                "created_by": h.created_by_id,
            }
            for h in holds
        ],
        "retention_duty": duty,
    }
    audit.record_many(
        [
            {
                "actor": actor,
                "action": "governance.dsr.refused",
                "target": dsr,
                "data": _event_data(dsr, basis=basis, refused="erasure", **refusal),
                "request": request,
            },
            {
                "actor": actor,
                "action": "governance.dsr.restricted",
                "target": dsr,
                "data": _event_data(dsr, basis=basis),
                "request": request,
            },
        ],
        returning=False,
    )
    return ErasureOutcome(dsr, False, reasons=reasons)


# --- restriction and refusal ----------------------------------------------------------------


@transaction.atomic
def dsr_restrict(
    *, actor: User, dsr: DataSubjectRequest, basis: str = "", request=None
) -> DataSubjectRequest:
    """Restrict the processing of the contact's data (nothing is sent to them any more) and
    record the request as answered so, with `basis` or the law's article. Audited
    (governance.dsr.restricted)."""
    permissions.require_handle_dsr(actor)
    dsr = _locked(dsr)
    _require_open(dsr)
    basis = (basis or "").strip()[:1000] or _basis("restriction", dsr.law)
    crm_services.contact_processing_restrict(
        actor=actor, contact=dsr.contact, restricted=True, basis=basis, request=request
    )
    _decide(
        dsr,
        actor=actor,
        status=Status.RESTRICTED,
        decision=_("Processing of the contact's data is restricted: nothing is sent to them."),
        basis=basis,
        now=timezone.now(),
    )
    audit.record(
        actor=actor,
        action="governance.dsr.restricted",
        target=dsr,
        data=_event_data(dsr, basis=basis),
        request=request,
    )
    return dsr


@transaction.atomic
def dsr_refuse(
    *, actor: User, dsr: DataSubjectRequest, reason: str, basis: str, request=None
) -> DataSubjectRequest:
    """Refuse a request (the person's identity could not be confirmed, a manifestly unfounded
    or excessive request: GDPR art. 12(5)), with the reason told to them and its legal basis,
    both required. Audited (governance.dsr.refused)."""
    permissions.require_handle_dsr(actor)
    reason, basis = (reason or "").strip()[:2000], (basis or "").strip()[:1000]
    missing = {}
    if not reason:
        missing["reason"] = _("Say why the request is refused.")
    if not basis:
        missing["basis"] = _("Give the legal basis of the refusal.")
    if missing:
        raise Invalid(fields=missing)
    dsr = _locked(dsr)
    _require_open(dsr)
    _decide(
        dsr, actor=actor, status=Status.REFUSED, decision=reason, basis=basis, now=timezone.now()
    )
    audit.record(
        actor=actor,
        action="governance.dsr.refused",
        target=dsr,
        data=_event_data(dsr, basis=basis, reasons=[reason], refused=dsr.kind),
        request=request,
    )
    return dsr
