"""The compliance officer's message search: selectors (reads) and the saved-search services.

Messages match by text in their current body or in any earlier version (an edit never hides
what was said), retracted ones included, filtered by participant, contact, company, deal,
conversation, channel and time; newest first (by id: messages are numbered as they are
recorded), 20 a page, the next page after the last id seen (keyset).

On PostgreSQL the text is matched by full-text search: GIN indexes on
to_tsvector('simple', body) of messages and of their revisions (migration 0002_search_export),
every word of the query required (plainto_tsquery). A search ordered by time and limited to 20
can take a bad plan when the word is rare or absent: the planner walks the newest messages
hoping to meet 20 matches soon and reads the whole table (shared/PERFORMANCE.md: 229 ms for a
zero-hit query). So the matches are first counted through the indexes up to a small bound:
below it, the match set is materialised from the indexes and only then ordered (fast whatever
the count); at or above it the word is common, and its newest matches are looked for among the
newest 20,000 message ids first (the GIN bitmap ANDed with the id range), then 200,000, ...
Before any count, one word with no filters that PostgreSQL's statistics list as common (or any
word while there are no statistics) is looked for in a walk of the newest 3,000 messages.
Elsewhere (SQLite) the fallback is `icontains`, every word required in the same version.

Every search run, result viewed and search saved is audited (governance.search.*).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, fields

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import Http404

import audit
from comms.models import Attachment, Message, MessageRevision, Participant
from governance import fts, permissions
from governance.models import SavedSearch

PAGE_SIZE = 20
# Below this many matches (current texts plus earlier versions) the match set is built from the
# full-text indexes; at or above it the newest ids are searched in widening windows (docstring).
COMMON_BOUND = 400
WINDOWS = (20_000, 200_000, 2_000_000)
TS = f"to_tsvector('{fts.CONFIG}'::regconfig, {{}})"
TSQUERY = f"plainto_tsquery('{fts.CONFIG}'::regconfig, %s)"
# A one-word search with no filters first walks this many of the newest messages: a common
# word's newest matches are among them (_walk_sql).
WALK_WINDOW = 3000
# PostgreSQL's own statistics name the common words (the most common elements of the message
# index's expression, refreshed by ANALYZE); kept in the cache this long (_common_words).
STATS_KEY = "governance:search:common-words"
STATS_TTL = 300
# The query's words as the full-text parser reads them, each a LIKE pattern ('%word%').
_LIKE_WORDS = (
    "ARRAY(SELECT '%%' || replace(replace(replace(lexeme, '\\', '\\\\'), '%%', '\\%%'),"  # noqa: S608
    " '_', '\\_') || '%%'"
    f" FROM unnest({TS.format('%s')}))"
)


@dataclass(frozen=True)
class Criteria:
    """What the compliance officer asked for; every field optional. `since`/`until` are dates
    (until inclusive), in UTC."""

    q: str = ""
    participant: int | None = None
    contact: int | None = None
    company: int | None = None
    deal: int | None = None
    conversation: int | None = None
    kind: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    def params(self) -> dict:
        """JSON-ready, only what was set (kept in saved searches, exports, audit events)."""
        out = {}
        for key, value in asdict(self).items():
            if value in (None, ""):
                continue
            out[key] = value.isoformat() if isinstance(value, dt.date) else value
        return out

    @classmethod
    def from_params(cls, params: dict) -> Criteria:
        """The inverse of params() for stored, already validated parameters."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (params or {}).items() if k in known}
        for key in ("since", "until"):
            if isinstance(values.get(key), str):
                values[key] = dt.date.fromisoformat(values[key])
        return cls(**values)

    @property
    def words(self) -> list[str]:
        return self.q.split()

    def has_filters(self) -> bool:
        return any(
            getattr(self, name) not in (None, "")
            for name in ("participant", "contact", "company", "deal", "conversation", "kind")
        ) or bool(self.since or self.until)


