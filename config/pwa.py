"""The installable staff app: its web app manifest, its service worker and the offline page.

The service worker (static/js/sw.js) is served from the site root (/sw.js) so its scope is the
whole app; this view prepends its configuration: the cache version and the app shell's URLs
(as `{% static %}` names them, hashed in production). The version is derived from the shell
files' contents and the worker's own, so a deploy that changes any of them installs a new
worker whose caches replace the old ones (settings.PWA_CACHE_VERSION overrides it).

Both are covered by the site's Content-Security-Policy as it is: `default-src 'self'` is the
fallback of `worker-src` and `manifest-src`, and the worker's own fetches are `connect-src
'self'`.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

THEME_COLOUR = "#0b6e4f"
WORKER = "js/sw.js"
# What the installed app needs to open without the network: the offline page is added by URL.
SHELL = (
    "css/keepline.css",
    "js/keepline.js",
    "js/outbox.js",
    "js/pwa.js",
    "js/chat.js",
    "img/favicon.svg",
    "img/app-icon.svg",
    "img/app-icon-192.png",
    "img/app-icon-512.png",
)


def _read(name: str) -> bytes:
    path = finders.find(name)
    if path:
        with open(path, "rb") as handle:
            return handle.read()
    with staticfiles_storage.open(name) as handle:
        return handle.read()


@lru_cache(maxsize=1)
def cache_version() -> str:
    if settings.PWA_CACHE_VERSION:
        return settings.PWA_CACHE_VERSION
    digest = hashlib.sha256()
    for name in (*SHELL, WORKER):
        try:
            digest.update(name.encode() + b"\0" + _read(name))
        except (FileNotFoundError, ValueError):
            digest.update(name.encode() + b"\0missing")
    return digest.hexdigest()[:16]


@require_GET
def manifest(request):
    data = {
        "id": "/",
        "name": "Keepline",
        "short_name": "Keepline",
        "description": _("Your customers' conversations and deals."),
        "lang": getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": "#ffffff",
        "icons": [
            {"src": static("img/app-icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("img/app-icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("img/app-icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": static("img/app-icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    response = JsonResponse(data, content_type="application/manifest+json")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@never_cache
@require_GET
def service_worker(request):
    config = {
        "version": cache_version(),
        "shell": [static(name) for name in SHELL],
        "offline": reverse("pwa-offline"),
        "outbox": static("js/outbox.js"),
        "static": settings.STATIC_URL
        if settings.STATIC_URL.startswith("/")
        else "/" + settings.STATIC_URL,
        # Customers' pages are not the staff app: the worker leaves their navigations alone.
        "passthrough": ["/c/", "/admin/", "/api/", "/ws/", "/i18n/", "/login/", "/logout/"],
    }
    body = "self.KEEPLINE_SW = " + json.dumps(config) + ";\n" + _read(WORKER).decode()
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
def offline(request):
    """The app shell shown when a page cannot be reached: the same for everyone (it is cached),
    so it names no person and holds no form."""
    response = render(request, "pwa/offline.html")
    response["Cache-Control"] = "no-cache"
    return response
