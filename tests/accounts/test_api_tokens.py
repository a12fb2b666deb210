"""Personal API tokens: shown once, stored as a hash, revoked by their owner or for good when
access ends (accounts.ApiToken; the pages at /api-tokens/)."""

import datetime as dt

from django.utils import timezone

from accounts import services
from accounts.models import ApiToken
from audit.models import AuditEvent
from tests.crm.factories import DealFactory


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_token_is_shown_once_and_stored_as_a_hash(client, rep):
    client.force_login(rep)
    response = client.post("/api-tokens/", {"name": "script", "days": 30})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get()
    secret = response.context["secret"]
    assert secret.startswith("kl_") and secret.encode() in response.content
    assert secret not in token.key_hash and token.key_hash == services.token_hash(secret)
    assert secret.encode() not in client.get("/api-tokens/").content
    assert AuditEvent.objects.filter(action="accounts.api_token.created").exists()


def test_token_authenticates_then_revoked_or_expired_fails(client, rep):
    deal = DealFactory(owner=rep)
    token, secret = services.api_token_create(user=rep, name="ci", days=1)
    response = client.get("/api/v1/deals/", **bearer(secret))
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [deal.pk]
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert client.get("/api/v1/deals/", **bearer("kl_wrong")).status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    assert client.get("/api/v1/deals/", **bearer(secret)).status_code == 401
    _token2, secret2 = services.api_token_create(user=rep, name="ci2", days=1)
    client.force_login(rep)
    client.post(f"/api-tokens/{_token2.pk}/revoke/")
    client.logout()
    assert client.get("/api/v1/deals/", **bearer(secret2)).status_code == 401
    assert AuditEvent.objects.filter(action="accounts.api_token.revoked").exists()


def test_someone_elses_token_cannot_be_revoked(client, rep, other_rep):
    token, _secret = services.api_token_create(user=rep, name="mine")
    client.force_login(other_rep)
    assert client.post(f"/api-tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_token_pages_keep_their_address(client, rep):
    client.force_login(rep)
    assert client.get("/api-tokens/").status_code == 200
    token, _secret = services.api_token_create(user=rep, name="mine")
    response = client.post(f"/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == "/api-tokens/"
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_deactivation_revokes_every_token_in_accounts(admin_user, rep):
    services.api_token_create(user=rep, name="a")
    services.api_token_create(user=rep, name="b")
    rep.is_active = False
    services.user_save(actor=admin_user, user=rep)
    assert not ApiToken.objects.filter(user=rep, revoked_at=None).exists()
    (event,) = AuditEvent.objects.filter(action="accounts.api_token.revoked_all")
    assert event.actor_id == admin_user.pk and len(event.data["prefixes"]) == 2
