"""Baseline settings: the Channels tutorial chat, no database.

The channel layer is `TUTORIAL_CHANNEL_LAYER` (JSON: {"BACKEND": ..., "CONFIG": {...}}) when set,
which the chat benchmark fills with Keepline's own layer and config (its own prefix); else the
tutorial's default RedisChannelLayer on REDIS_URL."""

import json
import os

SECRET_KEY = "bench-only"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
ASGI_APPLICATION = "bench.tutorial.asgi.application"
DATABASES: dict = {}
USE_TZ = True
_layer = os.environ.get("TUTORIAL_CHANNEL_LAYER")
CHANNEL_LAYERS = {
    "default": json.loads(_layer)
    if _layer
    else {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")]},
    }
}
