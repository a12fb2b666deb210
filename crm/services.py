"""Every CRM write. Keyword-only arguments, one transaction each, permission checked first, and
the audit record written last (it locks the ledger head until the transaction ends).

Refusals are config.errors: NotFound for a record the actor may not see (as for a missing one),
Forbidden, Invalid (with the fields it is about), Conflict (DuplicateContact)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

import audit
from accounts import book
from accounts.models import Team, User
from config.errors import Conflict, Forbidden, Invalid, invalid_from
from crm import permissions, phones, signals
from crm.models import (
    Activity,
    Channel,
    Company,
    Contact,
    ContactConsent,
    ContactEmail,
    ContactPhone,
    Deal,
    Pipeline,
    Stage,
    Tag,
)
from crm.permissions import CHANGE, VIEW, Level

COMPANY_FIELDS = ("name", "domain", "industry", "phone", "address")
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "title",
    "company",
    "preferred_channel",
    "lifecycle_stage",
)
DEAL_FIELDS = (
    "title",
    "company",
    "primary_contact",
    "amount",
    "currency",
    "expected_close_date",
    "lost_reason",
)
STAGE_FIELDS = ("stage", "pipeline", "status", "closed_at")


class DuplicateContact(Conflict):
    """A contact with one of these emails or phones already exists (409, code duplicate_contact).

    existing_ids names only contacts the actor may open. `refused`: the organisation forbids
    duplicates (CRM_DUPLICATE_CONTACTS = "refuse"), so confirming does not help. The body adds
    `existing_id` (the first of them, or null) and `existing_ids`."""

    code = "duplicate_contact"

    def __init__(self, existing_ids: list[int], *, refused: bool = False, detail=None):
        self.existing_ids = list(existing_ids)
        self.refused = refused
        super().__init__(detail)

    def default_detail(self) -> str:
        if self.refused:
            return _(
                "A contact with this email or phone already exists, and duplicates are not allowed."
            )
        return _("A contact with this email or phone already exists.")

    def as_dict(self) -> dict:
        ids = self.existing_ids
        return {**super().as_dict(), "existing_id": ids[0] if ids else None, "existing_ids": ids}


@dataclass(frozen=True)
class DuplicateCheck:
    """Duplicates of a new contact as one user may learn of them: the ids they may open, and
    whether the organisation's rule refuses the contact (which then names nothing else)."""

    visible_ids: list[int]
    refused: bool

    def error(self) -> DuplicateContact | None:
        if self.refused or self.visible_ids:
            return DuplicateContact(self.visible_ids, refused=self.refused)
        return None


def duplicates_refused() -> bool:
    return settings.CRM_DUPLICATE_CONTACTS == "refuse"


def _action(obj: Model, verb: str) -> str:
    return f"crm.{obj._meta.model_name}.{verb}"


def _tags(names: Iterable[str]) -> list[Tag]:
    clean = sorted({name.strip().lower()[:50] for name in names if name and name.strip()})
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=clean)}
    missing = [Tag(name=name) for name in clean if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=clean)}
    return [existing[name] for name in clean]


def _tag_names(obj) -> list[str]:
    return sorted(tag.name for tag in obj.tags.all())


def _check_owner(actor: User, owner: User | None) -> User:
    """A record goes to the actor, or (Admin, or someone above the new owner) to another person."""
    if owner is None or owner.pk == actor.pk:
        return actor
    if not owner.is_active:
        raise Invalid(fields={"owner": _("%(user)s is not an active user.") % {"user": owner}})
    if permissions.is_admin(actor) or permissions.is_above(actor, owner.pk):
        return owner
    raise Forbidden(fields={"owner": _("You can only give records to people who report to you.")})


def _require_visible_link(actor: User, obj: Model | None, field: str) -> None:
    """A record may only point at records its author can see."""
    if obj is not None and not permissions.can_view(actor, obj):
        raise Invalid(fields={field: _("Choose a record you can see.")})


def _full_clean(obj: Model) -> None:
    """The model's own validation, refused as Invalid with its fields."""
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise invalid_from(exc) from exc


def _phone(value: str, region: str | None = None, *, field: str = "phone") -> str:
    try:
        return phones.normalise(value, region)
    except ValidationError as exc:
        raise invalid_from(exc, field=field) from exc


