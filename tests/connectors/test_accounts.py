import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.models import AuditEvent
from connectors import crypto, services
from connectors.models import ChannelAccount
from tests.factories import make_channel_account

pytestmark = pytest.mark.django_db


def test_secrets_are_encrypted_at_rest_and_read_back(settings):
    settings.KEEPLINE_CHANNEL_KEYS = [Fernet.generate_key().decode()]
    account = make_channel_account("whatsapp")
    stored = ChannelAccount.objects.values_list("secrets", flat=True).get(pk=account.pk)
    assert "wa-app-secret" not in stored
    assert ChannelAccount.objects.get(pk=account.pk).secret("app_secret") == "wa-app-secret"
    assert account.secret("missing") == ""


def test_keys_rotate_old_tokens_still_open(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.KEEPLINE_CHANNEL_KEYS = [old]
    account = make_channel_account("sms")
    settings.KEEPLINE_CHANNEL_KEYS = [new, old]
    assert account.secret("auth_token") == "twilio-auth-token"
    services.channel_account_save(actor=None, account=account)  # re-encrypts with `new`
    settings.KEEPLINE_CHANNEL_KEYS = [new]
    assert ChannelAccount.objects.get(pk=account.pk).secret("auth_token") == "twilio-auth-token"


def test_unknown_key_cannot_open(settings):
    settings.KEEPLINE_CHANNEL_KEYS = [Fernet.generate_key().decode()]
    token = crypto.encrypt_json({"a": "b"})
    settings.KEEPLINE_CHANNEL_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.SecretsUnreadable) as unreadable:
        crypto.decrypt_json(token)
    assert unreadable.value.status == 503 and "KEEPLINE_CHANNEL_KEYS" in unreadable.value.detail


def test_without_keys_a_key_is_derived_from_secret_key(settings):
    settings.KEEPLINE_CHANNEL_KEYS = []
    assert crypto.decrypt_json(crypto.encrypt_json({"a": "b"})) == {"a": "b"}


def test_audit_names_changed_fields_never_values(admin_user):
    account = make_channel_account("whatsapp")
    account.name = "Sales WhatsApp"
    account.settings = {**account.settings, "api_version": "v22.0"}
    services.channel_account_save(
        actor=admin_user, account=account, secrets={"app_secret": "new-app-secret"}
    )
    event = AuditEvent.objects.filter(action="connectors.channel_account.changed").get()
    assert event.data["fields"] == ["name"]
    assert event.data["settings"] == ["api_version"]
    assert event.data["secrets"] == ["app_secret"]
    text = str(AuditEvent.objects.values_list("data", flat=True)[::1])
    assert "new-app-secret" not in text and "wa-app-secret" not in text and "v22.0" not in text


def test_rep_cannot_save_an_account(rep):
    from config.errors import Forbidden

    with pytest.raises(Forbidden):
        services.channel_account_save(
            actor=rep, account=ChannelAccount(kind="sms", name="x", settings={})
        )
    assert not ChannelAccount.objects.exists()


def test_one_account_per_whatsapp_number():
    make_channel_account("whatsapp")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_channel_account("whatsapp", name="again")
    duplicate = ChannelAccount(kind="whatsapp", name="x", settings={"phone_number_id": "1000001"})
    with pytest.raises(ValidationError):
        duplicate.validate_constraints()


def test_admin_never_renders_a_secret(client, admin_user):
    account = make_channel_account("whatsapp")
    client.force_login(admin_user)
    page = client.get(f"/admin/connectors/channelaccount/{account.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    for value in ("wa-token", "wa-app-secret", "wa-verify"):
        assert value not in html
    assert "Currently: set" in html and "Currently: not set" in html


def test_admin_change_keeps_blank_secrets_and_audits(client, admin_user):
    account = make_channel_account("sms")
    client.force_login(admin_user)
    form = {
        "kind": "sms",
        "name": "Support SMS",
        "is_active": "on",
        "sms__account_sid": "AC" + "1" * 32,
        "sms__from_number": "+15550002222",
        "sms__base_url": "http://127.0.0.1:9",
        "sms__secret__auth_token": "",
    }
    response = client.post(f"/admin/connectors/channelaccount/{account.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.name == "Support SMS"
    assert account.setting("from_number") == "+15550002222"
    assert account.secret("auth_token") == "twilio-auth-token"
    event = AuditEvent.objects.filter(action="connectors.channel_account.changed").get()
    assert event.data["secrets"] == []
    assert "name" in event.data["fields"]


def test_admin_requires_kind_settings(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/connectors/channelaccount/add/", {"kind": "whatsapp", "name": "wa"}
    )
    assert response.status_code == 200
    assert not ChannelAccount.objects.exists()


def test_rep_cannot_open_the_admin(client, rep):
    client.force_login(rep)
    assert client.get("/admin/connectors/channelaccount/").status_code in (302, 403)


def test_deploy_check_warns_without_channel_keys(settings):
    from connectors.checks import channel_keys_set

    settings.KEEPLINE_CHANNEL_KEYS = []
    assert [w.id for w in channel_keys_set(None)] == ["connectors.W001"]
    settings.KEEPLINE_CHANNEL_KEYS = [Fernet.generate_key().decode()]
    assert channel_keys_set(None) == []


def test_admin_page_of_an_account_whose_key_was_lost_says_so_and_takes_the_secrets_again(
    client, admin_user, settings
):
    settings.KEEPLINE_CHANNEL_KEYS = [Fernet.generate_key().decode()]
    account = make_channel_account("sms")
    settings.KEEPLINE_CHANNEL_KEYS = [Fernet.generate_key().decode()]  # replaced, not rotated
    client.force_login(admin_user)
    url = f"/admin/connectors/channelaccount/{account.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert "unreadable with the configured keys" in page.content.decode()
    form = {
        "kind": "sms",
        "name": account.name,
        "is_active": "on",
        "sms__account_sid": account.setting("account_sid"),
        "sms__from_number": account.setting("from_number"),
        "sms__base_url": account.setting("base_url"),
        "sms__secret__auth_token": "entered-again",
    }
    assert client.post(url, form).status_code == 302
    assert ChannelAccount.objects.get(pk=account.pk).secret("auth_token") == "entered-again"
