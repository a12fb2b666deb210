"""The DLP policy and its check on what staff write (registered with comms.outbound_checks).

Per detector and channel an action, strongest first:

- block: the send (or edit) is refused, naming what was found; nothing is stored;
- warn: refused unless the author confirms ("Send anyway" in the composer, `confirm_dlp` in the
  API and on the socket); a confirmed send is stored, flagged for review and audited;
- redact: stored as written (the record keeps it for compliance); the customer gets the text
  with what was found masked (a card or IBAN keeps its last four), staff see the original marked
  "redacted for the customer";
- flag: stored and sent as written, flagged for the review queue;
- allow: nothing.

Internal notes and internal conversations follow the "internal" channel's actions; redact is not
offered there (there is no customer). A message's file name is checked with its text.

Defaults (DEFAULTS), overlaid by the rules an admin saved:

- payment cards: block on customer channels (PCI DSS: card numbers never go over messaging),
  warn in internal conversations and notes;
- IBAN: warn on customer channels (reps do send the company's own IBAN to be paid), flag inside;
- CPF, DNI, NIE, SSN (personal identity numbers): warn on customer channels, flag inside;
- CNPJ (a company's public tax number, printed on every invoice): allow;
- admin-defined patterns and keyword lists: flag everywhere until an admin chooses otherwise.

Every decision is audited (governance.dlp.blocked / .warned / .flagged / .redacted) with the
detectors and the redacted form of each finding, never the matched text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from comms.models import Conversation
from comms.outbound_checks import OutboundRefused, Outgoing, Verdict
from governance import dlp
from governance.models import DlpAction, DlpFlag, DlpPattern, DlpRule

Kind = Conversation.Kind
CHANNELS = tuple(Kind.values)
CUSTOMER_CHANNELS = tuple(k for k in CHANNELS if k != Kind.INTERNAL)
SEVERITY = {
    DlpAction.ALLOW: 0,
    DlpAction.FLAG: 1,
    DlpAction.REDACT: 2,
    DlpAction.WARN: 3,
    DlpAction.BLOCK: 4,
}


def _everywhere(customer: str, internal: str) -> dict[str, str]:
    return {k: (internal if k == Kind.INTERNAL else customer) for k in CHANNELS}


DEFAULTS: dict[str, dict[str, str]] = {
    "card": _everywhere(DlpAction.BLOCK, DlpAction.WARN),
    "iban": _everywhere(DlpAction.WARN, DlpAction.FLAG),
    "br_cpf": _everywhere(DlpAction.WARN, DlpAction.FLAG),
    "br_cnpj": _everywhere(DlpAction.ALLOW, DlpAction.ALLOW),
    "es_dni": _everywhere(DlpAction.WARN, DlpAction.FLAG),
    "es_nie": _everywhere(DlpAction.WARN, DlpAction.FLAG),
    "us_ssn": _everywhere(DlpAction.WARN, DlpAction.FLAG),
}
CUSTOM_DEFAULT = DlpAction.FLAG
CACHE_KEY = "governance.dlp.policy.v1"
CACHE_SECONDS = 300


def allowed_actions(channel: str) -> list[str]:
    """Redact needs a customer to redact for."""
    if channel == Kind.INTERNAL:
        return [a for a in DlpAction.values if a != DlpAction.REDACT]
    return list(DlpAction.values)


@dataclass
class Policy:
    rules: dict[tuple[str, str], str] = field(default_factory=dict)
    patterns: list[tuple[str, re.Pattern]] = field(default_factory=list)
    keywords: list[tuple[str, re.Pattern]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    def action(self, detector: str, channel: str) -> str:
        found = self.rules.get((detector, channel))
        if found is not None:
            return found
        return DEFAULTS.get(detector, {}).get(channel, CUSTOM_DEFAULT)

    def label(self, detector: str) -> str:
        builtin = dlp.BY_NAME.get(detector)
        return str(builtin.label) if builtin else self.labels.get(detector, detector)


def _raw_policy() -> dict:
    """The policy's rows as plain data (what the cache holds): two queries when not cached."""
    raw = cache.get(CACHE_KEY)
    if raw is None:
        raw = {
            "rules": list(DlpRule.objects.values_list("detector", "channel", "action")),
            "patterns": list(
                DlpPattern.objects.filter(active=True).values_list("kind", "name", "text")
            ),
        }
        cache.set(CACHE_KEY, raw, CACHE_SECONDS)
    return raw


_compiled: dict = {}


def current_policy() -> Policy:
    raw = _raw_policy()
    key = repr(raw)
    policy = _compiled.get(key)
    if policy is not None:
        return policy
    policy = Policy(rules={(d, c): a for d, c, a in raw["rules"]})
    for kind, name, text in raw["patterns"]:
        detector = f"{kind}:{name}"
        policy.labels[detector] = name
        if kind == DlpPattern.Kind.PATTERN:
            try:
                policy.patterns.append((name, re.compile(text)))
            except re.error:
                continue  # refused when saved; an older row is skipped rather than fail sends
        else:
            compiled = dlp.keyword_pattern(text.splitlines())
            if compiled is not None:
                policy.keywords.append((name, compiled))
    _compiled.clear()  # one policy at a time
    _compiled[key] = policy
    return policy


def forget_policy() -> None:
    """After a policy change: now (this process) and at commit (everyone's next check)."""
    cache.delete(CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CACHE_KEY))


# --- the check ---------------------------------------------------------------------------------