# --- companies --------------------------------------------------------------------------------


@transaction.atomic
def company_create(
    *,
    actor: User,
    name: str,
    domain: str = "",
    industry: str = "",
    phone: str = "",
    address: str = "",
    owner: User | None = None,
    tags: Iterable[str] = (),
    request=None,
) -> Company:
    """Create a company owned by `owner` (default the actor). Audited as crm.company.created."""
    permissions.require_create(actor, Company)
    company = Company(
        name=name.strip(),
        domain=domain.strip().lower(),
        industry=industry.strip(),
        phone=_phone(phone) if phone.strip() else "",
        address=address.strip(),
        owner=_check_owner(actor, owner),
    )
    _full_clean(company)
    company.save()
    company.tags.set(_tags(tags))
    after = {**audit.snapshot(company, (*COMPANY_FIELDS, "owner")), "tags": _tag_names(company)}
    audit.record(
        actor=actor,
        action="crm.company.created",
        target=company,
        data={"changes": audit.changes({}, after)},
        request=request,
    )
    return company


@transaction.atomic
def company_update(
    *,
    actor: User,
    company: Company,
    owner: User | None = None,
    tags: Iterable[str] | None = None,
    request=None,
    cascade: Iterable[str] | None = None,
    **fields,
) -> Company:
    """Change a company's fields (and owner). Audited as crm.company.updated / .reassigned.
    A new owner takes, by default (`cascade`, see COMPANY_CASCADE), the company's live contacts
    and open deals the old owner held, and the open conversations of all of them."""
    unknown = set(fields) - set(COMPANY_FIELDS)
    if unknown:
        raise TypeError(f"unknown company fields {sorted(unknown)}")
    if "phone" in fields and fields["phone"].strip():
        fields["phone"] = _phone(fields["phone"])
    if "domain" in fields:
        fields["domain"] = fields["domain"].strip().lower()
    return _update(
        actor=actor,
        obj=company,
        fields=fields,
        field_names=COMPANY_FIELDS,
        owner=owner,
        tags=tags,
        request=request,
        cascade=COMPANY_CASCADE if cascade is None else cascade,
    )


def _update(
    *,
    actor,
    obj,
    fields,
    field_names,
    owner,
    tags,
    request,
    extra_state=None,
    extra_write=None,
    cascade=(),
):
    """Shared body of the update services: write, then one audit record per kind of change
    (fields, owner). extra_state() adds related state (emails, contacts) to the before/after."""
    permissions.require_change(actor, obj)

    def state():
        return {
            **audit.snapshot(obj, field_names),
            "tags": _tag_names(obj),
            **(extra_state() if extra_state else {}),
        }

    before = state()
    old_owner_id = obj.owner_id
    for name, value in fields.items():
        setattr(obj, name, value.strip() if isinstance(value, str) else value)
    if owner is not None and owner.pk != obj.owner_id:
        if not permissions.can_reassign(actor, obj):
            raise Forbidden(
                fields={"owner": _("Only the owner or someone above them reassigns a record.")}
            )
        obj.owner = _check_owner(actor, owner)
    _full_clean(obj)
    obj.save()
    if tags is not None:
        obj.tags.set(_tags(tags))
    if extra_write:
        extra_write()
    changed = audit.changes(before, state())
    if changed:
        audit.record(
            actor=actor,
            action=_action(obj, "updated"),
            target=obj,
            data={"changes": changed},
            request=request,
        )
    if obj.owner_id != old_owner_id:
        _record_reassigned(actor, obj, old_owner_id, request)
        _follow_owner(actor, obj, old_owner_id, cascade, request)
    return obj


# What follows a reassigned company unless the caller says otherwise: its live contacts and
# open deals the old owner held. Whatever moves, its open conversations held by the old owner
# go with it (comms's part of the book), for a contact or a deal reassigned alone as well.
COMPANY_CASCADE = frozenset({"contacts", "deals"})
CASCADES = frozenset({"contacts", "deals"})


