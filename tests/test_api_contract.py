"""The API keeps its OpenAPI contract: Schemathesis fuzzes every operation in-process.

Bounded (a few derandomised examples per operation and phase) so the run stays short; the
requests go through Django's WSGI handler in the test's own thread, so they see the test's
transaction and everything they write is rolled back with it (no flush, so the append-only
audit ledger needs no maintenance window).
"""

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig

from accounts import services as account_services
from comms import services as comms_services
from tests.comms.conftest import ensure_default_pipeline
from tests.crm.factories import CompanyFactory, ContactFactory, DealFactory

pytestmark = pytest.mark.contract

MAX_EXAMPLES = 15

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20261130,
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
            "database": "none",  # nothing written into the checkout
        },
        "phases": {
            "stateful": {"enabled": False},
            # `?x=1&x=2` only probes how leniently a parameter is read (see the checks below).
            "coverage": {"generate-duplicate-query-parameters": False},
        },
        "checks": {
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            # Off, as false positives inherent to the check here:
            # - positive_data_acceptance wants every schema-valid request accepted, but whether
            #   a request is valid depends on the database: `owner: 0`, `stage: 0` or
            #   `user: 0` are schema-valid integers naming no record, rightly a 400/404.
            # - negative_data_rejection wants every schema-violating value refused, but DRF's
            #   pagination and our optional flags read leniently by design: `page_size=null`
            #   or `limit=abc` fall back to the default page size, an unknown flag is false.
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"enabled": False},
        },
    }
)

schema = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True), config=CONFIG
)
schema.app = get_wsgi_application()


@pytest.fixture
def fast_passwords(settings):
    """The actors are made again for each of the ~100 tests: no real password hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def connection_kept():
    """As Django's test client does: a request must not close the connection that holds the
    test's transaction (PostgreSQL; SQLite's in-memory database ignores the close)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(connection_kept, fast_passwords, settings, rep, compliance, customer_contact):
    """Something to find behind the ids the fuzzer tries: a record of each kind and a chat."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # Schemathesis' Host
    ensure_default_pipeline()
    company = CompanyFactory(owner=rep, name="Acme")
    ContactFactory(owner=rep, company=company)
    deal = DealFactory(owner=rep, company=company, primary_contact=customer_contact)
    comms_services.conversation_start(
        actor=rep, contact=customer_contact, deal=deal, subject="Contract"
    )
    tokens = {}
    for user in (rep, compliance):
        _token, secret = account_services.api_token_create(user=user, name="contract")
        tokens[user.username] = secret
    return tokens


@pytest.fixture(params=["rep", "compliance"])
def actor(request):
    return request.param


@pytest.fixture
def auth(actor, world):
    return {"Authorization": f"Bearer {world[actor]}"}


def runs(case, actor: str) -> bool:
    """The coverage phase's cases (each property missing, of a wrong type, at and past its
    limits) do not depend on who asks, and form and multipart bodies reach the same serializers
    as JSON: they run once, as the rep, with JSON bodies. The examples and the fuzzing phase
    (every media type, bounded by max-examples) run for both actors."""
    meta = case._meta
    if meta is None or meta.phase.name.value != "coverage":
        return True
    return actor == "rep" and case.media_type in (None, "application/json")


@schema.parametrize()
# The fixtures are meant to persist across examples: the world is built once per operation.
@hypothesis_settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
def test_api_keeps_its_contract(case, actor, auth):
    if not runs(case, actor):
        return
    cache.clear()  # no throttle or cached answer carries over from one case to the next
    case.call_and_validate(headers=auth)
