from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated

from config import health

api_v1 = [
    path("", include("audit.api_urls")),
    path("", include("crm.api_urls")),
    path("", include("comms.api_urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
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
        login_required(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("audit/", include("audit.urls")),
    path("", include("crm.urls")),
    path("", include("comms.urls")),
    path("", include("accounts.urls")),
]

handler404 = "config.errors.not_found"
