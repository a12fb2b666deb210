"""Which conversation kinds the product offers: web chat and internal always; WhatsApp, SMS and
email only while a channel account of that kind is configured and active.

comms does not know where channel accounts live (a higher app does: connectors), so that app
registers a function answering the kinds it can carry, from its AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from comms.models import Conversation

Kind = Conversation.Kind
ALWAYS = (Kind.WEB.value, Kind.INTERNAL.value)

_providers: list[Callable[[], Iterable[str]]] = []


def register_available_kinds(fn: Callable[[], Iterable[str]]) -> None:
    """Register a function returning the channel kinds that can carry messages now."""
    if fn not in _providers:
        _providers.append(fn)


def available_kinds() -> list[str]:
    """Kinds a conversation may be started in, in Conversation.Kind's order."""
    offered = set(ALWAYS)
    for fn in _providers:
        offered.update(str(k) for k in fn())
    return [k for k in Kind.values if k in offered]


def is_available(kind: str) -> bool:
    return kind in available_kinds()


def customer_kind_choices() -> list[tuple[str, str]]:
    """(value, label) of the kinds a customer conversation may be started in."""
    offered = set(available_kinds())
    return [(v, label) for v, label in Kind.choices if v in offered and v != Kind.INTERNAL]
