"""A signed-in person's language: chosen in the footer, saved on the person, followed over the
browser's Accept-Language on every browser they use; blank follows the browser again."""

import pytest
from django.conf import settings

from accounts import services
from audit.models import AuditEvent
from config.errors import Invalid, NotFound

pytestmark = pytest.mark.django_db


def _heading(client, path="/deals/", **headers) -> str:
    html = client.get(path, **headers).content.decode()
    return html.split("<h1>", 1)[1].split("</h1>", 1)[0]


def test_choice_is_saved_and_wins_over_the_browser(client, rep):
    client.force_login(rep)
    response = client.post("/language/", {"language": "es", "next": "/deals/"})
    assert response.status_code == 302 and response.url == "/deals/"
    rep.refresh_from_db()
    assert rep.language == "es"
    event = AuditEvent.objects.get(action="accounts.user.language_changed")
    assert event.data == {"language": {"before": "", "after": "es"}}

    # Another browser (no language cookie) asking for Portuguese still gets Spanish.
    other = client.__class__()
    other.force_login(rep)
    assert _heading(other, HTTP_ACCEPT_LANGUAGE="pt-BR") == "Negocios"
    assert other.get("/deals/", HTTP_ACCEPT_LANGUAGE="pt-BR")["Content-Language"] == "es"


def test_blank_follows_the_browser_again_and_forgets_the_cookie(client, rep):
    rep.language = "es"
    rep.save(update_fields=["language"])
    client.force_login(rep)
    response = client.post("/language/", {"language": "", "next": "/deals/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME]["max-age"] == 0
    rep.refresh_from_db()
    assert rep.language == ""
    assert _heading(client, HTTP_ACCEPT_LANGUAGE="pt-BR") == "Negócios"
    assert _heading(client, HTTP_ACCEPT_LANGUAGE="en") == "Deals"


def test_unknown_language_is_refused_with_a_message(client, rep):
    client.force_login(rep)
    response = client.post("/language/", {"language": "xx"})
    assert response.status_code == 400
    assert "language" in response.content.decode().lower()
    rep.refresh_from_db()
    assert rep.language == ""
    assert not AuditEvent.objects.filter(action="accounts.user.language_changed").exists()


def test_nobody_sets_another_persons_language(rep, other_rep):
    with pytest.raises(NotFound):
        services.user_language_set(actor=other_rep, user=rep, language="es")
    with pytest.raises(Invalid):
        services.user_language_set(actor=rep, user=rep, language="de")
    rep.refresh_from_db()
    assert rep.language == ""


def test_same_choice_twice_records_once(rep):
    services.user_language_set(actor=rep, user=rep, language="pt-br")
    services.user_language_set(actor=rep, user=rep, language="pt-br")
    assert AuditEvent.objects.filter(action="accounts.user.language_changed").count() == 1


def test_footer_saves_on_the_person_when_signed_in_and_uses_the_cookie_when_not(client, rep):
    anonymous = client.get("/login/").content.decode()
    assert 'action="/i18n/setlang/"' in anonymous
    client.force_login(rep)
    page = client.get("/deals/").content.decode()
    assert 'action="/language/"' in page
    # Blank choice offered and selected: the person follows the browser today.
    assert '<option value="" selected>' in page


def test_anonymous_pages_still_follow_the_browser(client):
    assert "Entrar" in client.get("/login/", HTTP_ACCEPT_LANGUAGE="pt-BR").content.decode()
