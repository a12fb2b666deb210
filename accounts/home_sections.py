"""The signed-in person's home page: sections the apps above accounts register in their
AppConfig.ready() (unread conversations and those waiting for a reply from comms, activities due
and open deals from crm). accounts knows people, not records: it asks each section for its data
and renders the section's own template, in `order`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Section:
    key: str
    template: str  # rendered with `data` (what build returned) and `user`
    build: Callable[[Any], Any]  # build(user) -> the section's data, through its app's selectors
    order: int


_SECTIONS: dict[str, Section] = {}


def register_section(key: str, *, template: str, build: Callable[[Any], Any], order: int) -> None:
    """Add (or replace, by key) a home section."""
    _SECTIONS[key] = Section(key, template, build, order)


def sections_for(user) -> list[dict]:
    """Each registered section's template and data for `user`, in order."""
    return [
        {"key": s.key, "template": s.template, "data": s.build(user)}
        for s in sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))
    ]