@dataclass
class Page:
    messages: list[Message]
    next_before: int | None
    criteria: Criteria
    plan: str = field(default="")  # how the ids were found (tests and the bench read it)


def _start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _filter_sql(criteria: Criteria) -> tuple[list[str], list]:
    """WHERE conditions over comms_message m joined to comms_conversation c."""
    where, args = [], []
    if criteria.kind:
        where.append("c.kind = %s")
        args.append(criteria.kind)
    if criteria.contact:
        where.append("c.contact_id = %s")
        args.append(criteria.contact)
    if criteria.company:
        where.append(
            "(c.company_id = %s OR c.contact_id IN"
            " (SELECT id FROM crm_contact WHERE company_id = %s))"
        )
        args += [criteria.company, criteria.company]
    if criteria.deal:
        where.append("c.deal_id = %s")
        args.append(criteria.deal)
    if criteria.conversation:
        where.append("m.conversation_id = %s")
        args.append(criteria.conversation)
    if criteria.participant:
        where.append(
            "(m.author_user_id = %s OR EXISTS (SELECT 1 FROM comms_participant p"
            " WHERE p.conversation_id = m.conversation_id AND p.user_id = %s))"
        )
        args += [criteria.participant, criteria.participant]
    if criteria.since:
        where.append("m.created_at >= %s")
        args.append(_start(criteria.since))
    if criteria.until:
        where.append("m.created_at < %s")
        args.append(_start(criteria.until + dt.timedelta(days=1)))
    return where, args


def _pg_probe(q: str, bound: int) -> tuple[int, int]:
    """(matches of `q` in current texts plus in earlier versions, each counted up to `bound`,
    through the GIN indexes; the highest message id), in one round trip."""
    sql = (
        f"SELECT (SELECT count(*) FROM (SELECT 1 FROM comms_message"  # noqa: S608
        f" WHERE {TS.format('body')} @@ {TSQUERY} LIMIT %s) a)"
        f" + (SELECT count(*) FROM (SELECT 1 FROM comms_messagerevision"
        f" WHERE {TS.format('body')} @@ {TSQUERY} LIMIT %s) b),"
        f" (SELECT coalesce(max(id), 0) FROM comms_message)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [q, bound, q, bound])
        count, top = cursor.fetchone()
        return count, top


def _matchset_sql(
    where: list[str],
    *,
    low: int | None,
    high: int | None,
    select: str = "m.id",
    hits_only: bool = False,
) -> str:
    """The matches (current text or an earlier version), optionally only among ids in
    (low, high), materialised from the GIN indexes; then their messages by primary key (= ANY
    of the set's array: a merge join would walk the id index down to the oldest match)."""
    window, revision_window = "", ""
    if low is not None:
        window += f" AND id > {int(low)}"
        revision_window += f" AND message_id > {int(low)}"
    if high is not None:
        window += f" AND id < {int(high)}"
        revision_window += f" AND message_id < {int(high)}"
    hits = (
        f"WITH hits AS MATERIALIZED (SELECT id FROM comms_message"  # noqa: S608
        f" WHERE {TS.format('body')} @@ {TSQUERY}{window}"
        f" UNION SELECT message_id FROM comms_messagerevision"
        f" WHERE {TS.format('body')} @@ {TSQUERY}{revision_window})"
    )
    if hits_only:  # no filter to apply: every hit is a message (a revision's too, by its key)
        return f"{hits} SELECT id FROM hits m"  # noqa: S608
    return (
        f"{hits} SELECT {select} FROM comms_message m"  # noqa: S608
        f" JOIN comms_conversation c ON c.id = m.conversation_id"
        f" WHERE {' AND '.join(['m.id = ANY(ARRAY(SELECT id FROM hits))', *where])}"
    )


def _walk_sql() -> str:
    """The newest WALK_WINDOW messages below the page's start, walked down the primary key, each
    kept when its text holds the words (a substring test first: cheaper than parsing the text;
    then the full-text match, exact) or one of its earlier versions matches (those few found
    through their GIN index first). Parameters: q, high (null: the newest), q, q, limit."""
    return (
        f"WITH edited AS MATERIALIZED (SELECT message_id FROM comms_messagerevision"  # noqa: S608
        f" WHERE {TS.format('body')} @@ {TSQUERY})"
        f" SELECT m.id FROM comms_message m"
        f" WHERE m.id > coalesce(%s, (SELECT max(id) + 1 FROM comms_message)) - {WALK_WINDOW}"
        f" AND m.id < coalesce(%s, (SELECT max(id) + 1 FROM comms_message))"
        f" AND ((m.body ILIKE ALL ({_LIKE_WORDS}) AND {TS.format('m.body')} @@ {TSQUERY})"
        f" OR m.id IN (SELECT message_id FROM edited)) ORDER BY m.id DESC LIMIT %s"
    )


def _common_words() -> frozenset[str] | None:
    """The words ANALYZE found common in message texts (None: no statistics yet), cached for
    STATS_TTL seconds. They only choose the order of the plans; every plan finds the same
    messages, so a stale list costs time, never a result."""
    stored = cache.get(STATS_KEY)
    if stored is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT most_common_elems::text::text[] FROM pg_stats"
                " WHERE schemaname = current_schema() AND tablename = %s",
                [fts.INDEXES[0][0]],
            )
            row = cursor.fetchone()
        stored = {"words": None if row is None else list(row[0] or ())}
        cache.set(STATS_KEY, stored, STATS_TTL)
    return None if stored["words"] is None else frozenset(stored["words"])


