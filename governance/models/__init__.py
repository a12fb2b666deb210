"""Governance models, one module per area; each is imported here so Django finds it."""

from .dlp import *  # noqa: F401,F403
from .dsr import *  # noqa: F401,F403
from .holds import *  # noqa: F401,F403
from .retention import *  # noqa: F401,F403
from .review import *  # noqa: F401,F403
from .search import *  # noqa: F401,F403
