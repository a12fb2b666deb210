"""The supervision review queue: items from DLP flags and the weekly sample, and decisions."""

from __future__ import annotations

import datetime as dt
import math
import random

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts.models import User
from comms.models import Conversation, Message
from config.errors import Conflict, Invalid, NotFound
from governance import permissions
from governance.models import DlpFlag, ReviewItem

Status = ReviewItem.Status


def week_of(moment) -> dt.date:
    """The Monday (in the project's time zone) of the week `moment` (a datetime or date) is in."""
    day = timezone.localdate(moment) if isinstance(moment, dt.datetime) else moment
    return day - dt.timedelta(days=day.weekday())


def review_items_for_flags(flags: list[DlpFlag]) -> list[ReviewItem]:
    """One open review item per DLP flag (inside the flagging transaction, one statement)."""
    return ReviewItem.objects.bulk_create(
        [
            ReviewItem(
                conversation_id=flag.conversation_id,
                message_id=flag.message_id,
                flag=flag,
                reason=ReviewItem.Reason.DLP,
                detectors=flag.detectors,
                rep_id=flag.author_id,
                week=week_of(flag.created_at),
            )
            for flag in flags
        ]
    )


@transaction.atomic
def review_sample_week(*, week: dt.date | None = None, percent: float | None = None) -> int:
    """Sample REVIEW_SAMPLE_PERCENT of each rep's conversations active in `week` (a Monday;
    default: the week before this one) into the review queue: conversations with a customer
    (not internal) in which the person wrote to the customer that week, at least one per person
    who wrote any. Idempotent per week: a person sampled for that week is not sampled again, a
    conversation never twice. Audited (governance.review.sampled, with the counts). Returns how
    many items were added."""
    if week is None:
        week = week_of(timezone.localdate()) - dt.timedelta(days=7)
    week = week_of(week)
    if percent is None:
        percent = settings.REVIEW_SAMPLE_PERCENT
    if not 0 <= percent <= 100:
        raise Invalid(_("The sample is a percentage between 0 and 100."))
    start = timezone.make_aware(dt.datetime.combine(week, dt.time()))
    end = start + dt.timedelta(days=7)
    active = (
        Message.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            direction=Message.Direction.OUTBOUND,
            author_user__isnull=False,
        )
        .exclude(conversation__kind=Conversation.Kind.INTERNAL)
        .values_list("author_user_id", "conversation_id")
        .distinct()
    )
    by_rep: dict[int, set[int]] = {}
    for rep_id, conversation_id in active:
        by_rep.setdefault(rep_id, set()).add(conversation_id)
    taken = ReviewItem.objects.filter(week=week, reason=ReviewItem.Reason.SAMPLE)
    done_reps = set(taken.values_list("rep_id", flat=True))
    done_conversations = set(taken.values_list("conversation_id", flat=True))
    chooser = random.SystemRandom()
    items = []
    for rep_id in sorted(by_rep):
        if rep_id in done_reps:
            continue
        conversations = sorted(by_rep[rep_id])
        count = math.ceil(len(conversations) * percent / 100)
        candidates = [c for c in conversations if c not in done_conversations]
        for conversation_id in chooser.sample(candidates, min(count, len(candidates))):
            done_conversations.add(conversation_id)
            items.append(
                ReviewItem(
                    conversation_id=conversation_id,
                    reason=ReviewItem.Reason.SAMPLE,
                    rep_id=rep_id,
                    week=week,
                )
            )
    ReviewItem.objects.bulk_create(items, ignore_conflicts=True)
    audit.record(
        actor=None,
        action="governance.review.sampled",
        data={
            "week": week.isoformat(),
            "percent": percent,
            "reps": len([r for r in by_rep if r not in done_reps]),
            "items": len(items),
        },
    )
    return len(items)


DECISIONS = (Status.REVIEWED, Status.ESCALATED)


@transaction.atomic
def review_decide(
    *, reviewer: User, item_id, status: str, comment: str = "", request=None
) -> ReviewItem:
    """Mark a review item reviewed or escalated, with the reviewer's comment (required to
    escalate). An escalated item may later be marked reviewed; a reviewed one is closed.
    Audited (governance.review.reviewed / governance.review.escalated)."""
    if not permissions.can_review(reviewer):
        raise NotFound()
    try:
        item = ReviewItem.objects.select_for_update().get(pk=int(item_id))
    except (ReviewItem.DoesNotExist, TypeError, ValueError, OverflowError):
        raise NotFound() from None
    if status not in DECISIONS:
        raise Invalid(fields={"status": [_("Choose reviewed or escalated.")]})
    if item.status == Status.REVIEWED:
        raise Conflict(_("This item was already reviewed."))
    comment = (comment or "").strip()
    if len(comment) > 5000:
        raise Invalid(fields={"comment": [_("A comment may have at most 5,000 characters.")]})
    if status == Status.ESCALATED and not comment:
        raise Invalid(fields={"comment": [_("Say why it is escalated.")]})
    previous = item.status
    item.status = status
    item.reviewer = reviewer
    item.comment = comment
    item.decided_at = timezone.now()
    item.save(update_fields=["status", "reviewer", "comment", "decided_at"])
    audit.record(
        actor=reviewer,
        action=f"governance.review.{status}",
        target=item,
        data={
            "conversation": item.conversation_id,
            "message": item.message_id,
            "reason": item.reason,
            "from": previous,
            "comment": comment,
        },
        request=request,
    )
    return item
