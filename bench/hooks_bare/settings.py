"""Keepline's settings with one URLconf swapped: the baseline of bench/inbound_webhooks.py, a
Django view that only answers 200, behind the same middleware, on the same daphne processes."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.hooks_bare.urls"
