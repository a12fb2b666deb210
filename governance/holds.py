"""Legal holds: what an active hold covers (selectors) and placing and releasing one (services).

A hold covers, by its scope:
- user: the messages they wrote and every conversation they take part in;
- contact: the conversations with them (as the conversation's contact or a participant) and
  what they wrote;
- company: the conversations of the company and of its contacts;
- deal: the conversations of the deal;
- conversation: that conversation;
- time range: every message sent (file uploaded) within [since, until].

comms.services.purge asks `held_ids` (registered in GovernanceConfig.ready) inside each purge's
own transaction with the rows locked, so nothing a hold covers is purged or erased; placing a
hold takes the purges' lock exclusively (comms.services.purge.hold_lock). Edits never remove
text (a revision keeps it) and a retraction only hides a message, so a hold needs no check there.

Queries are constant: one to load the active holds, one to filter the given ids.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts.models import User
from comms.models import Conversation, Message, Participant
from comms.services.purge import hold_lock
from config.errors import Invalid
from crm.models import Company, Contact, Deal
from governance import permissions
from governance.models import LegalHold

Scope = LegalHold.Scope
MATTER_MAX = 200
REASON_MAX = 2000


def active_holds() -> QuerySet[LegalHold]:
    return LegalHold.objects.filter(released_at__isnull=True)


def _ids(holds: list[LegalHold], scope: str) -> list[int]:
    return [getattr(hold, f"{scope}_id") for hold in holds if hold.scope == scope]


def _conversation_q(holds: list[LegalHold], path: str) -> Q:
    """Conversations the holds cover, as a condition on `<path>` (a conversation relation)."""
    q = Q()
    conversations = _ids(holds, Scope.CONVERSATION)
    contacts = _ids(holds, Scope.CONTACT)
    companies = _ids(holds, Scope.COMPANY)
    deals = _ids(holds, Scope.DEAL)
    users = _ids(holds, Scope.USER)
    if conversations:
        q |= Q(**{f"{path}_id__in": conversations})
    if contacts:
        q |= Q(**{f"{path}__contact_id__in": contacts})
        q |= Q(
            **{
                f"{path}_id__in": Participant.objects.filter(contact_id__in=contacts).values(
                    "conversation_id"
                )
            }
        )
    if companies:
        q |= Q(**{f"{path}__company_id__in": companies})
        q |= Q(**{f"{path}__contact__company_id__in": companies})
    if deals:
        q |= Q(**{f"{path}__deal_id__in": deals})
    if users:
        q |= Q(
            **{
                f"{path}_id__in": Participant.objects.filter(user_id__in=users).values(
                    "conversation_id"
                )
            }
        )
    return q


def held_q(model: type[models.Model], holds: list[LegalHold]) -> Q:
    """The rows of `model` (Message or Attachment) the holds cover; Q(pk__in=[]) for none."""
    q = _conversation_q(holds, "conversation")
    users = _ids(holds, Scope.USER)
    contacts = _ids(holds, Scope.CONTACT)
    if model is Message:
        if users:
            q |= Q(author_user_id__in=users)
        if contacts:
            q |= Q(author_contact_id__in=contacts)
    else:
        if users:
            q |= Q(uploaded_by_id__in=users)
        if contacts:
            q |= Q(message__author_contact_id__in=contacts)
    for hold in holds:
        if hold.scope == Scope.TIME_RANGE:
            q |= Q(created_at__gte=hold.since, created_at__lte=hold.until)
    return q if q else Q(pk__in=[])


def held_ids(model: type[models.Model], ids: list[int]) -> set[int]:
    """Which of these messages or files (by `model`) an active hold covers."""
    if not ids:
        return set()
    holds = list(active_holds())
    if not holds:
        return set()
    return set(
        model.objects.filter(pk__in=ids).filter(held_q(model, holds)).values_list("pk", flat=True)
    )


def held_message_ids(message_ids) -> set[int]:
    """Which of these messages an active hold covers (two queries, one when none is active)."""
    return held_ids(Message, [int(pk) for pk in message_ids])


def exclude_held(queryset: QuerySet, holds: list[LegalHold] | None = None) -> QuerySet:
    """`queryset` (of Message or Attachment) without the rows an active hold covers."""
    holds = list(active_holds()) if holds is None else holds
    if not holds:
        return queryset
    return queryset.exclude(held_q(queryset.model, holds))


def holds_covering_contact(contact: Contact) -> list[LegalHold]:
    """The active holds that cover this contact or any of its conversations and messages: the
    contact itself, its company, a deal it is on or one of its conversations belongs to, one
    of its conversations, a staff member taking part in one, or a time range in which one of
    its messages was sent. One query."""
    conversations = Conversation.objects.filter(
        Q(contact_id=contact.pk)
        | Q(pk__in=Participant.objects.filter(contact_id=contact.pk).values("conversation_id"))
    ).values("pk")
    deals = Deal.objects.filter(
        Q(pk__in=Conversation.objects.filter(pk__in=conversations).values("deal_id"))
        | Q(primary_contact_id=contact.pk)
        | Q(contacts=contact.pk)
    ).values("pk")
    users = Participant.objects.filter(
        conversation_id__in=conversations, user_id__isnull=False
    ).values("user_id")
    messages_in_range = Message.objects.filter(
        conversation_id__in=conversations,
        created_at__gte=OuterRef("since"),
        created_at__lte=OuterRef("until"),
    )
    q = (
        Q(scope=Scope.CONTACT, contact_id=contact.pk)
        | Q(scope=Scope.DEAL, deal_id__in=deals)
        | Q(scope=Scope.CONVERSATION, conversation_id__in=conversations)
        | Q(scope=Scope.USER, user_id__in=users)
        | Q(Exists(messages_in_range), scope=Scope.TIME_RANGE)
    )
    if contact.company_id:
        q |= Q(scope=Scope.COMPANY, company_id=contact.company_id)
    return list(active_holds().filter(q).select_related("created_by").order_by("created_at", "pk"))


def hold_list() -> QuerySet[LegalHold]:
    """Every hold, newest first, with what it names (the console's list: compliance sees all)."""
    return LegalHold.objects.select_related(
        "user", "contact", "company", "deal", "conversation", "created_by", "released_by"
    ).order_by("released_at", "-created_at", "-pk")


def hold_list_for(user) -> QuerySet[LegalHold]:
    permissions.require_console(user)
    return hold_list()


def hold_get_for(user, hold_id) -> LegalHold:
    from django.http import Http404

    permissions.require_console(user)
    try:
        return hold_list().get(pk=int(hold_id))
    except (LegalHold.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


# --- services ------------------------------------------------------------------------------

_TARGETS: dict[str, type[models.Model]] = {
    Scope.USER: User,
    Scope.CONTACT: Contact,
    Scope.COMPANY: Company,
    Scope.DEAL: Deal,
    Scope.CONVERSATION: Conversation,
}


def _text(value, name: str, limit: int) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if not text:
        raise Invalid(fields={name: _("This field is required.")})
    if len(text) > limit:
        raise Invalid(
            fields={name: _("Too long (at most %(limit)d characters).") % {"limit": limit}}
        )
    return text


def _aware(value, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise Invalid(fields={name: _("Enter a date and time.")})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


@transaction.atomic
def legal_hold_place(
    *,
    actor: User,
    scope: str,
    target_id=None,
    since: datetime | None = None,
    until: datetime | None = None,
    matter: str,
    reason: str,
    request=None,
) -> LegalHold:
    """Place a hold (compliance officers and admins; others: Http404). Waits for purges running
    now to commit, so any purge after it sees the hold. Audited (governance.hold.placed). Bad
    input: Invalid naming the field."""
    permissions.require_console(actor)
    if scope not in Scope.values:
        raise Invalid(fields={"scope": _("Choose what the hold covers.")})
    hold = LegalHold(
        scope=scope,
        matter=_text(matter, "matter", MATTER_MAX),
        reason=_text(reason, "reason", REASON_MAX),
        created_by=actor,
    )
    if scope == Scope.TIME_RANGE:
        hold.since, hold.until = _aware(since, "since"), _aware(until, "until")
        if hold.since > hold.until:
            raise Invalid(fields={"until": _("The end comes before the start.")})
    else:
        model = _TARGETS[scope]
        try:
            target = model.objects.get(pk=int(target_id))
        except (model.DoesNotExist, TypeError, ValueError):
            raise Invalid(fields={"target": _("No such record to hold.")}) from None
        setattr(hold, scope, target)
    hold_lock(shared=False)
    hold.save()
    audit.record(
        actor=actor,
        action="governance.hold.placed",
        target=hold,
        data={
            "scope": hold.scope,
            "target": None if scope == Scope.TIME_RANGE else str(hold.target.pk),
            "since": hold.since,
            "until": hold.until,
            "matter": hold.matter,
            "reason": hold.reason,
        },
        request=request,
    )
    return hold


@transaction.atomic
def legal_hold_release(*, actor: User, hold: LegalHold, reason: str, request=None) -> LegalHold:
    """Release a hold: it stays, marked released with who, when and why; nothing is deleted
    (what it kept is purged by the next retention run if past its period). Audited
    (governance.hold.released). Already released: Invalid."""
    permissions.require_console(actor)
    reason = _text(reason, "reason", REASON_MAX)
    locked = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if locked.released_at is not None:
        raise Invalid(fields={"hold": _("This hold was already released.")})
    locked.released_at = timezone.now()
    locked.released_by = actor
    locked.release_reason = reason
    locked.save(update_fields=["released_at", "released_by", "release_reason"])
    audit.record(
        actor=actor,
        action="governance.hold.released",
        target=locked,
        data={"matter": locked.matter, "reason": reason},
        request=request,
    )
    hold.released_at, hold.released_by, hold.release_reason = (
        locked.released_at,
        actor,
        reason,
    )
    return locked
