"""Every action the project records has a plain-language label (registered by the app that
records it); the audit pages show it, and the action filter matches its words in the viewer's
language (English, Spanish, Brazilian Portuguese) as well as in English."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.translation import override, trans_real

import audit
from audit import labels

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "audit", "crm", "comms", "connectors", "governance")
CODE = re.compile(rf"^(?:{'|'.join(APPS)})\.[a-z_]+\.[a-z_]+$")
API = "/api/v1/audit/events/"
LIST = "/audit/"

# Action codes built at run time, by the f-string that builds them (as ast.unparse writes it):
# what each can produce. A new f-string in an action's place fails the scan until it is listed.
DYNAMIC = {
    "f'governance.review.{status}'": ["governance.review.reviewed", "governance.review.escalated"],
    "f'accounts.user.{verb}'": ["accounts.user.deactivated", "accounts.user.reactivated"],
    "f'crm.import.{verb}'": ["crm.import.previewed", "crm.import.failed", "crm.import.completed"],
    "f'crm.{kind}.reassigned'": [f"crm.{k}.reassigned" for k in ("company", "contact", "deal")],
    "f\"connectors.channel_account.{('created' if created else 'changed')}\"": [
        "connectors.channel_account.created",
        "connectors.channel_account.changed",
    ],
    "f\"connectors.message_template.{('created' if created else 'changed')}\"": [
        "connectors.message_template.created",
        "connectors.message_template.changed",
    ],
    # crm.services._action(record, verb), for companies, contacts and deals.
    "f'crm.{obj._meta.model_name}.{verb}'": [
        f"crm.{kind}.{verb}"
        for kind in ("company", "contact", "deal")
        for verb in ("updated", "reassigned", "shared", "unshared", "archived", "restored")
    ],
}
# Helpers taking the verb of a DYNAMIC code as their second argument: each verb they are called
# with must be among that f-string's listed codes.
VERB_HELPERS = {"_action": "f'crm.{obj._meta.model_name}.{verb}'"}


def _is_action_place(node: ast.AST, parents: dict) -> bool:
    """An f-string where an action code goes: action=..., {"action": ...}, action = ..., or what
    a function named like *action* returns."""
    parent = parents.get(node)
    if isinstance(parent, ast.keyword):
        return parent.arg == "action"
    if isinstance(parent, ast.Dict):
        index = parent.values.index(node) if node in parent.values else -1
        key = parent.keys[index] if index >= 0 else None
        return isinstance(key, ast.Constant) and key.value == "action"
    if isinstance(parent, ast.Assign):
        return any(isinstance(t, ast.Name) and "action" in t.id for t in parent.targets)
    if isinstance(parent, ast.Return):
        while parent is not None and not isinstance(parent, ast.FunctionDef):
            parent = parents.get(parent)
        return parent is not None and "action" in parent.name
    return False


def recorded_actions() -> tuple[set[str], list[str]]:
    """(every action code the apps' source records, problems found on the way). Literal codes
    anywhere (but Celery task names and dispatch uids), and the expansions of DYNAMIC f-strings."""
    codes: set[str] = set()
    problems: list[str] = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or path.name == "audit_labels.py":
                continue  # the labels name every code: they are not where codes are recorded
            tree = ast.parse(path.read_text(), str(path))
            parents = {
                child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
            }
            where = path.relative_to(ROOT)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    parent = parents.get(node)
                    if not CODE.match(node.value) or ".tasks." in node.value:
                        continue
                    if isinstance(parent, ast.keyword) and parent.arg == "dispatch_uid":
                        continue
                    if isinstance(parent, ast.JoinedStr):
                        continue
                    codes.add(node.value)
                elif isinstance(node, ast.JoinedStr) and _is_action_place(node, parents):
                    text = ast.unparse(node)
                    if text not in DYNAMIC:
                        problems.append(f"{where}:{node.lineno}: list what {text} records")
                    codes.update(DYNAMIC.get(text, []))
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in VERB_HELPERS
                    and len(node.args) == 2
                    and isinstance(node.args[1], ast.Constant)
                ):
                    verb = node.args[1].value
                    listed = DYNAMIC[VERB_HELPERS[node.func.id]]
                    if not any(code.endswith(f".{verb}") for code in listed):
                        problems.append(f"{where}:{node.lineno}: {node.func.id}(..., {verb!r})")
    return codes, problems


def test_the_scan_finds_the_actions_it_must():
    codes, problems = recorded_actions()
    assert problems == [], "dynamic action codes not listed in DYNAMIC:\n" + "\n".join(problems)
    # Literal, tuple-held, dict-held and built codes alike.
    assert {
        "comms.message.retracted",
        "comms.message.sent",  # actor, action = ..., "comms.message.sent"
        "accounts.user.groups_changed",  # a loop's (key, action) tuple
        "accounts.user.offboarded",  # {"action": ...}
        "crm.deal.reassigned",
        "crm.contact.archived",
        "connectors.message_template.changed",
    } <= codes
    assert not any(".tasks." in code or code == "accounts.roles.sync" for code in codes)


def test_every_recorded_action_has_a_label():
    codes, _ = recorded_actions()
    registered = labels.registered()
    missing = sorted(code for code in codes if code not in registered)
    assert missing == [], f"actions recorded with no label (register_action_labels): {missing}"
    with override("en"):
        for code in codes:
            label = labels.action_label(code)
            assert label and label != code and "." not in label, code


def test_an_unlabelled_code_is_shown_as_it_is():
    assert labels.action_label("crm.deal.teleported") == "crm.deal.teleported"
    assert labels.action_label("comms.message.retracted") == "Message retracted"


def test_an_action_cannot_be_labelled_twice_differently():
    labels.register_action_labels({"comms.message.retracted": "Message retracted"})  # same: fine
    with pytest.raises(ValueError, match="already labelled"):
        labels.register_action_labels({"comms.message.retracted": "Message withdrawn"})


@pytest.mark.django_db
def test_list_and_detail_show_the_label_with_the_code_small(client, compliance, rep):
    event = audit.record(actor=rep, action="comms.message.retracted", data={"x": 1})
    audit.record(actor=rep, action="crm.deal.teleported", data={})
    client.force_login(compliance)
    page = client.get(LIST).content.decode()
    assert '<span data-testid="audit-action">Message retracted</span>' in page
    assert '<code class="muted small">comms.message.retracted</code>' in page
    assert '<span data-testid="audit-action">comms.message.retracted</span>' not in page
    assert '<span data-testid="audit-action">crm.deal.teleported</span>' in page  # no label
    detail = client.get(reverse("audit:event-detail", args=[event.seq])).content.decode()
    assert f"Event #{event.seq}: Message retracted" in detail
    assert '<code class="muted small">comms.message.retracted</code>' in detail
    body = client.get(API, {"action": "comms.message.retracted"}).json()
    assert [e["action_label"] for e in body["results"]] == ["Message retracted"]


# What the catalogues say for these labels (locale/, compiled at deployment): installed here so the
# test does not depend on compiled catalogues.
CATALOGUES = {
    "es": {
        "Message retracted": "Mensaje retirado",
        "File downloaded": "Archivo descargado",
        "Signed in": "Inicio de sesión",
        "Deal reassigned": "Negocio reasignado",
    },
    "pt-br": {
        "Message retracted": "Mensagem retirada",
        "File downloaded": "Arquivo baixado",
        "Signed in": "Login",
        "Deal reassigned": "Negócio reatribuído",
    },
}


@pytest.fixture
def translated_labels():
    saved = []
    for language, entries in CATALOGUES.items():
        catalog = trans_real.translation(language)._catalog._catalogs[0]
        for msgid, msgstr in entries.items():
            saved.append((catalog, msgid, catalog.get(msgid)))
            catalog[msgid] = msgstr
    yield
    for catalog, msgid, before in saved:
        if before is None:
            catalog.pop(msgid, None)
        else:
            catalog[msgid] = before


@pytest.fixture
def happenings(db, rep):
    return {
        "retracted": audit.record(actor=rep, action="comms.message.retracted", data={}).seq,
        "downloaded": audit.record(actor=rep, action="comms.attachment.downloaded", data={}).seq,
        "signed_in": audit.record(actor=rep, action="accounts.user.signed_in", data={}).seq,
        "reassigned": audit.record(actor=rep, action="crm.deal.reassigned", data={}).seq,
        "edited": audit.record(actor=rep, action="comms.message.edited", data={}).seq,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language, words, expected",
    [
        ("es", "retirado", "retracted"),
        ("es", "Retirada", "retracted"),
        ("es", "descargado", "downloaded"),
        ("es", "inició sesión", "signed_in"),
        ("es", "INICIO SESION", "signed_in"),
        ("es", "reasignada", "reassigned"),
        ("pt-br", "retirada", "retracted"),
        ("pt-br", "baixado", "downloaded"),
        ("pt-br", "arquivo baixado", "downloaded"),
        ("pt-br", "login", "signed_in"),
        ("pt-br", "reatribuido", "reassigned"),
        # English words keep working whatever the viewer's language.
        ("es", "retracted", "retracted"),
        ("pt-br", "downloaded", "downloaded"),
    ],
)
def test_action_filter_matches_words_in_the_viewers_language(
    client, compliance, translated_labels, happenings, language, words, expected
):
    client.force_login(compliance)
    found = client.get(API, {"action": words, "actor": "rep"}, HTTP_ACCEPT_LANGUAGE=language)
    assert [e["seq"] for e in found.json()["results"]] == [happenings[expected]]
    page = client.get(LIST, {"action": words, "actor": "rep"}, HTTP_ACCEPT_LANGUAGE=language)
    assert page.content.decode().count('data-testid="audit-event-row"') == 1


@pytest.mark.django_db
def test_spanish_words_find_nothing_for_an_english_viewer_and_the_page_is_in_spanish(
    client, compliance, translated_labels, happenings
):
    client.force_login(compliance)
    assert client.get(API, {"action": "retirado", "actor": "rep"}).json()["results"] == []
    page = client.get(LIST, {"actor": "rep"}, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<span data-testid="audit-action">Mensaje retirado</span>' in page
    nothing = client.get(API, {"action": "teletransportado"}, HTTP_ACCEPT_LANGUAGE="es")
    assert nothing.json()["results"] == []