def _may_be_common(q: str) -> bool:
    """Whether a one-word query is worth the walk of the newest messages: yes unless the
    statistics exist and do not list it (a rare word's walk finds too few and costs ~2 ms)."""
    common = _common_words()
    return common is None or q.lower() in common


def _fetch(sql: str, args: list) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return [row[0] for row in cursor.fetchall()]


def _pg_ids(criteria: Criteria, *, before: int | None, limit: int | None) -> tuple[list[int], str]:
    """Matching message ids, newest first, and the plan used ("filters", "walk", "matchset",
    "window:<size>")."""
    where, args = _filter_sql(criteria)
    if before:
        where.append("m.id < %s")
        args.append(before)
    tail = " ORDER BY m.id DESC" + (" LIMIT %s" if limit else "")
    tail_args = [limit] if limit else []
    q = criteria.q.strip()
    if not q:
        base = (
            "SELECT m.id FROM comms_message m JOIN comms_conversation c ON c.id = m.conversation_id"
        )
        sql = base + (" WHERE " + " AND ".join(where) if where else "") + tail
        return _fetch(sql, args + tail_args), "filters"
    if limit and not criteria.has_filters():
        if len(criteria.words) == 1 and _may_be_common(q):
            # One common word: its newest matches are found by a short walk of the newest
            # messages, before counting its matches would cost more than the walk. A word the
            # statistics do not list as common goes straight to the count.
            found = _fetch(_walk_sql(), [q, before, before, q, q, limit])
            if len(found) >= limit:
                return found, "walk"
        count, top = _pg_probe(q, COMMON_BOUND)
        if count >= COMMON_BOUND:
            # A common word: its newest matches lie among the newest messages. Look in a window
            # of ids below the page's start (the GIN bitmap ANDed with the id range: only the
            # window's matches are read), ten times wider each time it holds too few.
            high = before or top + 1
            for size in WINDOWS:
                low = high - size
                found = _fetch(
                    _matchset_sql([], low=low, high=high, hits_only=True) + tail,
                    [q, q, *tail_args],
                )
                if len(found) >= limit or low <= 0:
                    return found, f"window:{size}"
    # Rare, absent, or narrowed by filters: the whole match set first (MATERIALIZED: never
    # folded back into a walk of the newest messages hoping to meet matches soon).
    sql = _matchset_sql(where, low=None, high=None) + tail
    return _fetch(sql, [q, q, *args, *tail_args]), "matchset"


