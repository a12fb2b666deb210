"""Checks run on what staff write before it is stored: a send, a file's name, an edit.

comms does not know what the checks look for (a higher app does: data-loss prevention), so that
app registers them from its AppConfig.ready(). For a batch of outgoing texts a check answers one
Verdict per text (None: nothing to say):

- `refusal`: the send (or edit) is refused with this error, nothing is stored; its `events` are
  still appended to the audit ledger (target: the conversation);
- otherwise the text is stored as written; `customer_body` / `customer_file_name`, when set,
  are what the customer gets instead (web chat page and socket, channel deliveries), while the
  record and the staff keep the original; the `events` are appended with the stored message as
  target, and the check's `stored` function is handed (message, verdict) pairs inside the
  storing transaction to write its own rows.

A check runs in the storing transaction, on the database thread, for a whole batch at once, so
its reads cost the same for one text as for a hundred.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from config.errors import Invalid


@dataclass(frozen=True)
class Outgoing:
    """One text staff are about to store: a message (and its file's name) or an edit."""

    conversation: object  # comms.models.Conversation
    author: object  # the staff user
    body: str
    file_name: str = ""
    note: bool = False
    # The author saw the warning and chose to send anyway (composer "Send anyway", API flag).
    confirmed: bool = False
    edit: bool = False


@dataclass
class Verdict:
    refusal: Exception | None = None
    customer_body: str | None = None
    customer_file_name: str | None = None
    # Audit events without a target: {"actor", "action", "data"}.
    events: list[dict] = field(default_factory=list)
    # The check's own facts, handed back to its `stored` function.
    data: object = None


class OutboundRefused(Invalid):
    """A refusal naming what was found: `detectors` (their labels, for people) and whether
    sending anyway is possible (`confirm`: a warning, not a block)."""

    def __init__(self, detail: str, *, code: str, detectors: list[str], confirm: bool):
        self.detectors = [str(d) for d in detectors]
        self.confirm = confirm
        super().__init__(detail, code=code)

    def as_dict(self) -> dict:
        body = super().as_dict()
        body["detectors"] = self.detectors
        body["confirm"] = self.confirm
        return body


Check = Callable[[list[Outgoing]], list[Verdict | None]]
Stored = Callable[[list[tuple[object, Verdict]]], None]
_checks: list[tuple[Check, Stored | None]] = []


def register_outbound_check(check: Check, *, stored: Stored | None = None) -> None:
    """Register `check` (and the function writing its rows once the messages are stored)."""
    if all(existing is not check for existing, _stored in _checks):
        _checks.append((check, stored))


def verdicts(items: list[Outgoing]) -> list[list[tuple[Stored | None, Verdict]]]:
    """Per item, each registered check's verdict that said something (with its `stored`)."""
    found: list[list[tuple[Stored | None, Verdict]]] = [[] for _ in items]
    if not items:
        return found
    for check, stored in _checks:
        for i, verdict in enumerate(check(items)):
            if verdict is not None:
                found[i].append((stored, verdict))
    return found


@dataclass
class Outcome:
    """What the checks decided for one item, merged: the first refusal, the first customer copy."""

    refusal: Exception | None = None
    customer_body: str | None = None
    customer_file_name: str | None = None
    events: list[dict] = field(default_factory=list)
    verdicts: list[tuple[Stored | None, Verdict]] = field(default_factory=list)


def outcomes(items: list[Outgoing]) -> list[Outcome | None]:
    """Per item: None when no check said anything, else the merged Outcome."""
    merged: list[Outcome | None] = []
    for said in verdicts(items):
        if not said:
            merged.append(None)
            continue
        outcome = Outcome(verdicts=said)
        for _stored, verdict in said:
            outcome.events += verdict.events
            if outcome.refusal is None and verdict.refusal is not None:
                outcome.refusal = verdict.refusal
            if outcome.customer_body is None:
                outcome.customer_body = verdict.customer_body
            if outcome.customer_file_name is None:
                outcome.customer_file_name = verdict.customer_file_name
        merged.append(outcome)
    return merged


def events_for(outcome: Outcome, target, request=None) -> list[dict]:
    """The outcome's audit events aimed at `target` (the stored message, or the conversation of
    a refused send)."""
    return [{**event, "target": target, "request": request} for event in outcome.events]


def after_stored(pairs: list[tuple[object, Outcome]]) -> None:
    """Hand each check's `stored` function the (message, verdict) pairs it gave."""
    by_check: dict = {}
    for message, outcome in pairs:
        for stored, verdict in outcome.verdicts:
            if stored is not None and verdict.refusal is None:
                by_check.setdefault(stored, []).append((message, verdict))
    for stored, given in by_check.items():
        stored(given)
