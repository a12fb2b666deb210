"""REST API routes of the compliance console, mounted under /api/v1/."""

from django.urls import path

from config import ids  # noqa: F401  (registers <id:...>)
from governance import api

urlpatterns: list = [
    path("compliance/holds/", api.HoldListApi.as_view(), name="compliance-hold-list"),
    path(
        "compliance/holds/<id:pk>/release/",
        api.HoldReleaseApi.as_view(),
        name="compliance-hold-release",
    ),
]
