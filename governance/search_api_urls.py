"""Search and export API routes, namespaced governance_api (mounted under /api/v1/)."""

from django.urls import path

from config import ids  # noqa: F401  (registers <id:...>)
from governance import search_api

app_name = "governance_api"

urlpatterns: list = [
    path("compliance/search/", search_api.SearchApi.as_view(), name="search"),
    path("compliance/exports/", search_api.ExportListApi.as_view(), name="export-list"),
    path("compliance/exports/<id:pk>/", search_api.ExportDetailApi.as_view(), name="export-detail"),
]