def conversation_ids(criteria: Criteria) -> list[int]:
    """The conversations holding at least one matching message, in id order (no permission
    check: callers check). One query."""
    if connection.vendor != "postgresql":
        return sorted(
            icontains_queryset(criteria)
            .order_by()
            .values_list("conversation_id", flat=True)
            .distinct()
        )
    where, args = _filter_sql(criteria)
    q = criteria.q.strip()
    if q:
        sql = _matchset_sql(where, low=None, high=None, select="DISTINCT m.conversation_id")
        args = [q, q, *args]
    else:
        sql = (
            "SELECT DISTINCT m.conversation_id FROM comms_message m"  # noqa: S608
            " JOIN comms_conversation c ON c.id = m.conversation_id"
            + (" WHERE " + " AND ".join(where) if where else "")
        )
    return sorted(_fetch(sql, args))


def _text_q(words: list[str], prefix: str = "") -> Q:
    condition = Q()
    for word in words:
        condition &= Q(**{f"{prefix}body__icontains": word})
    return condition


def icontains_queryset(criteria: Criteria, *, before: int | None = None):
    """The search done with icontains (SQLite's fallback; the bench's baseline on PostgreSQL)."""
    messages = Message.objects.all()
    if criteria.words:
        in_revision = MessageRevision.objects.filter(_text_q(criteria.words)).values("message_id")
        messages = messages.filter(_text_q(criteria.words) | Q(id__in=in_revision))
    if criteria.kind:
        messages = messages.filter(conversation__kind=criteria.kind)
    if criteria.contact:
        messages = messages.filter(conversation__contact_id=criteria.contact)
    if criteria.company:
        messages = messages.filter(
            Q(conversation__company_id=criteria.company)
            | Q(conversation__contact__company_id=criteria.company)
        )
    if criteria.deal:
        messages = messages.filter(conversation__deal_id=criteria.deal)
    if criteria.conversation:
        messages = messages.filter(conversation_id=criteria.conversation)
    if criteria.participant:
        takes_part = Participant.objects.filter(
            conversation_id=OuterRef("conversation_id"), user_id=criteria.participant
        )
        messages = messages.filter(Q(author_user_id=criteria.participant) | Exists(takes_part))
    if criteria.since:
        messages = messages.filter(created_at__gte=_start(criteria.since))
    if criteria.until:
        messages = messages.filter(created_at__lt=_start(criteria.until + dt.timedelta(days=1)))
    if before:
        messages = messages.filter(id__lt=before)
    return messages.order_by("-id")


def matching_ids(
    criteria: Criteria, *, before: int | None = None, limit: int | None = None, engine: str = ""
) -> tuple[list[int], str]:
    """Ids of the matching messages, newest first (no permission check: callers check)."""
    engine = engine or ("fts" if connection.vendor == "postgresql" else "icontains")
    if engine == "fts":
        return _pg_ids(criteria, before=before, limit=limit)
    ids = icontains_queryset(criteria, before=before).values_list("id", flat=True)
    return list(ids[:limit] if limit else ids), "icontains"


# What the result list and the API's hits read of a message (a field left out is read row by
# row: the list's query-count test has staff and customer authors).
_LISTED = (
    "conversation__subject",
    "conversation__kind",
    "author_user__username",
    "author_user__first_name",
    "author_user__last_name",
    "author_contact__first_name",
    "author_contact__last_name",
    "direction",
    "body",
    "created_at",
    "edited_at",
    "retracted",
    "retracted_at",
)


def _page_of(ids: list[int]) -> list[Message]:
    """The messages of one result page, in the order of `ids`, as the list shows them: with their
    conversation and author (one query, two flags: `has_files`, and `has_versions`), their earlier
    versions, with editors, as `versions` (a second query, only when some message on the page
    was edited). Django's prefetching of versions and files cost more than finding the ids of a
    common word (bench/search_export.py)."""
    if not ids:
        return []
    messages = (
        Message.objects.filter(id__in=ids)
        .select_related("conversation", "author_user", "author_contact")
        .only(*_LISTED)
        .order_by()
        .annotate(
            has_files=Exists(Attachment.objects.filter(message_id=OuterRef("pk"))),
            has_versions=Exists(MessageRevision.objects.filter(message_id=OuterRef("pk"))),
        )
    )
    by_id = {m.pk: m for m in messages}
    for message in by_id.values():
        message.versions = []
    edited = [pk for pk, m in by_id.items() if m.has_versions]
    if edited:
        versions = (
            MessageRevision.objects.filter(message_id__in=edited)
            .select_related("editor")
            .only("message_id", "body", "edited_at", "editor__username")
        )
        for revision in versions:
            by_id[revision.message_id].versions.append(revision)
    return [by_id[i] for i in ids if i in by_id]


def _in_full(message_id: int) -> Message | None:
    """One message with everything its page shows: conversation, contact, deal, author, who
    retracted it, earlier versions with editors, files."""
    return (
        Message.objects.filter(id=message_id)
        .select_related(
            "conversation",
            "conversation__contact",
            "conversation__deal",
            "author_user",
            "author_contact",
            "retracted_by",
        )
        .prefetch_related(
            Prefetch("revisions", queryset=MessageRevision.objects.select_related("editor")),
            "attachments",
        )
        .first()
    )


def message_search_for(
    user,
    criteria: Criteria,
    *,
    before: int | None = None,
    page_size: int = PAGE_SIZE,
    request=None,
) -> Page:
    """One page of matches for a console user (others: Http404). Audited
    (governance.search.run, with the search and the number of results on the page)."""
    permissions.require_console(user)
    ids, plan = matching_ids(criteria, before=before, limit=page_size + 1)
    next_before = ids[page_size - 1] if len(ids) > page_size else None
    messages = _page_of(ids[:page_size])
    audit.record(
        actor=user,
        action="governance.search.run",
        data={"search": criteria.params(), "before": before, "results": len(messages)},
        request=request,
    )
    return Page(messages=messages, next_before=next_before, criteria=criteria, plan=plan)


def message_result_get_for(user, message_id: int, *, request=None) -> Message:
    """One message with its versions, files and conversation, for a console user (Http404
    otherwise or when there is no such message). Audited (governance.search.result_viewed)."""
    permissions.require_console(user)
    message = _in_full(message_id)
    if message is None:
        raise Http404
    audit.record(
        actor=user, action="governance.search.result_viewed", target=message, request=request
    )
    return message


def saved_search_list_for(user) -> list[SavedSearch]:
    permissions.require_console(user)
    return list(SavedSearch.objects.filter(owner=user))


@transaction.atomic
def saved_search_create(*, owner, name: str, criteria: Criteria, request=None) -> SavedSearch:
    """Save (or replace, by name) a search for its owner. Audited (governance.search.saved)."""
    permissions.require_console(owner)
    name = name.strip()[:100]
    if not name:
        raise ValueError("a saved search needs a name")
    saved, _created = SavedSearch.objects.update_or_create(
        owner=owner, name=name, defaults={"params": criteria.params()}
    )
    audit.record(
        actor=owner,
        action="governance.search.saved",
        target=saved,
        data={"search": saved.params},
        request=request,
    )
    return saved


@transaction.atomic
def saved_search_delete(*, owner, saved_id: int, request=None) -> None:
    """Delete one of the owner's saved searches (another's: Http404). Audited."""
    permissions.require_console(owner)
    saved = SavedSearch.objects.filter(owner=owner, pk=saved_id).first()
    if saved is None:
        raise Http404
    audit.record(
        actor=owner,
        action="governance.search.deleted",
        target=saved,
        data={"search": saved.params},
        request=request,
    )
    saved.delete()
