"""A person's book: everything they hold in the apps above accounts (records, conversations,
grants), reached through parts those apps register in their AppConfig.ready().

accounts knows people, not records: `holdings(user)` asks each part what the person holds (the
admin's user page), and the offboarding service (accounts.offboarding) runs every part over one
`Handover`, in registration order (crm before comms: a conversation follows its deal, contact or
company to whoever took it). A part computes its plan the same way in a dry run and a real one,
so the preview says exactly what execution will do; only the writes depend on `dry_run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Holding:
    """One line of what a person holds: "Deals (open): 12", linking to the list of them."""

    key: str
    label: str
    count: int
    url: str | None = None


@dataclass
class Handover:
    """One offboarding as the parts see it.

    assign(kind, ids, *, company=None, deal=None): the successor ids for records, by the chosen
    mode (a split names successors by company or deal; what the split does not name, and
    round-robin, rotate through `successors`). Parts record what they moved in `moved` (kind ->
    {object id: successor id}) for the parts after them, add their counts to `counts`, their
    audit events (one per record) to `events`, and extra preview facts to `details`.
    """

    actor: Any
    leaver: Any
    mode: str
    successors: list  # active users, in rotation order (one for mode "one")
    split: dict = field(default_factory=dict)  # {"companies": {id: user_id}, "deals": {...}}
    team: Any = None
    # None: the whole book (offboarding). Else one reassignment: {"company": [ids], "contact":
    # [ids], "deal": [ids], "cascade": {"contacts", "deals"}} of records the leaver owns.
    scope: dict | None = None
    queue_owner: Any = None  # mode "queue": who holds the records while conversations wait
    dry_run: bool = True
    request: Any = None
    offboarding_id: int | None = None
    moved: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    _turn: int = 0

    @property
    def to_queue(self) -> bool:
        return self.mode == "queue"

    def _next(self) -> int:
        person = self.successors[self._turn % len(self.successors)]
        self._turn += 1
        return person.pk

    def successor_for(self, kind: str, pk: int, *, company_id=None, deal_id=None) -> int:
        """Who takes one record: a split's choice for it (or its company's), else the rotation."""
        if self.to_queue:
            return self.queue_owner.pk
        deals = self.split.get("deals") or {}
        companies = self.split.get("companies") or {}
        if kind == "deal" and pk in deals:
            return deals[pk]
        if deal_id is not None and deal_id in deals:
            return deals[deal_id]
        if kind == "company" and pk in companies:
            return companies[pk]
        if company_id is not None and company_id in companies:
            return companies[company_id]
        if self.mode in ("one", "by_company", "by_deal") and self.successors:
            return self.successors[0].pk
        return self._next()


class BookPart(Protocol):
    key: str

    def holdings(self, user) -> list[Holding]: ...

    def hand_over(self, handover: Handover) -> None: ...


_PARTS: list[BookPart] = []


def register_book_part(part: BookPart) -> None:
    """Called from an app's ready(); a part registered twice (tests reloading apps) counts once."""
    if all(existing.key != part.key for existing in _PARTS):
        _PARTS.append(part)


def parts() -> list[BookPart]:
    return list(_PARTS)


def holdings(user) -> list[Holding]:
    """What `user` holds, part by part (a constant number of queries per part)."""
    return [holding for part in _PARTS for holding in part.holdings(user)]


def split_options(user, limit: int = 200) -> dict[str, list[tuple[int, str]]]:
    """Records a split may name a successor for: {"companies": [(id, label)], "deals": [...]}
    (at most `limit` of each; larger books are split through the API)."""
    options: dict[str, list] = {}
    for part in _PARTS:
        more = getattr(part, "split_options", None)
        if more is not None:
            options.update(more(user, limit))
    return options
