"""Which conversation kinds the product offers: web chat and internal always; WhatsApp, SMS and
email only while a channel account of that kind is configured and active.

comms does not know where channel accounts live (a higher app does: connectors), so that app
registers a function answering the kinds it can carry, from its AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from comms.models import Conversation, Message

Kind = Conversation.Kind
ALWAYS = (Kind.WEB.value, Kind.INTERNAL.value)

_providers: list[Callable[..., Iterable[str]]] = []


def register_available_kinds(fn: Callable[..., Iterable[str]]) -> None:
    """Register a function returning the channel kinds that can carry messages now. It takes
    `fresh`: True when a service decides by it (read the record), False for a page's offer (it
    may answer from a cache it keeps current)."""
    if fn not in _providers:
        _providers.append(fn)


def available_kinds(*, fresh: bool = False) -> list[str]:
    """Kinds a conversation may be started in, in Conversation.Kind's order."""
    offered = set(ALWAYS)
    for fn in _providers:
        offered.update(str(k) for k in fn(fresh=fresh))
    return [k for k in Kind.values if k in offered]


def is_available(kind: str) -> bool:
    """What conversation_start decides by: read from the database, never from a cache."""
    return kind in available_kinds(fresh=True)


def customer_kind_choices() -> list[tuple[str, str]]:
    """(value, label) of the kinds a customer conversation may be started in."""
    offered = set(available_kinds())
    return [(v, label) for v, label in Kind.choices if v in offered and v != Kind.INTERNAL]


# --- outbound: a higher app (connectors) sends what staff write in channel conversations ---------

# (conversation, channel options of the draft) -> the words refusing the send, or None.
_send_checks: list[Callable[[Conversation, dict], str | None]] = []
# [(stored queued message, its conversation, channel options)] -> None; runs inside the storing
# transaction.
_outbound: list[Callable[[list[tuple[Message, Conversation, dict]]], None]] = []


def register_send_check(fn: Callable[[Conversation, dict], str | None]) -> None:
    """Register a check run before a staff message is stored in a WhatsApp, SMS or email
    conversation (consent, an active account, WhatsApp's 24-hour window): it answers the
    words refusing the send, or None. `options` are the draft's channel options (a template)
    and "file": whether the message carries a file."""
    if fn not in _send_checks:
        _send_checks.append(fn)


def send_refusal(conversation: Conversation, options: dict | None = None) -> str | None:
    """The first registered check's refusal of a staff send here, or None."""
    for fn in _send_checks:
        refusal = fn(conversation, options or {})
        if refusal:
            return refusal
    return None


def register_outbound(fn: Callable[[list[tuple[Message, Conversation, dict]]], None]) -> None:
    """Register the function handed the staff messages just stored as queued in channel
    conversations, inside the storing transaction (it records their delivery and queues the
    send after commit)."""
    if fn not in _outbound:
        _outbound.append(fn)


def outbound_stored(messages: list[tuple[Message, Conversation, dict]]) -> None:
    for fn in _outbound:
        fn(messages)


# conversation -> what the chat composer must show about the channel (WhatsApp's closed window:
# {"notice": str, "templates": [{"id", "name", "language", "body", "variables"}]}), or None.
_composer: list[Callable[[Conversation], dict | None]] = []


def register_composer(fn: Callable[[Conversation], dict | None]) -> None:
    if fn not in _composer:
        _composer.append(fn)


def composer_notice(conversation: Conversation) -> dict | None:
    """The first registered function's notice for this conversation's composer, or None."""
    for fn in _composer:
        notice = fn(conversation)
        if notice:
            return notice
    return None


# --- sending a customer's web-chat link by email or SMS (connectors' accounts) -------------------

# conversation -> [{"channel", "label", "to", "refusal"}]; (conversation, channel, url, sender) ->
# None, raising a ServiceError when nothing was sent.
_link_options: list[Callable[[Conversation], list[dict]]] = []
_link_deliver: list[Callable] = []


def register_link_sender(options: Callable[[Conversation], list[dict]], deliver: Callable) -> None:
    """Register how customer links go out by email or SMS: `options(conversation)` lists each
    channel with where it would go or why it cannot; `deliver(conversation, channel, url,
    sender)` sends one now."""
    if options not in _link_options:
        _link_options.append(options)
        _link_deliver.append(deliver)


def link_send_options(conversation: Conversation) -> list[dict]:
    """Each channel a customer link may be sent by, with its refusal ("" : it can go)."""
    return [option for fn in _link_options for option in fn(conversation)]


def link_deliver(conversation: Conversation, channel: str, url: str, sender) -> None:
    for options, deliver in zip(_link_options, _link_deliver, strict=True):
        if any(o["channel"] == channel for o in options(conversation)):
            deliver(conversation, channel, url, sender)
            return
    raise LookupError(channel)
