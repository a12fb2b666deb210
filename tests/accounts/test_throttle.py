"""Brute-force protection (accounts/sign_in_throttle.py): failed sign-ins are limited per username
and per client address on /login/ and /admin/login/, failed API tokens per address; each lock is
audited once; a success resets the username; a dead cache lets sign-ins through."""

import logging
import time

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services
from audit.models import AuditEvent
from tests.factories import PASSWORD

LOCKED = "Too many failed sign-in attempts"
LOGIN = "/login/"
ADMIN_LOGIN = "/admin/login/"


def sign_in(client: Client, username: str, password: str, url: str = LOGIN):
    return client.post(url, {"username": username, "password": password})


def signed_in(response) -> bool:
    return response.status_code == 302


def events(action: str):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


@pytest.mark.django_db
def test_thirty_wrong_passwords_then_the_right_one_is_refused(rep):
    client = Client(REMOTE_ADDR="203.0.113.9")
    answers = [sign_in(client, "rep", f"guess-{n}") for n in range(30)]
    right = sign_in(client, "rep", PASSWORD)
    assert not signed_in(right)
    assert LOCKED in right.content.decode()
    assert "_auth_user_id" not in client.session
    # The fifth failure already says so; the ones before it say the password is wrong.
    assert LOCKED not in answers[3].content.decode()
    assert LOCKED in answers[4].content.decode()
    # Only the real password checks are failures in the ledger; the lock is recorded once.
    assert len(events("accounts.sign_in.failed")) == 5
    (lock,) = events("accounts.sign_in.locked")
    assert lock.data == {
        "username": "rep",
        "address": "203.0.113.9",
        "locked": "username",
        "via": "password",
        "seconds": 900,
    }
    assert (lock.target_type, lock.target_id) == ("accounts.user", str(rep.pk))
    assert lock.ip == "203.0.113.9" and lock.actor_type == "anonymous"
    assert "guess" not in str(lock.data) and PASSWORD not in str(lock.data)


@pytest.mark.django_db
def test_a_locked_username_is_locked_from_every_address_and_in_any_case(rep):
    for n in range(5):
        sign_in(Client(REMOTE_ADDR=f"198.51.100.{n}"), "rep", "wrong")
    elsewhere = sign_in(Client(REMOTE_ADDR="192.0.2.77"), "REP", PASSWORD)
    assert LOCKED in elsewhere.content.decode()
    assert not signed_in(sign_in(Client(REMOTE_ADDR="192.0.2.78"), "rep", PASSWORD))


@pytest.mark.django_db
def test_the_right_password_works_again_once_the_lock_ends(rep, settings):
    settings.SIGN_IN_LOCKOUT_SECONDS = 1
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(5):
        sign_in(client, "rep", "wrong")
    assert not signed_in(sign_in(client, "rep", PASSWORD))
    time.sleep(1.2)
    assert signed_in(sign_in(client, "rep", PASSWORD))


@pytest.mark.django_db
def test_a_successful_sign_in_resets_the_username_count(rep):
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(4):
        sign_in(client, "rep", "wrong")
    assert signed_in(sign_in(client, "rep", PASSWORD))
    client.post(reverse("accounts:logout"))
    for _ in range(4):
        sign_in(client, "rep", "wrong")
    assert signed_in(sign_in(client, "rep", PASSWORD))
    assert events("accounts.sign_in.locked") == []


@pytest.mark.django_db
def test_one_address_is_limited_across_usernames_but_not_its_neighbours(rep, other_rep, settings):
    settings.SIGN_IN_FAILURES_PER_ADDRESS = 8
    office = Client(REMOTE_ADDR="203.0.113.9")
    # Colleagues behind the office NAT signing in successfully do not count.
    for _ in range(3):
        assert signed_in(sign_in(Client(REMOTE_ADDR="203.0.113.9"), "other_rep", PASSWORD))
    for n in range(8):
        sign_in(office, f"nobody-{n}", "wrong")
    refused = sign_in(Client(REMOTE_ADDR="203.0.113.9"), "rep", PASSWORD)
    assert LOCKED in refused.content.decode()
    assert signed_in(sign_in(Client(REMOTE_ADDR="203.0.113.10"), "rep", PASSWORD))
    (lock,) = events("accounts.sign_in.locked")
    assert lock.data["locked"] == "address" and lock.data["address"] == "203.0.113.9"
    assert lock.data["username"] == "nobody-7" and lock.target_type == ""


@pytest.mark.django_db
def test_the_default_address_limit_leaves_room_for_an_office_of_typists(rep, other_rep):
    """5 per username, 50 per address: ten people's typos do not lock the office out."""
    office = "203.0.113.9"
    for n in range(10):
        for _ in range(4):
            sign_in(Client(REMOTE_ADDR=office), f"person-{n}", "typo")
    assert signed_in(sign_in(Client(REMOTE_ADDR=office), "rep", PASSWORD))


@pytest.mark.django_db
def test_the_address_is_the_client_behind_a_trusted_balancer(rep, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.SIGN_IN_FAILURES_PER_ADDRESS = 3
    for n in range(3):
        attacker = Client(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.66")
        sign_in(attacker, f"nobody-{n}", "wrong")
    # Everyone arrives from the balancer's address; only the attacker's own address is locked.
    neighbour = Client(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.67")
    assert signed_in(sign_in(neighbour, "rep", PASSWORD))
    assert events("accounts.sign_in.locked")[0].data["address"] == "198.51.100.66"


@pytest.mark.django_db
def test_admin_login_is_throttled_with_the_same_counts(admin_user):
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        sign_in(client, "admin_user", "wrong", url=ADMIN_LOGIN)
    for _ in range(2):
        sign_in(client, "admin_user", "wrong")
    response = sign_in(client, "admin_user", PASSWORD, url=ADMIN_LOGIN)
    assert response.status_code == 200 and LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert len(events("accounts.sign_in.locked")) == 1


@pytest.mark.django_db
def test_a_right_password_without_admin_access_is_not_a_failure(rep):
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(10):
        response = sign_in(client, "rep", PASSWORD, url=ADMIN_LOGIN)
        assert LOCKED not in response.content.decode()
    assert signed_in(sign_in(client, "rep", PASSWORD))


@pytest.mark.django_db
def test_a_dead_cache_lets_sign_ins_through_and_says_so(rep, settings, caplog):
    settings.CACHES = {
        **settings.CACHES,  # the per-process "fragments" cache stays
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        },
    }
    client = Client(REMOTE_ADDR="203.0.113.9")
    with caplog.at_level(logging.WARNING, logger="accounts.sign_in_throttle"):
        assert not signed_in(sign_in(client, "rep", "wrong"))
        assert signed_in(sign_in(client, "rep", PASSWORD))
    assert "cache is unavailable" in caplog.text


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.mark.django_db
def test_failed_api_tokens_lock_the_address_with_429(rep, settings):
    settings.API_TOKEN_FAILURES_PER_ADDRESS = 3
    _token, secret = services.api_token_create(user=rep, name="ci", days=1)
    client = Client(REMOTE_ADDR="203.0.113.9")
    statuses = [
        client.get("/api/v1/deals/", **bearer(f"kl_wrong{n}")).status_code for n in range(3)
    ]
    assert statuses == [401, 401, 401]
    locked = client.get("/api/v1/deals/", **bearer(secret))
    assert locked.status_code == 429
    assert "Too many failed token authentications" in locked.json()["detail"]
    assert int(locked["Retry-After"]) > 0
    assert client.get("/api/v1/deals/", **bearer("kl_wrong")).status_code == 429
    (lock,) = events("accounts.sign_in.locked")
    assert lock.data["via"] == "api_token" and lock.data["address"] == "203.0.113.9"
    assert secret not in str(lock.data)
    # Another address, and session sign-in from this one, are unaffected.
    other = Client(REMOTE_ADDR="203.0.113.10")
    assert other.get("/api/v1/deals/", **bearer(secret)).status_code == 200
    assert signed_in(sign_in(client, "rep", PASSWORD))


@pytest.mark.django_db
def test_ipv6_clients_are_counted_by_their_64_block(rep, settings):
    settings.SIGN_IN_FAILURES_PER_ADDRESS = 3
    for n in range(3):
        sign_in(Client(REMOTE_ADDR=f"2001:db8:1:2::{n + 1}"), f"nobody-{n}", "wrong")
    refused = sign_in(Client(REMOTE_ADDR="2001:db8:1:2::99"), "rep", PASSWORD)
    assert LOCKED in refused.content.decode()
    assert signed_in(sign_in(Client(REMOTE_ADDR="2001:db8:1:3::1"), "rep", PASSWORD))


@pytest.mark.django_db
def test_guesses_in_flight_together_cannot_all_slip_under_the_limit(rep):
    """Attempts are counted before their passwords are checked: six started at once (none has
    failed yet) and the sixth is refused."""
    from django.test import RequestFactory

    from accounts import sign_in_throttle

    request = RequestFactory().post(LOGIN, REMOTE_ADDR="203.0.113.9")
    for _ in range(5):
        sign_in_throttle.attempt_begin(request=request, username="rep")
    with pytest.raises(sign_in_throttle.Locked):
        sign_in_throttle.attempt_begin(request=request, username="rep")
    assert len(events("accounts.sign_in.locked")) == 1
