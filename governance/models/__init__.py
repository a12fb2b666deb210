"""Governance models, one module per area; each is imported here so Django finds it."""

from .dlp import *  # noqa: F401,F403
from .review import *  # noqa: F401,F403
