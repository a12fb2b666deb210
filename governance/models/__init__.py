"""Governance models, one module per area; each is imported here so Django finds it."""

from .search import *  # noqa: F401,F403
