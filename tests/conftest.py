import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate

from accounts import roles
from tests.factories import TeamFactory, make_user

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def pytest_sessionstart(session):
    # Pages are read in Spanish and Portuguese too: compile the catalogues as `make run` does.
    from accounts.management.commands.compile_catalogues import compile_catalogues

    compile_catalogues()


def pytest_collection_modifyitems(config, items):
    engine = settings.DATABASES["default"]["ENGINE"]
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords and not engine.endswith("postgresql"):
            item.add_marker(skip_pg)


def _uses_transactional_db(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(
        (marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")))
        or {"transactional_db", "live_server"} & set(request.fixturenames)
    )


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in Spanish leaves its language active in the thread (LocaleMiddleware activates,
    nothing deactivates): each test starts in the default language."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _audit_ledger_flushable(request):
    """Transactional tests end with a flush that empties every table, which the audit ledger's
    triggers refuse. Open the documented maintenance window just for that flush: on PostgreSQL
    the TRUNCATE trigger yields to `keepline.audit_maintenance = 'on'` (reset after the flush by
    _close_audit_maintenance); SQLite's flush is a DELETE, so its triggers are dropped and the
    audit app's post_migrate hook, which the flush sends, puts them back."""
    if not _uses_transactional_db(request):
        yield
        return
    request.getfixturevalue("_django_db_helper")  # set up first, so our teardown runs first
    yield
    from django.db import connection

    from audit import ddl

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET {ddl.MAINTENANCE_SETTING} = 'on'")
    else:
        from comms import ddl as record_ddl

        ddl.remove_immutability(connection)
        record_ddl.remove(connection)  # put back by comms' post_migrate hook


def _close_audit_maintenance(sender, using="default", **kwargs):
    from django.db import connections

    from audit import ddl

    connection = connections[using]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"RESET {ddl.MAINTENANCE_SETTING}")


post_migrate.connect(_close_audit_maintenance, dispatch_uid="tests.audit_maintenance")


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: sign-in throttle counts (accounts/sign_in_throttle.py)
    would otherwise carry from one test's failed sign-ins into the next, in the process's
    local-memory cache or, with REDIS_URL, in Redis across runs."""
    from django.core.cache import cache, caches

    cache.clear()
    caches["fragments"].clear()  # settings a test overrides (languages) change what they hold


@pytest.fixture
def audit_signing_key(settings):
    """A fresh Ed25519 checkpoint key for the test (DEBUG is off in tests: no demo key)."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    settings.AUDIT_SIGNING_KEY = base64.b64encode(seed).decode()
    settings.AUDIT_SIGNING_KEY_FILE = ""
    return settings.AUDIT_SIGNING_KEY


@pytest.fixture
def team(db):
    return TeamFactory(name="Field sales")


@pytest.fixture
def manager(db, team):
    return make_user(roles.MANAGER, username="manager", team=team)


@pytest.fixture
def rep(db, manager, team):
    return make_user(roles.REP, username="rep", manager=manager, team=team)


@pytest.fixture
def other_rep(db, team):
    return make_user(roles.REP, username="other_rep", team=team)


@pytest.fixture
def director(db, manager, team):
    """The manager's manager: sees the manager's whole reporting subtree."""
    boss = make_user(roles.MANAGER, username="director", team=team)
    manager.manager = boss
    manager.save(update_fields=["manager"])
    return boss


@pytest.fixture
def customer_contact(db, rep):
    """A customer owned by `rep`, reachable by email and a Brazilian mobile."""
    from tests.crm.factories import ContactFactory

    return ContactFactory(
        first_name="Clara",
        last_name="Cliente",
        owner=rep,
        email="clara@customer.example",
        phone="+5511987654321",
    )


@pytest.fixture
def compliance(db):
    return make_user(roles.COMPLIANCE, username="compliance")


@pytest.fixture
def admin_user(db):
    return make_user(roles.ADMIN, username="admin_user")


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's loop must be gone before async tests in other modules run.
    """Debian's chromium driven by Playwright; CI must have it, a laptop may skip."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"CI must run browser tests but {CHROMIUM} is missing")
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in the test thread; the test's own ORM
    # calls are still plain synchronous code, so Django's async guard is lifted while it runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    # The service worker (static/js/sw.js) is blocked here: it would precache the app shell in
    # every test's fresh context. tests/comms/test_pwa_browser.py allows it in its own context.
    context = browser.new_context(viewport={"width": 375, "height": 740}, service_workers="block")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _every_response_meets_the_content_policy(monkeypatch):
    """Every response a test client gets carries the CSP and Permissions-Policy headers, and no
    HTML page holds inline script or style the policy would block (tests/content_policy.py)."""
    from django.test.client import Client

    from tests.content_policy import policy_problems

    request = Client.request

    def checked_request(self, **kwargs):
        response = request(self, **kwargs)
        problems = policy_problems(response)
        assert not problems, f"{kwargs.get('PATH_INFO')}: {problems}"
        return response

    monkeypatch.setattr(Client, "request", checked_request)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    # Connections held open by worker threads (Channels, live_server) would block dropping the
    # test database on PostgreSQL; tests close them after every use.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True, scope="session")
def celery_runs_tasks_inline():
    """Tasks run in the test process even when REDIS_URL makes Celery use a broker."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


def _sqlite_readers_never_wait(sender, connection, **kwargs):
    """The test database on SQLite is one in-memory database in shared-cache mode, shared by the
    live server's threads; there a reader that meets another thread's write lock fails at once
    ("database table is locked") instead of waiting, which a file database never does. Readers
    skip table locks, as they would beside a writer on a file database."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        connection.connection.execute("PRAGMA read_uncommitted = true")


connection_created.connect(_sqlite_readers_never_wait, dispatch_uid="tests.sqlite_readers")


def screenshot_dir() -> Path:
    """Where browser tests keep screenshots as test artifacts: $KEEPLINE_ARTIFACTS, else
    var/artifacts/screenshots (git ignores var/)."""
    folder = Path(
        os.environ.get("KEEPLINE_ARTIFACTS") or settings.BASE_DIR / "var/artifacts/screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder
