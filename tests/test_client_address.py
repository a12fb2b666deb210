"""The real client address (audit/client_address.py): X-Forwarded-For is read right to left past
trusted proxies only, for requests and for ASGI scopes alike, and it is what the audit ledger,
UserSession and the sign-in throttle see."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import UserSession
from audit.client_address import (
    client_address,
    client_address_from_scope,
    resolve,
    user_agent_from_scope,
)
from audit.models import AuditEvent
from config import env
from tests.factories import PASSWORD

BALANCER = "10.0.0.5"
CLIENT = "203.0.113.50"


@pytest.fixture
def behind_balancer(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8:ffff::/48"]


def request_from(peer: str, forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **extra)


def test_with_no_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(request_from(BALANCER, CLIENT)) == BALANCER


def test_a_header_from_an_untrusted_peer_is_ignored(behind_balancer):
    # A client talking to daphne directly cannot choose its own address.
    assert client_address(request_from("198.51.100.9", "1.2.3.4")) == "198.51.100.9"


def test_the_trusted_balancer_names_the_client(behind_balancer):
    assert client_address(request_from(BALANCER, CLIENT)) == CLIENT


def test_what_the_client_wrote_itself_is_not_believed(behind_balancer):
    # The client sent "X-Forwarded-For: 6.6.6.6"; the balancer appended the address it saw.
    assert client_address(request_from(BALANCER, f"6.6.6.6, {CLIENT}")) == CLIENT


def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_hop(behind_balancer):
    chain = f"6.6.6.6, {CLIENT}, 10.1.1.1, 10.2.2.2"
    assert client_address(request_from(BALANCER, chain)) == CLIENT


def test_a_chain_of_only_trusted_hops_ends_at_the_leftmost(behind_balancer):
    assert client_address(request_from(BALANCER, "10.9.9.9, 10.1.1.1")) == "10.9.9.9"


def test_garbage_stops_the_walk_at_the_trusted_hop_that_passed_it(behind_balancer):
    assert client_address(request_from(BALANCER, f"{CLIENT}, unknown")) == BALANCER
    assert client_address(request_from(BALANCER, "")) == BALANCER


def test_ports_brackets_ipv6_and_mapped_addresses(behind_balancer):
    assert resolve(BALANCER, "198.51.100.7:4711") == "198.51.100.7"
    assert resolve(BALANCER, "[2001:db8::7]:443") == "2001:db8::7"
    assert resolve("2001:db8:ffff::1", "2001:db8::7") == "2001:db8::7"
    assert resolve("::ffff:10.0.0.5", CLIENT) == CLIENT
    assert resolve("not-an-address", CLIENT) is None
    assert resolve(None, CLIENT) is None


def test_an_asgi_scope_is_read_the_same_way(behind_balancer):
    scope = {
        "type": "websocket",
        "client": (BALANCER, 50000),
        "headers": [
            (b"x-forwarded-for", b"6.6.6.6"),
            (b"X-Forwarded-For", CLIENT.encode()),
            (b"user-agent", b"Phone/2.0"),
        ],
    }
    assert client_address_from_scope(scope) == CLIENT
    assert user_agent_from_scope(scope) == "Phone/2.0"
    untrusted = {**scope, "client": ("198.51.100.9", 1)}
    assert client_address_from_scope(untrusted) == "198.51.100.9"
    assert client_address_from_scope({"type": "websocket", "headers": []}) is None
    assert user_agent_from_scope({"type": "websocket"}) == ""


def test_trusted_proxies_setting_refuses_what_is_not_an_address():
    assert env.ip_networks("TRUSTED_PROXIES", ["10.0.0.0/8", "192.0.2.1", "::1"])
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        env.ip_networks("TRUSTED_PROXIES", ["10.0.0.0/8", "balancer.internal"])


@pytest.mark.django_db
def test_audit_events_and_sessions_record_the_client_behind_a_trusted_proxy(behind_balancer, rep):
    client = Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=f"6.6.6.6, {CLIENT}")
    client.post(reverse("accounts:login"), {"username": "rep", "password": "wrong"})
    client.post(reverse("accounts:login"), {"username": "rep", "password": PASSWORD})
    failed = AuditEvent.objects.get(action="accounts.sign_in.failed")
    signed_in = AuditEvent.objects.get(action="accounts.user.signed_in")
    assert failed.ip == CLIENT and signed_in.ip == CLIENT
    assert UserSession.objects.get(user=rep).ip == CLIENT


@pytest.mark.django_db
def test_without_trusted_proxies_the_ledger_records_the_peer(settings, rep):
    settings.TRUSTED_PROXIES = []
    client = Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=CLIENT)
    client.post(reverse("accounts:login"), {"username": "rep", "password": "wrong"})
    assert AuditEvent.objects.get(action="accounts.sign_in.failed").ip == BALANCER


@pytest.mark.django_db
def test_an_event_recorded_from_a_socket_scope_carries_the_client(behind_balancer):
    import audit

    scope = {
        "type": "websocket",
        "client": (BALANCER, 50000),
        "headers": [(b"x-forwarded-for", CLIENT.encode()), (b"user-agent", b"Phone/2.0")],
    }
    event = audit.record(actor=audit.SYSTEM, action="tests.socket.opened", request=scope)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.ip, stored.user_agent, stored.request_id) == (CLIENT, "Phone/2.0", None)