def _handover(actor, obj, old_owner_id: int, new_owner: User, cascade, request, *, dry_run):
    kind = obj._meta.model_name
    unknown = set(cascade or ()) - CASCADES
    if unknown:
        raise Invalid(fields={"cascade": _("Choose contacts and/or deals.")})
    handover = book.Handover(
        actor=actor,
        leaver=User(pk=old_owner_id),
        mode="one",
        successors=[new_owner],
        scope={kind: [obj.pk], "cascade": set(cascade or ())},
        dry_run=dry_run,
        request=request,
    )
    handover.moved = {kind: {obj.pk: new_owner.pk}}
    for part in book.parts():
        part.hand_over(handover)
    return handover


def _follow_owner(actor, obj, old_owner_id: int, cascade, request) -> None:
    handover = _handover(actor, obj, old_owner_id, obj.owner, cascade, request, dry_run=False)
    audit.record_many(handover.events, returning=False)


def record_reassign_preview(
    *, actor: User, record: Model, owner: User, cascade: Iterable[str] | None = None
) -> dict[str, int]:
    """What giving `record` to `owner` would move, changing nothing: counts of the contacts and
    open deals that follow a company, and of the open conversations that follow them all."""
    permissions.require_view(actor, record)
    if not permissions.can_reassign(actor, record):
        raise Forbidden(
            fields={"owner": _("Only the owner or someone above them reassigns a record.")}
        )
    owner = _check_owner(actor, owner)
    if cascade is None:
        cascade = COMPANY_CASCADE if isinstance(record, Company) else ()
    handover = _handover(actor, record, record.owner_id, owner, cascade, None, dry_run=True)
    return handover.counts


def _record_reassigned(actor, obj, old_owner_id, request) -> None:
    # The old owner (and their managers) may have lost sight of the record's conversations.
    signals.record_access_changed.send(sender=type(obj), record=obj)
    audit.record(
        actor=actor,
        action=_action(obj, "reassigned"),
        target=obj,
        data={"changes": {"owner": {"before": old_owner_id, "after": obj.owner_id}}},
        request=request,
    )


# --- contacts ---------------------------------------------------------------------------------


def normalise_emails(emails: Iterable[str]) -> list[str]:
    from django.core.validators import validate_email

    out: list[str] = []
    for raw in emails:
        email = (raw or "").strip().lower()
        if not email:
            continue
        try:
            validate_email(email)
        except ValidationError as exc:
            raise Invalid(
                fields={"emails": _("“%(value)s” is not an email address.") % {"value": email}}
            ) from exc
        if email not in out:
            out.append(email)
    return out


def normalise_phones(numbers: Iterable[str], region: str | None = None) -> list[str]:
    out: list[str] = []
    for raw in numbers:
        if not (raw or "").strip():
            continue
        number = _phone(raw, region, field="phones")
        if number not in out:
            out.append(number)
    return out


def _set_channels(contact: Contact, emails: list[str], numbers: list[str]) -> None:
    ContactEmail.objects.filter(contact=contact).exclude(email__in=emails).delete()
    ContactPhone.objects.filter(contact=contact).exclude(number__in=numbers).delete()
    have_emails = set(contact.emails.values_list("email", flat=True))
    have_phones = set(contact.phones.values_list("number", flat=True))
    ContactEmail.objects.bulk_create(
        ContactEmail(contact=contact, email=email) for email in emails if email not in have_emails
    )
    ContactPhone.objects.bulk_create(
        ContactPhone(contact=contact, number=n) for n in numbers if n not in have_phones
    )
    ContactEmail.objects.filter(contact=contact).update(is_primary=False)
    ContactPhone.objects.filter(contact=contact).update(is_primary=False)
    if emails:
        ContactEmail.objects.filter(contact=contact, email=emails[0]).update(is_primary=True)
    if numbers:
        ContactPhone.objects.filter(contact=contact, number=numbers[0]).update(is_primary=True)


def _channels_snapshot(contact: Contact) -> dict:
    return {
        "emails": list(
            contact.emails.order_by("-is_primary", "id").values_list("email", flat=True)
        ),
        "phones": list(
            contact.phones.order_by("-is_primary", "id").values_list("number", flat=True)
        ),
    }


