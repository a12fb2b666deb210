"""Baseline settings for bench/user_mix.py: stock Django + Channels, no Keepline code.

Same PostgreSQL database (psycopg pool, like Keepline's), the same Redis pub/sub channel layer
(its own prefix), database-backed sessions read with Keepline's SECRET_KEY (so the same session
cookies sign in), DEBUG off."""

import os

import dj_database_url

SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.sessions", "channels", "bench.usermix_bare"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "bench.usermix_bare.asgi"
ASGI_APPLICATION = "bench.usermix_bare.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
_db = dj_database_url.parse(os.environ["DATABASE_URL"])
_db["CONN_MAX_AGE"] = 0
_db["OPTIONS"] = {"pool": {"min_size": 1, "max_size": 8}}
DATABASES = {"default": _db}
USE_TZ = True
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "prefix": "usermixbare"},
    }
}
