"""Reads of the compliance console, each checked against governance.permissions (404 for anyone
who may not use the console)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.models import User
from comms.models import Message
from config.errors import Invalid, NotFound
from governance import dlp, dlp_policy, permissions
from governance.models import DlpFlag, DlpPattern, DlpRule, ReviewItem

REVIEW_MESSAGES_MAX = 500


def _clean_int(raw, name: str) -> int | None:
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise Invalid(fields={name: [_("Choose from the list.")]}) from None
    if not 0 < value < 2**63:
        raise Invalid(fields={name: [_("Choose from the list.")]})
    return value


def review_items_for(
    user: User, *, status: str = "", reason: str = "", rep=None
) -> QuerySet[ReviewItem]:
    """The review queue, newest week first, filtered by status ("open", "escalated",
    "reviewed"; empty: all), reason ("sample", "dlp") and rep (a user id)."""
    permissions.require_review(user)
    items = ReviewItem.objects.select_related(
        "conversation", "conversation__contact", "rep", "reviewer", "message"
    )
    if status:
        if status not in ReviewItem.Status.values:
            raise Invalid(fields={"status": [_("Choose from the list.")]})
        items = items.filter(status=status)
    if reason:
        if reason not in ReviewItem.Reason.values:
            raise Invalid(fields={"reason": [_("Choose from the list.")]})
        items = items.filter(reason=reason)
    rep_id = _clean_int(rep, "rep")
    if rep_id is not None:
        items = items.filter(rep_id=rep_id)
    return items.order_by("-week", "-id")


def review_item_get_for(user: User, pk) -> ReviewItem:
    permissions.require_review(user)
    try:
        pk = int(pk)
        return ReviewItem.objects.select_related(
            "conversation", "conversation__contact", "rep", "reviewer", "message", "flag"
        ).get(pk=pk)
    except (ReviewItem.DoesNotExist, TypeError, ValueError, OverflowError):
        raise NotFound() from None


def review_messages(item: ReviewItem) -> list[Message]:
    """The conversation's messages, oldest first (up to REVIEW_MESSAGES_MAX, the newest of them),
    with authors and files: what the reviewer reads, originals included."""
    messages = (
        Message.objects.filter(conversation_id=item.conversation_id)
        .select_related("author_user", "author_contact")
        .prefetch_related("attachments")
        .order_by("-id")[:REVIEW_MESSAGES_MAX]
    )
    return list(reversed(messages))


def review_reps(user: User, target: str = "") -> QuerySet[User]:
    """The people who have items in the queue: whom the queue's rep filter offers (its picker,
    registered with accounts.people_search as "rep"). Http404 for who may not review."""
    permissions.require_review(user)
    ids = ReviewItem.objects.exclude(rep=None).values("rep_id")
    return User.objects.filter(pk__in=ids)


def dlp_flags_for(user: User) -> QuerySet[DlpFlag]:
    permissions.require_console(user)
    return DlpFlag.objects.select_related(
        "conversation", "conversation__contact", "author", "review_item"
    ).order_by("-created_at", "-id")


def dlp_policy_for(user: User) -> dict:
    """The policy as a table: one row per detector (built-in, then admin-defined), one cell per
    channel with its action in force, and the admin-defined patterns."""
    permissions.require_console(user)
    patterns = list(DlpPattern.objects.select_related("created_by"))
    policy = dlp_policy.Policy(
        rules={
            (d, c): a for d, c, a in DlpRule.objects.values_list("detector", "channel", "action")
        }
    )
    detectors = [(d.name, str(d.label)) for d in dlp.DETECTORS]
    detectors += [(p.detector, p.name) for p in patterns]
    return {
        "channels": dlp_policy.CHANNELS,
        "rows": [
            {
                "detector": name,
                "label": label,
                "cells": [
                    {
                        "channel": channel,
                        "action": policy.action(name, channel),
                        "choices": dlp_policy.allowed_actions(channel),
                    }
                    for channel in dlp_policy.CHANNELS
                ],
            }
            for name, label in detectors
        ],
        "patterns": patterns,
    }
