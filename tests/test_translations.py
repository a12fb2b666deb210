"""The Spanish and Brazilian Portuguese catalogues are complete, keep every placeholder, and reach
the pages (compiled by `make run`/`make test` without GNU gettext)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

LANGUAGES = ("es", "pt_BR")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def _catalogue(language: str) -> polib.POFile:
    path = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po"
    return polib.pofile(str(path))


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_catalogue_entry_is_empty_or_fuzzy(language):
    catalogue = _catalogue(language)
    missing = [e.msgid for e in catalogue if not e.obsolete and (not e.translated() or e.fuzzy)]
    assert not missing, f"{len(missing)} untranslated in {language}, first: {missing[:5]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language):
    wrong = []
    for entry in _catalogue(language):
        if entry.obsolete or not entry.translated():
            continue
        if entry.msgid_plural:
            wanted = set(PLACEHOLDER.findall(entry.msgid_plural)) | set(
                PLACEHOLDER.findall(entry.msgid)
            )
            # A singular form may say "one" instead of %(count)d; no form may invent a placeholder.
            forms = entry.msgstr_plural.values()
            if any(not set(PLACEHOLDER.findall(form)) <= wanted for form in forms):
                wrong.append(entry.msgid)
        elif set(PLACEHOLDER.findall(entry.msgid)) != set(PLACEHOLDER.findall(entry.msgstr)):
            wrong.append(entry.msgid)
    assert not wrong, f"placeholders differ in {language}: {wrong[:5]}"


@pytest.mark.parametrize(
    "accept, expected", [("es", "Iniciar sesión"), ("pt-BR", "Entrar"), ("en", "Sign in")]
)
def test_sign_in_page_follows_the_browser_language(client, db, accept, expected):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE=accept)
    assert f"<h1>{expected}</h1>" in response.content.decode()


def _gettext_tools():
    missing = [tool for tool in ("xgettext", "msgmerge", "msgfmt") if not shutil.which(tool)]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"GNU gettext is needed in CI: {', '.join(missing)} not on PATH")
        pytest.skip("GNU gettext is not installed")


@pytest.mark.parametrize("language", LANGUAGES)
def test_gnu_gettext_reads_the_catalogue(language):
    """makemessages and msgfmt parse what polib tolerates: a stray "#| msgid_plural" once stopped
    makemessages for everyone while the pages still worked."""
    _gettext_tools()
    path = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "-o", os.devnull, str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_string_in_the_source_is_in_the_catalogues(tmp_path):
    """makemessages over a copy of the source and its catalogues: no msgid it finds is missing
    from the committed ones (a string marked for translation and never translated)."""
    _gettext_tools()
    root = Path(settings.BASE_DIR)
    copy = tmp_path / "src"
    skip = (".venv", ".git", "var", "tests", "bench", "node_modules", "__pycache__", "*.mo")
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(*skip))
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--no-obsolete", "--verbosity=0"]
        + [f"--locale={language}" for language in LANGUAGES],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for language in LANGUAGES:
        found = polib.pofile(str(copy / "locale" / language / "LC_MESSAGES" / "django.po"))
        missing = [e.msgid for e in found if not e.obsolete and (not e.translated() or e.fuzzy)]
        assert not missing, f"{len(missing)} not in {language}'s catalogue, first: {missing[:5]}"
