"""Baseline settings: the Channels tutorial chat on the default RedisChannelLayer, no database."""

import os

SECRET_KEY = "bench-only"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
ASGI_APPLICATION = "bench.tutorial.asgi.application"
DATABASES: dict = {}
USE_TZ = True
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")]},
    }
}
