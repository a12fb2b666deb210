"""Apps depend one way: audit <- accounts <- crm <- comms (docs: CONVENTIONS.md, "Apps").

Every module of the four apps (tests excluded, migrations included) is read as a syntax tree. A
lower app must not name a higher one: no import at any depth (module level or inside a
function), no module path in a string (`importlib.import_module("crm.demo")`,
`import_string(...)`), no model reference (`"crm.Contact"`, `"crm.contact"`,
`apps.get_model("crm", "Contact")`), no migration dependency, no URL name (`"crm:deal-detail"`),
no app label compared or looked up (`"crm"`). A lower app that must tell a higher one something
sends a signal or calls a registry the higher app fills in its AppConfig.ready().
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("audit", "accounts", "crm", "comms", "connectors", "governance")  # lowest first

# (file, why): strings a lower app may hold about a higher one. Only permission codenames
# ("crm.view_deal"), not modules, models or URLs: accounts/roles.py is the one table of what each
# organisational role may do in every app; permissions of an app not installed are skipped.
PERMISSION_TABLES = {"accounts/roles.py"}


@dataclass(frozen=True)
class Reference:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


@dataclass(frozen=True)
class App:
    label: str
    modules: frozenset[str]  # top-level module and package names: "models", "management"
    models: frozenset[str]  # lower-case model names: "contact"


def _app(label: str) -> App:
    folder = ROOT / label
    modules = {p.stem for p in folder.glob("*.py")} | {
        p.name for p in folder.iterdir() if (p / "__init__.py").exists()
    }
    models = {m._meta.model_name for m in apps.get_app_config(label).get_models(True)}
    return App(label, frozenset(modules), frozenset(models))


def _names_app(text: str, app: App) -> str | None:
    """What `text` refers to in `app` (None: nothing): the app itself, a module path, a model
    ("crm.Contact"), a permission codename ("crm.view_deal") or a URL name ("crm:deal-list")."""
    label = app.label
    if text == label:
        return "the app label"
    if text.startswith(f"{label}:"):
        return "a URL name"
    if not text.startswith(f"{label}."):
        return None
    rest = text[len(label) + 1 :]
    first = rest.split(".", 1)[0]
    if first in app.modules or rest == "*":
        return "a module path" if first in app.modules else "every permission"
    if rest.lower() in app.models and "." not in rest:
        return "a model"
    action, _sep, model = rest.partition("_")
    if model in app.models and action.isidentifier() and "." not in rest:
        return "a permission"
    return None


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr) and node.values:
        head = node.values[0]  # f"crm.{name}": the literal start names the app
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            return [head.value.rstrip("._:") if head.value.endswith((".", ":")) else head.value]
    return []


def references(source: str, path: str, higher: list[App]) -> list[Reference]:
    """Every place in `source` naming one of the `higher` apps."""
    tree = ast.parse(source, filename=path)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        imported = _imported(node)
        for name in imported:
            for app in higher:
                if name == app.label or name.startswith(f"{app.label}."):
                    found.append(Reference(path, line, f"imports {name}"))
                    break
        if imported:
            continue
        for text in _strings(node):
            for app in higher:
                kind = _names_app(text, app)
                if kind is None:
                    continue
                if path in PERMISSION_TABLES and kind in ("a permission", "every permission"):
                    continue
                found.append(Reference(path, line, f"names {kind} {text!r}"))
    # ast.walk visits an f-string's parts as Constants too: report each place once.
    return sorted(set(found), key=lambda r: (r.line, r.what))


def _modules(label: str):
    for path in sorted((ROOT / label).rglob("*.py")):
        relative = path.relative_to(ROOT)
        if "tests" in relative.parts or relative.name.startswith("test_"):
            continue
        yield relative.as_posix(), path.read_text(encoding="utf-8")


def layering_violations() -> list[Reference]:
    known = [_app(label) for label in LAYERS]
    found = []
    for index, label in enumerate(LAYERS):
        higher = known[index + 1 :]
        for path, source in _modules(label):
            found.extend(references(source, path, higher))
    return found


def test_no_app_refers_to_a_higher_one():
    found = layering_violations()
    listing = "\n".join(map(str, found))
    assert not found, (
        f"lower apps referring to higher ones (audit <- accounts <- crm <- comms):\n{listing}"
    )


CRM = App("crm", frozenset({"models", "demo", "services"}), frozenset({"contact", "deal"}))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import crm", "imports crm"),
        ("import crm.models as m", "imports crm.models"),
        ("from crm import demo", "imports crm"),
        ("from crm.demo import seed", "imports crm.demo"),
        ("from crm.models import Deal", "imports crm.models"),
        ("def f():\n    from crm.models import Deal\n    return Deal", "imports crm.models"),
        ("import importlib\nimportlib.import_module('crm.demo')", "names a module path"),
        ("x = import_string('crm.services.deal_create')", "names a module path"),
        ("if label == 'crm.contact': pass", "names a model"),
        ("fk = ForeignKey('crm.Contact', on_delete=CASCADE)", "names a model"),
        ("M = apps.get_model('crm', 'Contact')", "names the app label"),
        ("dependencies = [('crm', '0001_initial')]", "names the app label"),
        ("reverse('crm:deal-detail')", "names a URL name"),
        ("user.has_perm('crm.view_deal')", "names a permission"),
        ("name = f'crm.{kind}'", "names the app label"),
    ],
)
def test_the_scanner_sees_each_kind_of_reference(source, expected):
    found = references(source, "accounts/example.py", [CRM])
    assert found, f"missed: {source!r}"
    assert expected in found[0].what
    assert found[0].line == source.count("\n", 0, source.index("crm")) + 1


@pytest.mark.parametrize(
    "source",
    [
        "from accounts import roles",  # a lower app
        "import crmish",  # only a name's prefix
        "from . import crm",  # relative: inside the same app
        "action = 'crm.deal.reassigned'",  # an audit action name, not a model or module
        "text = 'see the crm'",
    ],
)
def test_the_scanner_ignores_what_is_not_a_reference(source):
    assert references(source, "accounts/example.py", [CRM]) == []
