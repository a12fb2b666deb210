"""The Spanish and Brazilian Portuguese catalogues are complete, keep every placeholder, and reach
the pages (compiled by `make run`/`make test` without GNU gettext)."""

import re
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
