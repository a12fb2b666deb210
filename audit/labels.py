"""Plain-language names of the ledger's action codes ("comms.message.retracted" -> "Message
retracted"), shown by the audit pages and matched by the action filter's words.

The ledger knows no other app, so each app registers the labels of the actions it records from
its AppConfig.ready() (`register_action_labels({...})`, translatable strings); a code nobody
labelled is shown as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from django.utils.translation import override

_labels: dict[str, object] = {}


def register_action_labels(labels: Mapping[str, object]) -> None:
    """Name action codes (values: gettext_lazy strings). A code named twice differently is an
    error: two apps would be claiming the same action."""
    for code, label in labels.items():
        known = _labels.get(code)
        if known is not None and str(known) != str(label):
            raise ValueError(f"audit action {code!r} is already labelled {str(known)!r}")
        _labels[code] = label


def registered() -> dict[str, object]:
    """Every labelled code and its (lazy) label."""
    return dict(_labels)


def action_label(code: str) -> str:
    """The action's label in the active language, or the code itself when none is registered."""
    label = _labels.get(code)
    return code if label is None else str(label)


def _folded(text: str) -> str:
    """Lower case, without accents, punctuation as spaces: "Inició sesión" -> "inicio sesion"."""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def _stem(word: str) -> str:
    """A word without its plural "s" and its gender vowel, so "retirada" finds "retirado" and
    "baixados" finds "baixado"; short words stay whole."""
    if len(word) > 4 and word.endswith("s"):
        word = word[:-1]
    if len(word) > 4 and word[-1] in "aeo":
        word = word[:-1]
    return word


def codes_matching(text: str) -> list[str]:
    """The labelled codes whose label, in the active language or in English, holds every word of
    `text` ("retracted", "retirado", "inició sesión"; case and accents ignored)."""
    words = [_stem(w) for w in _folded(text).split()]
    if not words:
        return []
    with override("en"):
        english = {code: _folded(label) for code, label in _labels.items()}
    local = {code: _folded(label) for code, label in _labels.items()}
    return sorted(
        code
        for code in _labels
        if all(w in english[code] for w in words) or all(w in local[code] for w in words)
    )
