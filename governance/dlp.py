"""Data-loss prevention detectors: personal and payment numbers in what staff send.

Each detector finds candidates with a pattern and keeps only those whose check digits hold
(python-stdnum), so an order number or a phone number is not taken for a card:

- `card`: payment card numbers, 13-19 digits, spaces or dashes allowed (Luhn);
- `iban`: IBANs, any country, grouped or not (ISO 13616 mod-97 and the country's format);
- `br_cpf` / `br_cnpj`: Brazilian personal and company tax numbers (their two check digits);
- `es_dni` / `es_nie`: Spanish national identity and foreigner numbers (the check letter);
- `us_ssn`: US Social Security numbers written 123-45-6789 (the ranges never issued refused).

Admin-defined patterns (regular expressions) and keyword lists are matched as given, keywords as
whole words, ignoring case. Overlapping findings keep the first detector's, in the order above
after patterns and keywords; `redact` masks what was found for the customer's copy.

Pure functions: the policy (which detector does what on which channel) lives with the models.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from stdnum import iban, luhn
from stdnum.br import cnpj, cpf
from stdnum.es import dni, nie
from stdnum.us import ssn

MASK = "•"


@dataclass(frozen=True)
class Finding:
    detector: str  # "card", "iban", ..., or "pattern:<name>", "keyword:<name>"
    start: int
    end: int


@dataclass(frozen=True)
class Detector:
    name: str
    label: str
    pattern: re.Pattern
    valid: Callable[[str], bool]
    keep_last: int = 0  # characters (digits) left visible when redacted
    # Instead of pattern and valid: the (start, end) spans found (payment cards).
    finder: Callable[[str], Iterable[tuple[int, int]]] | None = None

    def spans(self, text: str) -> Iterable[tuple[int, int]]:
        if self.finder is not None:
            yield from self.finder(text)
            return
        for match in self.pattern.finditer(text):
            if self.valid(match.group()):
                yield match.span()


def _digits(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text)


_DIGITS = re.compile(r"\d+")
_DIGIT_GROUPS = re.compile(r"\d+(?:[ -]\d+)*")


def _cards(text: str) -> Iterable[tuple[int, int]]:
    """Runs of whole digit groups (separated by one space or dash) holding 13-19 digits that
    pass Luhn: "4111 1111 1111 1111" also when more groups stand before or after it ("ref 12
    4111 1111 1111 1111"), never a window cut out of one long unseparated number (a 30-digit
    reference holds some 16 digits passing Luhn by chance). Not after a "+" (an international
    phone number) or a letter (an identifier, such as an IBAN that failed its own check); only
    numbers starting 2-6, as issued cards do (Mastercard 2 and 5, Amex and JCB 3, Visa 4,
    Discover, Maestro and UnionPay 6): one in ten other numbers passes Luhn."""
    for run in _DIGIT_GROUPS.finditer(text):
        if run.start() and (text[run.start() - 1] == "+" or text[run.start() - 1].isalpha()):
            continue  # a phone number, or part of an identifier ("DE89 3704 ...", "CT-1234")
        base = run.start()
        groups = [(base + m.start(), base + m.end()) for m in _DIGITS.finditer(run.group())]
        i = 0
        while i < len(groups):
            found = None
            for j in range(i, len(groups)):
                digits = "".join(text[a:b] for a, b in groups[i : j + 1])
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and digits[0] in "23456" and luhn.is_valid(digits):
                    found = j  # the longest valid from group i
            if found is None:
                i += 1
                continue
            yield groups[i][0], groups[found][1]
            i = found + 1


_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")


def _ibans(text: str) -> Iterable[tuple[int, int]]:
    """IBAN candidates, each cut back to the longest prefix (ending at a letter or digit) whose
    check digits hold: the pattern alone also takes a word written after the number ("DE89 ...
    00 thanks"), and the whole run then fails its check."""
    position = 0
    while True:
        match = _IBAN.search(text, position)
        if match is None:
            return
        start, end = match.span()
        found = None
        for stop in range(end, start + 15, -1):
            if stop < len(text) and text[stop - 1] != " " and text[stop].isalnum():
                continue  # a cut inside a group
            candidate = text[start:stop]
            if not candidate[-1].isalnum():
                continue
            if iban.is_valid(_digits(candidate)):
                found = stop
                break
        if found is not None:
            yield start, found
            position = found
        else:
            position = end


def _not_all_same(text: str) -> bool:
    """111.111.111-11 passes the CPF check digits but is never issued (nor is such a CNPJ)."""
    digits = _digits(text)
    return len(set(digits)) > 1


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "iban",
        _("IBAN"),
        _IBAN,
        lambda t: iban.is_valid(_digits(t)),
        keep_last=4,
        finder=_ibans,
    ),
    Detector(
        "br_cnpj",
        _("Brazilian CNPJ"),
        re.compile(r"(?<![\d/-])(?<!\d\.)\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}(?![\d/-]|\.\d)"),
        lambda t: cnpj.is_valid(_digits(t)) and _not_all_same(t),
    ),
    Detector(
        "br_cpf",
        _("Brazilian CPF"),
        re.compile(r"(?<![\d/-])(?<!\d\.)\d{3}\.?\d{3}\.?\d{3}-?\d{2}(?![\d/-]|\.\d)"),
        lambda t: cpf.is_valid(_digits(t)) and _not_all_same(t),
    ),
    Detector(
        "es_nie",
        _("Spanish NIE"),
        re.compile(r"(?<![A-Za-z0-9])[XYZxyz]-?\d{7}-?[A-Za-z](?![A-Za-z0-9])"),
        lambda t: nie.is_valid(_digits(t).upper()),
    ),
    Detector(
        "es_dni",
        _("Spanish DNI"),
        re.compile(r"(?<![A-Za-z0-9])\d{8}-?[A-Za-z](?![A-Za-z0-9])"),
        lambda t: dni.is_valid(_digits(t).upper()),
    ),
    Detector(
        "us_ssn",
        _("US Social Security number"),
        re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"),
        lambda t: ssn.is_valid(t),
    ),
    Detector(
        "card",
        _("Payment card number"),
        _DIGIT_GROUPS,
        luhn.is_valid,
        keep_last=4,
        finder=_cards,
    ),
)
BY_NAME = {d.name: d for d in DETECTORS}