def check_duplicates(
    *, actor: User, emails: list[str], numbers: list[str], exclude_id: int | None = None
) -> DuplicateCheck:
    """What `actor` may learn about live contacts holding these emails or phones: a contact they
    may not open is never named, nor even announced unless the organisation refuses duplicates
    (a warning about it would confirm that someone else's customer exists)."""
    from crm import selectors

    if not emails and not numbers:
        return DuplicateCheck(visible_ids=[], refused=False)
    found = selectors.contact_duplicates(emails=emails, phones=numbers, exclude_id=exclude_id)
    visible = selectors.contact_ids_visible_to(actor, found.values("pk"))[:10]
    refused = duplicates_refused() and (bool(visible) or found.exists())
    return DuplicateCheck(visible_ids=visible, refused=refused)


@transaction.atomic
def contact_create(
    *,
    actor: User,
    first_name: str,
    last_name: str = "",
    title: str = "",
    company: Company | None = None,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    phone_region: str | None = None,
    preferred_channel: str = Channel.EMAIL,
    lifecycle_stage: str = "lead",
    owner: User | None = None,
    tags: Iterable[str] = (),
    allow_duplicate: bool = False,
    request=None,
) -> Contact:
    """Create a contact; emails lower-cased, phones in E.164. A contact sharing an email or phone
    with a live one the actor may open raises DuplicateContact unless allow_duplicate; where the
    organisation refuses duplicates, any live one does (allow_duplicate or not) and only those
    the actor may open are named. Audited (crm.contact.created).
    """
    permissions.require_create(actor, Contact)
    _require_visible_link(actor, company, "company")
    clean_emails = normalise_emails(emails)
    clean_phones = normalise_phones(phones, phone_region)
    if duplicates_refused() or not allow_duplicate:
        duplicate = check_duplicates(actor=actor, emails=clean_emails, numbers=clean_phones)
        if duplicate.refused or (duplicate.visible_ids and not allow_duplicate):
            raise duplicate.error()
    contact = Contact(
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        title=title.strip(),
        company=company,
        preferred_channel=preferred_channel,
        lifecycle_stage=lifecycle_stage,
        owner=_check_owner(actor, owner),
    )
    _full_clean(contact)
    contact.save()
    _set_channels(contact, clean_emails, clean_phones)
    contact.tags.set(_tags(tags))
    after = {
        **audit.snapshot(contact, (*CONTACT_FIELDS, "owner")),
        **_channels_snapshot(contact),
        "tags": _tag_names(contact),
    }
    data = {"changes": audit.changes({}, after)}
    if allow_duplicate:
        data["duplicate_allowed"] = True
    audit.record(
        actor=actor, action="crm.contact.created", target=contact, data=data, request=request
    )
    return contact


@transaction.atomic
def contact_create_inbound(
    *, owner: User, first_name: str, email: str = "", phone: str = "", channel: str
) -> Contact:
    """A contact for an unknown sender of an inbound channel message (no person acted: the
    channel was authenticated by its caller), flagged `is_new` until someone saves it.
    `phone` in E.164. Audited (crm.contact.created, actor the system, with the channel)."""
    clean_emails = normalise_emails([email] if email else [])
    clean_phones = normalise_phones([phone] if phone else [], None)
    contact = Contact(
        first_name=(first_name or "").strip()[:100] or (clean_emails or clean_phones or ["?"])[0],
        owner=owner,
        preferred_channel=channel if channel in Channel.values else Channel.EMAIL,
        is_new=True,
    )
    contact.save()
    _set_channels(contact, clean_emails, clean_phones)
    after = {**audit.snapshot(contact, (*CONTACT_FIELDS, "owner")), **_channels_snapshot(contact)}
    audit.record(
        actor=None,
        action="crm.contact.created",
        target=contact,
        data={"changes": audit.changes({}, after), "inbound": channel},
    )
    return contact


@transaction.atomic
def contact_update(
    *,
    actor: User,
    contact: Contact,
    emails: Iterable[str] | None = None,
    phones: Iterable[str] | None = None,
    phone_region: str | None = None,
    owner: User | None = None,
    tags: Iterable[str] | None = None,
    request=None,
    **fields,
) -> Contact:
    """Change a contact (emails and phones replaced when given). Audited (crm.contact.updated)."""
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise TypeError(f"unknown contact fields {sorted(unknown)}")
    if "company" in fields and fields["company"] != contact.company:
        _require_visible_link(actor, fields["company"], "company")
    clean_emails = normalise_emails(emails) if emails is not None else None
    clean_phones = normalise_phones(phones, phone_region) if phones is not None else None
    permissions.require_change(actor, contact)
    current = _channels_snapshot(contact)
    contact.is_new = False  # someone has looked at it now

    def write_channels():
        _set_channels(
            contact,
            clean_emails if clean_emails is not None else current["emails"],
            clean_phones if clean_phones is not None else current["phones"],
        )

    return _update(
        actor=actor,
        obj=contact,
        fields=fields,
        field_names=CONTACT_FIELDS,
        owner=owner,
        tags=tags,
        request=request,
        extra_state=lambda: _channels_snapshot(contact),
        extra_write=write_channels,
    )


