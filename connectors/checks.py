from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def channel_keys_set(app_configs, **kwargs):
    if settings.KEEPLINE_CHANNEL_KEYS:
        return []
    return [
        checks.Warning(
            "KEEPLINE_CHANNEL_KEYS is not set: channel account secrets are encrypted with a key "
            "derived from SECRET_KEY (demo only; rotating SECRET_KEY would lose them).",
            hint="Set KEEPLINE_CHANNEL_KEYS to one or more Fernet keys (Fernet.generate_key()).",
            id="connectors.W001",
        )
    ]
