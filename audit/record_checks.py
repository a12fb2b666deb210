"""Checks of the record itself against the digests its audit events hold.

The ledger proves which digests were recorded; it says nothing about whether the rows they
describe still hold what was recorded (a direct UPDATE of a message body changes no event). The
apps that own such rows register a check here from their AppConfig.ready() (audit knows no other
app); `verify_audit` runs them once the chain itself verified, and names the first difference.

A check is a callable returning an iterable of Mismatch (it may stop after the first) and
setting counts on the Tally it is given ("messages": 1200, ...) for the summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from audit.verification import snapshot


@dataclass(frozen=True)
class Mismatch:
    record: str  # "message 12", "revision 3 of message 12", "file 7 (contract.pdf)"
    detail: str  # what differs, and which event holds the digest

    def __str__(self):
        return f"{self.record}: {self.detail}"


Tally = Counter

_checks: list[Callable[[Tally], Iterable[Mismatch]]] = []


def register(check: Callable[[Tally], Iterable[Mismatch]]) -> None:
    if check not in _checks:
        _checks.append(check)


def run(using: str = "default") -> tuple[Mismatch | None, Tally]:
    """The first mismatch of any registered check (None when all agree), and what was checked.
    On PostgreSQL in one snapshot, so an edit committed while it reads cannot look like damage
    (a body read before the edit, its events after)."""
    tally: Tally = Counter()
    with snapshot(using):
        for check in _checks:
            for mismatch in check(tally):
                return mismatch, tally
    return None, tally
