"""HTTP through Django (but /healthz, answered in front of it); WebSockets through Channels,
checked for Origin and session first."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.http import get_http_application  # noqa: E402

# Django's ASGI handler with its middleware run in one hop per request (config/http.py).
django_asgi_app = get_http_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config import health, ws_limits  # noqa: E402, F401 (ws_limits: daphne's socket limits)
from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # A load balancer's GET /healthz is answered before Django's middleware stack.
        "http": health.fast_path(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
