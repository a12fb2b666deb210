"""The test suite's settings: production's (config/settings.py), with one change.

Password hashing is made cheap. Django's PBKDF2 costs about 0.35 s a password on a machine like
CI's, and the suite creates and signs in thousands of people, so it spent much of its time
hashing. MD5 is listed first (new test passwords use it) and Django's default hashers after it, so
a hash made either way still verifies. pytest-django exports DJANGO_SETTINGS_MODULE, so the daphne
processes the browser and socket tests start use this module too. Nothing outside tests/ uses it.
"""

from django.conf import global_settings

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    *global_settings.PASSWORD_HASHERS,
]
