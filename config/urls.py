from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated

from config import health, pwa

api_v1 = [
    path("", include("audit.api_urls")),
    path("", include("accounts.api_urls")),
    path("", include("crm.api_urls")),
    path("", include("comms.api_urls")),
    path("", include("connectors.api_urls")),
    path("", include("governance.api_urls")),
]

# Swagger UI under the site's CSP: the split view serves its start-up script as a file
# (/api/docs/?script=) instead of inline, templates/drf_spectacular/swagger_ui.html drops the
# inline <style>, and Swagger UI draws a few icons as data: images (its bundle and stylesheet).
# Signed-in only, like the schema (anonymous: the login page).
api_docs = csp_update({"img-src": ["data:"]})(
    login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))
)

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on every site (the admin's pages name no icon): not a 404.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}img/favicon.svg")),
    # The installable staff app (config/pwa.py): the worker at the root, so its scope is the site.
    path("manifest.webmanifest", pwa.manifest, name="pwa-manifest"),
    path("sw.js", pwa.service_worker, name="pwa-sw"),
    path("offline/", pwa.offline, name="pwa-offline"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(api_v1)),
    # The schema and its docs describe the API to its users, not to the world: signed-in only
    # (session or API token; anonymous: 401 for the schema, the login page for the docs).
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]),
        name="api-schema",
    ),
    path(
        "api/docs/",
        api_docs,
        name="api-docs",
    ),
    path("audit/", include("audit.urls")),
    path("compliance/", include("governance.urls")),
    # Provider webhooks (WhatsApp, Twilio, inbound email): signed, no session, no CSRF.
    path("", include("connectors.urls")),
    path("", include("crm.urls")),
    path("", include("comms.urls")),
    path("", include("accounts.urls")),
]

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