@transaction.atomic
def contact_consent_inbound(*, contact: Contact, channel: str) -> ContactConsent:
    """The contact wrote to us on `channel` (WhatsApp, SMS, email): their consent is recorded as
    granted, source "inbound", unless a consent is recorded already (a withdrawal stands until
    staff record otherwise). Audited (crm.contact.consent_changed, actor = the contact) when
    recorded."""
    consent, created = ContactConsent.objects.get_or_create(
        contact=contact,
        channel=channel,
        defaults={
            "status": ContactConsent.Status.GRANTED,
            "source": "inbound",
            "recorded_at": timezone.now(),
        },
    )
    if created:
        audit.record(
            actor=contact,
            action="crm.contact.consent_changed",
            target=contact,
            data={
                "channel": channel,
                "changes": audit.changes({}, audit.snapshot(consent, ("status", "source"))),
            },
        )
    return consent


@transaction.atomic
def contact_set_consent(
    *, actor: User, contact: Contact, channel: str, granted: bool, source: str, request=None
) -> ContactConsent:
    """Record consent (or its withdrawal) for one channel, with time and source. Audited."""
    permissions.require_change(actor, contact)
    if channel not in Channel.values:
        raise Invalid(fields={"channel": _("Unknown channel.")})
    consent = ContactConsent.objects.filter(contact=contact, channel=channel).first()
    before = audit.snapshot(consent, ("status", "source")) if consent else {}
    consent = consent or ContactConsent(contact=contact, channel=channel)
    consent.status = ContactConsent.Status.GRANTED if granted else ContactConsent.Status.WITHDRAWN
    consent.source = source.strip()[:200]
    consent.recorded_at = timezone.now()
    consent.save()
    audit.record(
        actor=actor,
        action="crm.contact.consent_changed",
        target=contact,
        data={
            "channel": channel,
            "changes": audit.changes(before, audit.snapshot(consent, ("status", "source"))),
        },
        request=request,
    )
    return consent


# --- deals ------------------------------------------------------------------------------------


def _money(value) -> Decimal:
    """Two decimal places, so 10.5 and 10.50 are the same amount in the audit trail."""
    try:
        return Decimal(value).quantize(Decimal("0.01"))
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise Invalid(fields={"amount": _("Enter a number.")}) from exc


def _require_stage_of(pipeline_id: int, stage: Stage) -> None:
    """A deal's stage is one of its pipeline's."""
    if stage.pipeline_id != pipeline_id:
        raise Invalid(fields={"stage": _("That stage belongs to another pipeline.")})


def _apply_stage(deal: Deal, stage: Stage) -> None:
    deal.stage = stage
    deal.pipeline_id = stage.pipeline_id
    status = stage.status
    if status != deal.status:
        deal.status = status
        deal.closed_at = timezone.now() if status != Deal.Status.OPEN else None


def _deal_contacts(actor, contacts, primary_contact) -> list[Contact]:
    chosen = list(contacts or [])
    if primary_contact is not None and primary_contact not in chosen:
        chosen.insert(0, primary_contact)
    for contact in chosen:
        _require_visible_link(actor, contact, "contacts")
    return chosen