@dataclass
class Found:
    detector: str
    where: str  # "body" or "file_name"
    redacted: str  # the finding masked, the only form kept


@dataclass
class Decision:
    channel: str
    action: str  # the strongest action among the findings
    found: list[Found]
    edit: bool

    @property
    def detectors(self) -> list[str]:
        return list(dict.fromkeys(f.detector for f in self.found))

    def findings(self) -> list[dict]:
        return [
            {"detector": f.detector, "where": f.where, "redacted": f.redacted} for f in self.found
        ]


def _channel(item: Outgoing) -> str:
    if item.note or item.conversation.kind == Kind.INTERNAL:
        return Kind.INTERNAL
    return item.conversation.kind


def _scan(policy: Policy, text: str):
    return dlp.scan(text, patterns=policy.patterns, keywords=policy.keywords)


def _labels(policy: Policy, detectors) -> str:
    return ", ".join(dict.fromkeys(policy.label(d) for d in detectors))


def check(items: list[Outgoing]) -> list[Verdict | None]:
    policy = current_policy()
    return [_check_one(policy, item) for item in items]


def _check_one(policy: Policy, item: Outgoing) -> Verdict | None:
    channel = _channel(item)
    parts = {"body": item.body or "", "file_name": item.file_name or ""}
    scanned = {where: _scan(policy, text) for where, text in parts.items() if text}
    acted: dict[str, list] = {}  # where -> [(finding, action)]
    for where, findings in scanned.items():
        for finding in findings:
            action = policy.action(finding.detector, channel)
            if action == DlpAction.REDACT and channel == Kind.INTERNAL:
                action = DlpAction.FLAG
            if action != DlpAction.ALLOW:
                acted.setdefault(where, []).append((finding, action))
    if not acted:
        return None
    found = [
        Found(f.detector, where, dlp.redact(parts[where][f.start : f.end], [_at_zero(f)]))
        for where, pairs in acted.items()
        for f, _a in pairs
    ]
    strongest = max((a for pairs in acted.values() for _f, a in pairs), key=SEVERITY.get)
    decision = Decision(channel, strongest, found, item.edit)
    base = {
        "channel": channel,
        "conversation": item.conversation.pk,
        "detectors": decision.detectors,
        "findings": decision.findings(),
        "edit": item.edit,
    }
    if strongest == DlpAction.BLOCK:
        blocked = [f.detector for pairs in acted.values() for f, a in pairs if a == "block"]
        return Verdict(
            refusal=OutboundRefused(
                _("Not sent: it contains %(what)s, which may not be sent here.")
                % {"what": _labels(policy, blocked)},
                code="dlp_blocked",
                detectors=[policy.label(d) for d in dict.fromkeys(blocked)],
                confirm=False,
            ),
            events=[{"actor": item.author, "action": "governance.dlp.blocked", "data": base}],
        )
    warned = [f.detector for pairs in acted.values() for f, a in pairs if a == DlpAction.WARN]
    if warned and not item.confirmed:
        return Verdict(
            refusal=OutboundRefused(
                _("This contains %(what)s. Check it should go, then send anyway.")
                % {"what": _labels(policy, warned)},
                code="dlp_warning",
                detectors=[policy.label(d) for d in dict.fromkeys(warned)],
                confirm=True,
            )
        )
    verdict = Verdict(data=decision)
    if warned:
        verdict.events.append(
            {"actor": item.author, "action": "governance.dlp.warned", "data": base}
        )
    redacting = {
        where: [f for f, a in pairs if a == DlpAction.REDACT] for where, pairs in acted.items()
    }
    if redacting.get("body"):
        verdict.customer_body = dlp.redact(parts["body"], redacting["body"])
    if redacting.get("file_name"):
        verdict.customer_file_name = dlp.redact(parts["file_name"], redacting["file_name"])
    if verdict.customer_body is not None or verdict.customer_file_name is not None:
        verdict.events.append(
            {
                "actor": item.author,
                "action": "governance.dlp.redacted",
                "data": {
                    **base,
                    "redacted_detectors": list(
                        dict.fromkeys(f.detector for fs in redacting.values() for f in fs)
                    ),
                },
            }
        )
    if any(a == DlpAction.FLAG for pairs in acted.values() for _f, a in pairs) and not warned:
        verdict.events.append(
            {"actor": item.author, "action": "governance.dlp.flagged", "data": base}
        )
    if not verdict.events:
        return None
    return verdict


def _at_zero(finding: dlp.Finding) -> dlp.Finding:
    return dlp.Finding(finding.detector, 0, finding.end - finding.start)


def stored(pairs) -> None:
    """Inside the storing transaction: a DlpFlag and its review item for each message that was
    flagged (or sent past a warning), in two statements for the batch."""
    from governance.services import review as review_services

    flags = []
    for message, verdict in pairs:
        decision: Decision = verdict.data
        if decision is None:
            continue
        actions = {e["action"] for e in verdict.events}
        if not actions & {"governance.dlp.flagged", "governance.dlp.warned"}:
            continue
        flags.append(
            DlpFlag(
                conversation_id=message.conversation_id,
                message=message,
                author=verdict.events[0]["actor"],
                action=DlpAction.WARN if "governance.dlp.warned" in actions else DlpAction.FLAG,
                channel=decision.channel,
                detectors=decision.detectors,
                findings=decision.findings(),
                edit=decision.edit,
            )
        )
    if flags:
        review_services.review_items_for_flags(DlpFlag.objects.bulk_create(flags))