def keyword_pattern(words: Iterable[str]) -> re.Pattern | None:
    """Whole words or phrases, ignoring case; None for an empty list."""
    words = [w.strip() for w in words if w and w.strip()]
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def scan(
    text: str,
    *,
    detectors: Iterable[str] | None = None,
    patterns: Iterable[tuple[str, re.Pattern]] = (),
    keywords: Iterable[tuple[str, re.Pattern]] = (),
) -> list[Finding]:
    """What `text` holds, in order of position; `detectors` limits the built-in ones (default:
    all). Patterns and keyword lists are (name, compiled pattern)."""
    wanted = set(BY_NAME) if detectors is None else set(detectors)
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    sources: list[tuple[str, Iterable[tuple[int, int]]]] = []
    sources += [(f"pattern:{n}", (m.span() for m in p.finditer(text))) for n, p in patterns]
    sources += [(f"keyword:{n}", (m.span() for m in p.finditer(text))) for n, p in keywords]
    sources += [(d.name, d.spans(text)) for d in DETECTORS if d.name in wanted]
    for name, spans in sources:
        for start, end in spans:
            if start == end or not free(start, end):
                continue
            found.append(Finding(name, start, end))
            taken.append((start, end))
    return sorted(found, key=lambda f: f.start)


def redact(text: str, findings: Iterable[Finding]) -> str:
    """`text` with each finding masked: letters and digits become MASK, separators stay, and a
    card number or IBAN keeps its last four (as on a receipt)."""
    out, last = [], 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < last:
            continue
        out.append(text[last : finding.start])
        span = text[finding.start : finding.end]
        detector = BY_NAME.get(finding.detector)
        keep = detector.keep_last if detector else 0
        alnum = [i for i, c in enumerate(span) if c.isalnum()]
        visible = set(alnum[-keep:]) if keep else set()
        out.append(
            "".join(c if (i in visible or not c.isalnum()) else MASK for i, c in enumerate(span))
        )
        last = finding.end
    out.append(text[last:])
    return "".join(out)