@transaction.atomic
def deal_create(
    *,
    actor: User,
    title: str,
    stage: Stage,
    pipeline: Pipeline | None = None,
    company: Company | None = None,
    contacts: Iterable[Contact] = (),
    primary_contact: Contact | None = None,
    amount: Decimal = Decimal("0"),
    currency: str = "USD",
    expected_close_date: dt.date | None = None,
    owner: User | None = None,
    tags: Iterable[str] = (),
    request=None,
) -> Deal:
    """Open a deal at `stage` of `pipeline` (default: the stage's own; a stage of another
    pipeline is Invalid); the primary contact is always among its contacts. Audited."""
    permissions.require_create(actor, Deal)
    if pipeline is not None:
        _require_stage_of(pipeline.pk, stage)
    _require_visible_link(actor, company, "company")
    chosen = _deal_contacts(actor, contacts, primary_contact)
    deal = Deal(
        title=title.strip(),
        company=company,
        primary_contact=primary_contact or (chosen[0] if chosen else None),
        amount=_money(amount),
        currency=(currency or "USD").upper(),
        expected_close_date=expected_close_date,
        owner=_check_owner(actor, owner),
    )
    _apply_stage(deal, stage)
    _full_clean(deal)
    deal.save()
    deal.contacts.set(chosen)
    deal.tags.set(_tags(tags))
    after = {
        **audit.snapshot(deal, (*DEAL_FIELDS, *STAGE_FIELDS, "owner")),
        "contacts": sorted(c.pk for c in chosen),
        "tags": _tag_names(deal),
    }
    audit.record(
        actor=actor,
        action="crm.deal.created",
        target=deal,
        data={"changes": audit.changes({}, after), "stage_name": stage.name},
        request=request,
    )
    return deal


@transaction.atomic
def deal_update(
    *,
    actor: User,
    deal: Deal,
    stage: Stage | None = None,
    contacts: Iterable[Contact] | None = None,
    owner: User | None = None,
    tags: Iterable[str] | None = None,
    request=None,
    **fields,
) -> Deal:
    """Change a deal; its stage stays within its pipeline (another pipeline's is Invalid, nothing
    written). Field changes, a stage change and an owner change are each their own audit record
    (crm.deal.updated, crm.deal.stage_changed, crm.deal.reassigned)."""
    unknown = set(fields) - set(DEAL_FIELDS)
    if unknown:
        raise TypeError(f"unknown deal fields {sorted(unknown)}")
    if "currency" in fields:
        fields["currency"] = (fields["currency"] or "").upper()
    if "amount" in fields:
        fields["amount"] = _money(fields["amount"])
    if "company" in fields and fields["company"] != deal.company:
        _require_visible_link(actor, fields["company"], "company")
    permissions.require_change(actor, deal)
    if stage is not None:
        _require_stage_of(deal.pipeline_id, stage)
    before_stage = audit.snapshot(deal, STAGE_FIELDS)
    old_stage_name = deal.stage.name
    before_ids = set(deal.contacts.values_list("pk", flat=True))
    chosen = None
    if contacts is not None or "primary_contact" in fields:
        chosen = list(deal.contacts.all()) if contacts is None else list(contacts)
        primary = fields.get("primary_contact", deal.primary_contact)
        if primary is not None and primary.pk not in {c.pk for c in chosen}:
            chosen.insert(0, primary)
        for contact in chosen:
            if contact.pk not in before_ids:
                _require_visible_link(actor, contact, "contacts")
    if stage is not None and stage.pk != deal.stage_id:
        _apply_stage(deal, stage)

    def write_contacts():
        if chosen is not None:
            deal.contacts.set(chosen)

    _update(
        actor=actor,
        obj=deal,
        fields=fields,
        field_names=DEAL_FIELDS,
        owner=owner,
        tags=tags,
        request=request,
        extra_state=lambda: {"contacts": sorted(deal.contacts.values_list("pk", flat=True))},
        extra_write=write_contacts,
    )
    after_stage = audit.snapshot(deal, STAGE_FIELDS)
    if after_stage["stage"] != before_stage["stage"]:
        audit.record(
            actor=actor,
            action="crm.deal.stage_changed",
            target=deal,
            data={
                "changes": audit.changes(before_stage, after_stage),
                "stage_names": {"before": old_stage_name, "after": deal.stage.name},
            },
            request=request,
        )
    return deal


@transaction.atomic
def deal_move(
    *, actor: User, deal: Deal, stage: Stage, lost_reason: str | None = None, request=None
) -> Deal:
    """Move a deal to another stage of its pipeline (the board). Audited as stage_changed."""
    extra = {"lost_reason": lost_reason} if lost_reason is not None else {}
    return deal_update(actor=actor, deal=deal, stage=stage, request=request, **extra)


