"""Issue 16: the navigation, the language menu and the page's fixed strings are cached per
process (the "fragments" cache, templates/base.html), keyed on what they depend on, so one
person's page never shows another's links, language or choice."""

import re

import pytest

from accounts import roles
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def nav_links(client) -> set[str]:
    page = client.get("/").content.decode()
    nav = page[page.index('<nav class="nav"') : page.index("</nav>")]
    return set(re.findall(r'href="([^"]+)"', nav))


def language_menu(client) -> tuple[str, str]:
    page = client.get("/").content.decode()
    menu = page[page.index('<select name="language"') : page.index("</select>")]
    chosen = re.search(r'<option value="([^"]*)" selected>', menu)
    label = re.search(r'<label for="language">([^<]+)</label>', page).group(1)
    return (chosen.group(1) if chosen else None), label


def test_each_person_gets_the_links_of_their_own_role(client, rep, admin_user, compliance):
    seen = {}
    for person in (admin_user, rep, compliance, rep, admin_user):
        client.force_login(person)
        seen.setdefault(person.username, []).append(nav_links(client))
    admin, rep_links, officer = seen["admin_user"][0], seen["rep"][0], seen["compliance"][0]
    assert "/audit/" in admin and "/audit/" not in rep_links and "/audit/" in officer
    assert "/people/" in admin and "/people/" not in rep_links
    assert not any(link.startswith("/compliance") for link in rep_links)
    assert any(link.startswith("/compliance") for link in officer)
    # Served again from the cache: the same links as the first time.
    assert seen["rep"][0] == seen["rep"][1] and seen["admin_user"][0] == seen["admin_user"][1]


def test_the_menu_shows_each_persons_language_and_choice(client, rep):
    spanish = make_user(roles.REP, username="hablante", language="es")
    client.force_login(rep)
    assert language_menu(client) == ("", "Language")  # the browser's language, in English
    client.force_login(spanish)
    chosen, label = language_menu(client)
    assert chosen == "es" and label == "Idioma"
    assert "Bandeja de entrada" in client.get("/").content.decode()
    client.force_login(rep)
    assert language_menu(client) == ("", "Language")
    assert ">Inbox <" in client.get("/").content.decode()
    # The same language, chosen rather than the browser's: the menu says so.
    client.force_login(make_user(roles.REP, username="chooser", language="en"))
    assert language_menu(client) == ("en", "Language")
    client.force_login(rep)
    assert language_menu(client) == ("", "Language")


def test_the_chats_strings_follow_the_pages_language():
    from django.utils import translation

    from comms.templatetags.comms_chat import chat_strings

    for language, note in (
        ("en", "Internal note"),
        ("es", "Nota interna"),
        ("en", "Internal note"),
    ):
        with translation.override(language):
            assert chat_strings()["note"] == note, language
