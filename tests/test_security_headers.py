"""Issue 9.12: a strict Content-Security-Policy and a Permissions-Policy on every response, and no
inline script or style anywhere the policy would block it (tests/content_policy.py finds them).

The autouse fixture in tests/conftest.py checks every page any test renders; the tests here make
sure the main pages of each role are among them, read the exact policy, walk every template and
every HTML string in our Python, and load the pages in chromium with the policy enforced."""

import ast
import socket
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from comms import services
from tests.comms import conftest as comms_fixtures
from tests.comms.test_live_chat import CHAT_OPEN
from tests.content_policy import (
    CSP_HEADER,
    PERMISSIONS_HEADER,
    inline_code,
    policy_problems,
    template_markup,
)
from tests.crm.factories import CompanyFactory
from tests.factories import PASSWORD

deal = comms_fixtures.deal
conversation = comms_fixtures.conversation
link_and_token = comms_fixtures.link_and_token

OUR_APPS = ("accounts", "audit", "crm", "comms", "config")


def directives(response) -> dict[str, list[str]]:
    policy = {}
    for part in response[CSP_HEADER].split(";"):
        name, *values = part.split()
        policy[name] = values
    return policy


def assert_strict(response, path, *, img_src=("'self'",)):
    assert response.status_code < 500, path
    assert not policy_problems(response), (path, policy_problems(response))
    policy = directives(response)
    assert policy == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": list(img_src),
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }, path
    allowed = dict(item.split("=", 1) for item in response[PERMISSIONS_HEADER].split(", "))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "display-capture"):
        assert allowed[feature] == "()", (path, feature)


# --- Headers on the main pages of every role -------------------------------------------------


@pytest.fixture
def company(db, rep):
    return CompanyFactory(name="Acme Fleet", owner=rep)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_pages_of_every_role_carry_the_policy(
    rep, manager, compliance, company, customer_contact, deal, conversation
):
    services.customer_link_issue(actor=rep, conversation=conversation)
    record_pages = [
        "/",
        reverse("comms:inbox"),
        reverse("crm:deal-board"),
        reverse("crm:deal-list"),
        reverse("crm:contact-list"),
        reverse("crm:company-list"),
        reverse("crm:search") + "?q=Clara",
        reverse("accounts:token-list"),
        reverse("accounts:session-list"),
        deal.get_absolute_url(),
        customer_contact.get_absolute_url(),
        company.get_absolute_url(),
        reverse("comms:conversation-detail", args=[conversation.pk]),
    ]
    pages = {
        rep: [
            *record_pages,
            reverse("crm:deal-create"),
            reverse("crm:deal-edit", args=[deal.pk]),
            reverse("crm:contact-create"),
            reverse("crm:csv-import", args=["contacts"]),
        ],
        manager: record_pages,
        compliance: [
            "/",
            reverse("audit:event-list"),
            reverse("audit:event-detail", args=[AuditEvent.objects.latest("seq").seq]),
            reverse("comms:inbox"),
            reverse("comms:conversation-detail", args=[conversation.pk]),
        ],
    }
    for user, paths in pages.items():
        client = signed_in(user)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (user.username, path)
            assert_strict(response, path)


def test_a_new_customer_link_is_shown_without_inline_script(rep, conversation):
    """The link field selects itself on click: through static/js/keepline.js, not onclick=."""
    client = signed_in(rep)
    response = client.post(
        reverse("comms:conversation-action", args=[conversation.pk]),
        {"action": "link-issue"},
        follow=True,
    )
    assert b'data-testid="new-link-url"' in response.content
    assert b"data-select-on-click" in response.content
    assert_strict(response, "conversation page with a new link")


def test_admin_pages_carry_the_policy(admin_user, rep, team, conversation):
    client = signed_in(admin_user)
    paths = ["/admin/", "/admin/password_change/"]
    for model in admin.site._registry:
        opts = model._meta
        paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    for obj in (rep, team, conversation):
        opts = obj._meta
        paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    for path in paths:
        response = client.get(path)
        assert response.status_code in (200, 403), path  # 403: an add page no one may use
        assert_strict(response, path)


def test_anonymous_and_error_pages_carry_the_policy(db, link_and_token):
    _link, token = link_and_token
    client = Client()
    for path, status in [
        ("/login/", 200),
        ("/admin/login/", 200),
        (f"/c/{token}/", 200),
        ("/c/not-a-real-token/", 404),
        ("/no-such-page/", 404),
        ("/", 302),
        ("/api/v1/deals/", 401),
        ("/favicon.ico", 302),
    ]:
        response = client.get(path)
        assert response.status_code == status, path
        assert_strict(response, path)


def test_the_csrf_failure_page_is_ours_and_carries_the_policy(rep):
    """Django's own CSRF page styles itself inline; templates/403_csrf.html does not."""
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": rep.username, "password": PASSWORD})
    assert response.status_code == 403
    assert b'data-testid="csrf-failure"' in response.content
    assert_strict(response, "/login/ (CSRF failure)")