# --- ownership, sharing, archiving (companies, contacts, deals) --------------------------------


def _share_target(user: User | None, team: Team | None):
    if (user is None) == (team is None):
        raise ValueError("share with exactly one of user or team")
    if user is not None:
        return user, f"user:{user.pk}", str(user)
    if team.group_id is None:
        raise Invalid(fields={"team": _("This team cannot receive shares yet.")})
    if team.archived_at is not None:
        raise Invalid(
            fields={"team": _("%(team)s is archived: it takes no shares.") % {"team": team}}
        )
    return team.group, f"team:{team.pk}", str(team)


@transaction.atomic
def record_share(
    *,
    actor: User,
    record: Model,
    level: Level,
    user: User | None = None,
    team: Team | None = None,
    request=None,
) -> None:
    """Share a record with a user or a team, to view or to change (replacing an earlier share
    with them). Audited as crm.<entity>.shared."""
    permissions.require_share(actor, record)
    if level not in (VIEW, CHANGE):
        raise Invalid(fields={"level": _("Choose view or change.")})
    holder, who, label = _share_target(user, team)
    name = record._meta.model_name
    other = CHANGE if level == VIEW else VIEW
    remove_perm(f"crm.{other}_{name}", holder, record)
    assign_perm(f"crm.{level}_{name}", holder, record)
    audit.record(
        actor=actor,
        action=_action(record, "shared"),
        target=record,
        data={"with": who, "with_label": label, "level": level},
        request=request,
    )


@transaction.atomic
def record_unshare(
    *,
    actor: User,
    record: Model,
    user: User | None = None,
    team: Team | None = None,
    request=None,
) -> None:
    """Take back every share of a record with a user or a team. Audited (crm.<entity>.unshared)."""
    permissions.require_share(actor, record)
    holder, who, label = _share_target(user, team)
    name = record._meta.model_name
    for level in (VIEW, CHANGE):
        remove_perm(f"crm.{level}_{name}", holder, record)
    # Open chat sockets on the record's conversations re-check access and close if it is gone.
    signals.record_access_changed.send(sender=type(record), record=record)
    audit.record(
        actor=actor,
        action=_action(record, "unshared"),
        target=record,
        data={"with": who, "with_label": label},
        request=request,
    )


@transaction.atomic
def record_archive(*, actor: User, record: Model, request=None) -> Model:
    """Hide a record from everyone but Admins and Compliance; nothing is deleted. Audited."""
    permissions.require_archive(actor, record)
    if record.archived_at is not None:
        return record
    record.archived_at = timezone.now()
    record.save(update_fields=["archived_at", "updated_at"])
    signals.record_access_changed.send(sender=type(record), record=record)
    audit.record(
        actor=actor,
        action=_action(record, "archived"),
        target=record,
        data={"changes": {"archived_at": {"before": None, "after": record.archived_at}}},
        request=request,
    )
    return record


@transaction.atomic
def record_restore(*, actor: User, record: Model, request=None) -> Model:
    """Bring an archived record back into everyone's lists (Admin only). Audited."""
    permissions.require_archive(actor, record)
    if record.archived_at is None:
        return record
    archived_at, record.archived_at = record.archived_at, None
    record.save(update_fields=["archived_at", "updated_at"])
    audit.record(
        actor=actor,
        action=_action(record, "restored"),
        target=record,
        data={"changes": {"archived_at": {"before": archived_at, "after": None}}},
        request=request,
    )
    return record


# --- activities -------------------------------------------------------------------------------

ACTIVITY_FIELDS = ("kind", "subject", "body", "due_at", "done")


@transaction.atomic
def activity_create(
    *,
    actor: User,
    kind: str,
    subject: str,
    body: str = "",
    due_at: dt.datetime | None = None,
    deal: Deal | None = None,
    contact: Contact | None = None,
    company: Company | None = None,
    request=None,
) -> Activity:
    """Log a note, call, meeting or task on live records the actor can see, if their role may
    add activities (not Compliance). Audited (crm.activity.created)."""
    targets = [obj for obj in (deal, contact, company) if obj is not None]
    if not targets:
        raise Invalid(_("An activity belongs to a deal, a contact or a company."))
    for obj in targets:
        permissions.require_add_activity(actor, obj)
    activity = Activity(
        kind=kind,
        subject=subject.strip(),
        body=body.strip(),
        due_at=due_at if kind == Activity.Kind.TASK else None,
        deal=deal,
        contact=contact,
        company=company,
        author=actor,
    )
    _full_clean(activity)
    activity.save()
    audit.record(
        actor=actor,
        action="crm.activity.created",
        target=activity,
        data={
            "changes": audit.changes(
                {}, audit.snapshot(activity, (*ACTIVITY_FIELDS, "deal", "contact", "company"))
            )
        },
        request=request,
    )
    return activity


