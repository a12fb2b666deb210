"""The provider clients' plain config objects, built from a channel account (secrets decrypted
here, in memory only)."""

from __future__ import annotations

from connectors.models import ChannelAccount
from connectors.providers.smtp import SmtpConfig
from connectors.providers.twilio import TwilioClient, TwilioConfig
from connectors.providers.whatsapp import WhatsAppClient, WhatsAppConfig


def whatsapp_config(account: ChannelAccount) -> WhatsAppConfig:
    return WhatsAppConfig(
        api_base_url=str(account.setting("api_base_url")),
        api_version=str(account.setting("api_version")),
        phone_number_id=str(account.setting("phone_number_id")),
        access_token=account.secret("access_token"),
    )


def twilio_config(account: ChannelAccount) -> TwilioConfig:
    return TwilioConfig(
        account_sid=str(account.setting("account_sid")),
        auth_token=account.secret("auth_token"),
        from_number=str(account.setting("from_number")),
        base_url=str(account.setting("base_url")),
    )


def smtp_config(account: ChannelAccount) -> SmtpConfig:
    return SmtpConfig(
        host=str(account.setting("smtp_host")),
        port=int(account.setting("smtp_port") or 587),
        username=str(account.setting("smtp_username")),
        password=account.secret("smtp_password"),
        use_tls=bool(account.setting("smtp_use_tls")),
        from_address=str(account.setting("from_address")),
    )


def whatsapp_client(account: ChannelAccount) -> WhatsAppClient:
    return WhatsAppClient(whatsapp_config(account))


def twilio_client(account: ChannelAccount) -> TwilioClient:
    return TwilioClient(twilio_config(account))