def test_api_docs_run_their_script_from_a_file_and_alone_allow_data_images(rep):
    client = signed_in(rep)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b'<script src="/api/docs/?script="></script>' in response.content
    assert_strict(response, "/api/docs/", img_src=("'self'", "data:"))
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert_strict(schema, "/api/schema/")


# --- The checker itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<script type="text/javascript">go()</script>',
        '<script type="module">import "x"</script>',
        "<style>body{}</style>",
        '<p style="color:red">x</p>',
        '<button onclick="go()">x</button>',
        '<select ONCHANGE="this.form.submit()"></select>',
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:history.back()">back</a>',
        '<form action=" JavaScript:void(0)"></form>',
    ],
)
def test_the_checker_finds_what_the_policy_blocks(html):
    assert inline_code(f"<!doctype html><html><body>{html}</body></html>")


@pytest.mark.parametrize(
    "html",
    [
        '<script src="/static/js/chat.js" defer></script>',
        '<script id="x" type="application/json">{"a": "</b>"}</script>',
        "<script></script>",
        '<link rel="stylesheet" href="/static/css/keepline.css">',
        '<select data-autosubmit name="online"></select>',
        '<p class="style onclick">style= onclick= as text</p>',
        '<a href="/deals/">javascript: is only a word here</a>',
    ],
)
def test_the_checker_lets_through_what_the_policy_allows(html):
    assert inline_code(f"<!doctype html><html><body>{html}</body></html>") == []


def test_template_markup_keeps_attributes_inside_template_tags_and_drops_comments():
    source = (
        '<a {% if x %}style="color:red"{% endif %} href="{{ url }}">\n'
        "{# <style> in a comment #}{% comment %}\n<script>a()</script>{% endcomment %}"
    )
    found = inline_code(template_markup(source))
    assert found == ['style="" attribute on <a> (line 1)']


# --- Static checks: every template and every HTML string in our code ---------------------------


def our_template_files() -> list[Path]:
    roots = [Path(d) for engine in settings.TEMPLATES for d in engine["DIRS"]]
    roots += [settings.BASE_DIR / app / "templates" for app in OUR_APPS]
    return sorted(path for root in roots if root.is_dir() for path in root.rglob("*.html"))


def test_no_template_holds_inline_script_or_style():
    templates = our_template_files()
    assert len(templates) > 30  # the walk found the templates directory
    problems = {
        str(path.relative_to(settings.BASE_DIR)): found
        for path in templates
        if (found := inline_code(template_markup(path.read_text(encoding="utf-8"))))
    }
    assert problems == {}


def html_strings_in_python() -> list[tuple[str, int, str]]:
    """Every string literal in our apps' Python that looks like markup (format_html templates,
    mark_safe, widget snippets), with its file and line."""
    found = []
    for app in OUR_APPS:
        for path in sorted((settings.BASE_DIR / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                text = node.value if isinstance(node, ast.Constant) else None
                if isinstance(text, str) and "<" in text and ">" in text:
                    found.append((str(path.relative_to(settings.BASE_DIR)), node.lineno, text))
    return found


def test_no_html_built_in_python_holds_inline_script_or_style():
    problems = [
        (where, line, found)
        for where, line, text in html_strings_in_python()
        if (found := inline_code(text))
    ]
    assert problems == []


# --- In chromium, with the policy enforced -----------------------------------------------------

# The deal page's chat panel has its socket open (false, not an error, while the page loads).
# Runs before any page script, outside the page's CSP (Playwright injects it through DevTools).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => window.reportViolation(
  [location.pathname, e.effectiveDirective, e.blockedURI || "inline",
   (e.sourceFile || "") + ":" + e.lineNumber, e.sample].join(" ")));
"""


@pytest.fixture(scope="session")
def asgi_server():
    """Keepline's ASGI application, HTTP and WebSockets, on daphne in a thread of this process: a
    browser test gets the live chat on the test's own database (SQLite's in-memory one too) and
    channel layer. Twisted's reactor starts once a process, so one server serves the session."""
    from daphne.server import Server
    from twisted.internet import reactor

    from config.asgi import application

    server = Server(
        application=application,
        endpoints=["tcp:port=0:interface=127.0.0.1"],
        signal_handlers=False,
        verbosity=0,
    )
    thread = threading.Thread(target=server.run, name="daphne", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.listening_addresses:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("daphne did not start listening")
        time.sleep(0.05)
    host, port = server.listening_addresses[0]
    socket.create_connection((host, port), timeout=2).close()
    yield f"http://{host}:{port}"
    reactor.callFromThread(reactor.stop)
    thread.join(timeout=10)


class PolicyWatch:
    """Everything a browser context says about the policy: CSP violation events, console errors
    and warnings (chromium logs "Refused to ..." there, and Permissions-Policy header errors), and
    uncaught page errors."""

    def __init__(self, context):
        self.problems: list[str] = []
        context.expose_function("reportViolation", lambda text: self.problems.append(text))
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("page", self.watch)

    def watch(self, page):
        page.on(
            "console",
            lambda message: (
                message.type in ("error", "warning")
                and self.problems.append(f"console {message.type}: {message.text} {page.url}")
            ),
        )
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error} {page.url}"))