@transaction.atomic
def activity_update(*, actor: User, activity: Activity, request=None, **fields) -> Activity:
    """Edit an activity or tick a task done. Audited (crm.activity.updated)."""
    unknown = set(fields) - set(ACTIVITY_FIELDS)
    if unknown:
        raise TypeError(f"unknown activity fields {sorted(unknown)}")
    permissions.require_view(actor, activity)
    if not permissions.can_change(actor, activity):
        raise Forbidden(_("You may not change this activity."))
    before = audit.snapshot(activity, ACTIVITY_FIELDS)
    for name, value in fields.items():
        setattr(activity, name, value)
    if "done" in fields:
        activity.done_at = timezone.now() if activity.done else None
    _full_clean(activity)
    activity.save()
    changed = audit.changes(before, audit.snapshot(activity, ACTIVITY_FIELDS))
    if changed:
        audit.record(
            actor=actor,
            action="crm.activity.updated",
            target=activity,
            data={"changes": changed},
            request=request,
        )
    return activity


# --- data-subject requests (decided in governance, which authorises the actor) ----------------

ERASED_TEXT = "[erased]"


@transaction.atomic
def contact_anonymise(*, actor: User, contact: Contact, pseudonym: str, reason: str, request=None):
    """Erase a contact's personal fields: the name becomes `pseudonym`, the job title, company,
    tags, email addresses and phone numbers go, and the activities logged on the contact keep
    only their kind and times (subject "[erased]", no details). The caller authorises the actor
    (governance's data-subject request policy: crm's own policy lets nobody do this). Audited
    (crm.contact.anonymised) with the names of what changed and counts, never the old values.
    Returns that summary."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    before = audit.snapshot(contact, ("first_name", "last_name", "title", "company"))
    contact.first_name, contact.last_name = pseudonym[:100], ""
    contact.title, contact.company, contact.is_new = "", None, False
    contact.save(
        update_fields=["first_name", "last_name", "title", "company", "is_new", "updated_at"]
    )
    after = audit.snapshot(contact, ("first_name", "last_name", "title", "company"))
    tags = contact.tags.count()
    contact.tags.clear()
    emails, _kinds = ContactEmail.objects.filter(contact=contact).delete()
    phones, _kinds = ContactPhone.objects.filter(contact=contact).delete()
    activities = (
        Activity.objects.filter(contact=contact)
        .exclude(subject=ERASED_TEXT, body="")
        .update(subject=ERASED_TEXT, body="")
    )
    summary = {
        "fields": sorted(name for name in before if before[name] != after[name]),
        "emails_removed": emails,
        "phones_removed": phones,
        "tags_removed": tags,
        "activities_erased": activities,
    }
    audit.record(
        actor=actor,
        action="crm.contact.anonymised",
        target=contact,
        data={**summary, "reason": reason},
        request=request,
    )
    return summary


@transaction.atomic
def contact_processing_restrict(
    *, actor: User, contact: Contact, restricted: bool, basis: str, request=None
) -> Contact:
    """Restrict (or lift the restriction of) the processing of a contact's data: while it is
    restricted nothing is sent to them (crm.permissions.outreach_refusal; comms refuses sends,
    new conversations and links). The caller authorises the actor (governance). Audited
    (crm.contact.processing_restricted / crm.contact.processing_unrestricted) with the basis,
    when it changes."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.processing_restricted == restricted:
        return contact
    contact.processing_restricted = restricted
    contact.save(update_fields=["processing_restricted", "updated_at"])
    audit.record(
        actor=actor,
        action="crm.contact.processing_restricted"
        if restricted
        else "crm.contact.processing_unrestricted",
        target=contact,
        data={"basis": basis},
        request=request,
    )
    return contact
