"""A rep's main pages in Spanish and in Brazilian Portuguese, in a real browser: no English
text from the catalogue may show where a translation exists. Screenshots of the same pages at
desk (1280x800) and phone (375x812) size are kept under $KEEPLINE_ARTIFACTS (default
var/artifacts/screenshots) for a human to look at."""

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings

from accounts.models import Team, User
from comms import services
from crm.models import Stage
from tests.comms.conftest import cid
from tests.comms.test_customer_page import in_thread
from tests.comms.test_staff_browser import sign_in
from tests.conftest import screenshot_dir
from tests.crm.factories import CompanyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SIZES = [(1280, 800), (375, 812)]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")
# What a page shows besides its text: labels a screen reader reads and hints in empty fields.
VISIBLE_TEXT = """() => {
  const bits = [document.title, document.body.innerText];
  document.querySelectorAll('[placeholder],[aria-label],[title]').forEach((n) => {
    for (const a of ['placeholder', 'aria-label', 'title']) {
      if (n.getAttribute(a)) bits.push(n.getAttribute(a));
    }
  });
  return bits.join('\\n');
}"""


def _english_phrases(language: str, data_names: set[str]) -> list[tuple[str, re.Pattern]]:
    """(msgid, pattern) for every catalogue entry whose English would be a visible mistake."""
    path = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po"
    # Language names are shown in their own language in the footer ("English"), on purpose.
    skip = data_names | {str(name) for _code, name in settings.LANGUAGES} | {"English"}
    phrases = []
    for entry in polib.pofile(str(path)):
        if entry.obsolete or not entry.translated():
            continue
        for english, local in (
            (entry.msgid, entry.msgstr or entry.msgstr_plural.get(0, "")),
            (entry.msgid_plural, entry.msgstr_plural.get(1, "")),
        ):
            if not english or english == local or english in skip:
                continue
            # Text around a placeholder: only long fixed pieces say something on their own.
            pieces = PLACEHOLDER.split(english) if PLACEHOLDER.search(english) else [english]
            for piece in pieces:
                piece = piece.strip(" .,:;()\"'")
                long_enough = len(piece) >= (15 if len(pieces) > 1 else 4)
                if long_enough and piece not in local and piece not in skip:
                    phrases.append((english, re.compile(rf"(?<!\w){re.escape(piece)}(?!\w)")))
    return phrases


@pytest.fixture
def walk_data(rep, deal, customer_contact, conversation):
    deal.company = CompanyFactory(name="Zeta Ltda", owner=rep)
    deal.save(update_fields=["company"])
    in_thread(
        services.message_send,
        author=rep,
        conversation=conversation,
        body="Olá Clara, segue a proposta.",
        client_id=cid(),
    )
    link, token = in_thread(services.customer_link_issue, actor=rep, conversation=conversation)
    in_thread(services.message_receive, link=link, body="Obrigada!", client_id=cid())
    return {"token": token}


def _pages(deal, customer_contact, conversation, token) -> list[tuple[str, str]]:
    return [
        ("home", "/"),
        ("inbox", "/inbox/?box=all"),
        ("conversation", f"/conversations/{conversation.pk}/"),
        ("deals", "/deals/"),
        ("board", "/deals/board/"),
        ("deal", deal.get_absolute_url()),
        ("contacts", "/contacts/"),
        ("contact", customer_contact.get_absolute_url()),
        ("companies", "/companies/"),
        ("company", deal.company.get_absolute_url()),
        ("search", "/search/?q=Zeta"),
        ("search-empty", "/search/?q=nothing-like-this"),
        ("customer", f"/c/{token}/"),
    ]


@pytest.mark.parametrize(
    "language, locale, saved",
    # es: the browser's language; pt-BR: the choice saved on the rep (the browser agrees, as the
    # customer page follows the browser alone).
    [("es", "es-ES", ""), ("pt_BR", "pt-BR", "pt-br")],
)
def test_main_pages_show_no_english_from_the_catalogue(
    live_server,
    browser,
    rep,
    deal,
    customer_contact,
    conversation,
    walk_data,
    language,
    locale,
    saved,
):
    rep.language = saved
    rep.save(update_fields=["language"])
    # Names people gave things (stages, teams such as "Field sales", people) are data, not text.
    data_names = set(Stage.objects.values_list("name", flat=True))
    data_names |= {
        word for name in Team.objects.values_list("name", flat=True) for word in name.split()
    }
    for first, last in User.objects.values_list("first_name", "last_name"):
        data_names |= {first, last}
    phrases = _english_phrases(language, data_names)
    shots = screenshot_dir()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server.url, rep)
        found = []
        for name, path in _pages(deal, customer_contact, conversation, walk_data["token"]):
            response = page.goto(f"{live_server.url}{path}", wait_until="load")
            assert response.status < 400, (name, response.status)
            if page.locator("[data-chat]").count():
                # Strings the chat script writes (from json_script) are on the page too.
                page.locator("li.msg").first.wait_for(timeout=5000)
            text = page.evaluate(VISIBLE_TEXT)
            found += [(name, english) for english, pattern in phrases if pattern.search(text)]
            if language == "es":  # one language at both sizes is enough to look at
                for width, height in SIZES:
                    page.set_viewport_size({"width": width, "height": height})
                    page.screenshot(
                        path=str(shots / f"{name}-{width}x{height}.png"), full_page=True
                    )
                page.set_viewport_size({"width": 1280, "height": 800})
    finally:
        context.close()
    assert not found, f"English shown on {language} pages (page, msgid): {sorted(set(found))[:20]}"