def new_page(browser, **options):
    context = browser.new_context(**options)
    watch = PolicyWatch(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page, watch


def sign_in(page, base, user, path="/login/"):
    page.goto(f"{base}{path}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_load_state()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_run_under_the_policy_in_chromium_and_the_live_chat_works(
    asgi_server, browser, rep, admin_user, team, deal, conversation, link_and_token
):
    _link, token = link_and_token
    base = asgi_server
    rep_context, rep_page, rep_watch = new_page(browser, viewport={"width": 1200, "height": 900})
    customer_context, customer, customer_watch = new_page(
        browser, viewport={"width": 375, "height": 740}
    )
    admin_context, admin_page, admin_watch = new_page(
        browser, viewport={"width": 1200, "height": 900}
    )
    try:
        # The rep on the deal page and the customer on the link page chat live.
        sign_in(rep_page, base, rep)
        assert rep_page.url == f"{base}/"
        rep_page.goto(f"{base}{deal.get_absolute_url()}")
        rep_page.get_by_test_id("chat-panel").wait_for()
        customer.goto(f"{base}/c/{token}/")
        customer.wait_for_function(
            "() => document.getElementById('chat-status').textContent === ''"
        )
        rep_page.wait_for_function(CHAT_OPEN)

        rep_page.fill("[data-role=input]", "Hi Clara, the quote is ready.")
        rep_page.press("[data-role=input]", "Enter")
        rep_row = rep_page.locator("[data-testid=chat-messages] li.msg.mine:not(.pending)")
        rep_row.wait_for()
        message_id = rep_row.get_attribute("data-id")
        customer_row = customer.locator(f'#messages li[data-id="{message_id}"]')
        customer_row.wait_for()
        assert "the quote is ready" in customer_row.inner_text()

        customer.get_by_test_id("composer").fill("Great, thanks!")
        customer.get_by_test_id("composer").press("Enter")
        customer.locator("#messages li.mine:not(.pending)").wait_for()
        rep_page.locator("[data-testid=chat-messages] li.msg.inbound").wait_for()
        assert "Great, thanks!" in rep_page.locator("li.msg.inbound").inner_text()

        # The inbox: its filters submit on change through static/js/keepline.js.
        rep_page.goto(f"{base}/inbox/")
        rep_page.get_by_test_id("inbox-list").wait_for()
        with rep_page.expect_navigation():
            rep_page.select_option("select[name=status]", index=1)
        assert "status=" in rep_page.url

        # The conversation page: a new customer link selects itself on click.
        rep_page.goto(f"{base}/conversations/{conversation.pk}/")
        rep_page.click("text=Create a customer link")
        link_field = rep_page.get_by_test_id("new-link-url")
        link_field.click(position={"x": 5, "y": 5})
        selected = link_field.evaluate("f => [f.selectionStart, f.selectionEnd, f.value.length]")
        assert selected[0] == 0 and selected[1] == selected[2] > 0

        # The new-deal form's Cancel goes back without a javascript: URL.
        rep_page.goto(f"{base}/deals/")
        rep_page.goto(f"{base}/deals/new/")
        with rep_page.expect_navigation():
            rep_page.click("a[data-history-back]")
        assert rep_page.url == f"{base}/deals/"

        # The API docs: Swagger UI starts from its script file and lists the operations.
        rep_page.goto(f"{base}/api/docs/")
        rep_page.locator(".swagger-ui .opblock").first.wait_for()

        # The admin: signing in, the team list, and change forms with their widgets.
        sign_in(admin_page, base, admin_user, path="/admin/login/")
        assert admin_page.url == f"{base}/admin/"
        admin_page.goto(f"{base}/admin/accounts/team/")
        assert team.name in admin_page.locator("#result_list").inner_text()
        admin_page.goto(f"{base}/admin/accounts/team/{team.pk}/change/")
        admin_page.locator("#team_form").wait_for()
        admin_page.goto(f"{base}/admin/accounts/user/{rep.pk}/change/")
        admin_page.locator("#user_form").wait_for()
        admin_page.locator(".datetimeshortcuts").first.wait_for()  # the admin's own JS ran

        problems = rep_watch.problems + customer_watch.problems + admin_watch.problems
        assert problems == [], "\n".join(problems)
    finally:
        for context in (rep_context, customer_context, admin_context):
            context.close()
