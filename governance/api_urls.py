"""REST API routes of the compliance console, mounted under /api/v1/."""

from django.urls import include, path

from config import ids  # noqa: F401  (registers <id:...>)
from governance import api, review_api
from governance.dsr import api as dsr_api

urlpatterns: list = [
    path("compliance/holds/", api.HoldListApi.as_view(), name="compliance-hold-list"),
    path(
        "compliance/holds/<id:pk>/release/",
        api.HoldReleaseApi.as_view(),
        name="compliance-hold-release",
    ),
    path("compliance/dsr/", dsr_api.DsrListApi.as_view(), name="compliance-dsr-list"),
    path("compliance/dsr/<id:pk>/", dsr_api.DsrDetailApi.as_view(), name="compliance-dsr-detail"),
    path(
        "compliance/dsr/<id:pk>/export/",
        dsr_api.DsrExportApi.as_view(),
        name="compliance-dsr-export",
    ),
    path(
        "compliance/dsr/<id:pk>/erase/", dsr_api.DsrEraseApi.as_view(), name="compliance-dsr-erase"
    ),
    path(
        "compliance/dsr/<id:pk>/restrict/",
        dsr_api.DsrRestrictApi.as_view(),
        name="compliance-dsr-restrict",
    ),
    path(
        "compliance/dsr/<id:pk>/refuse/",
        dsr_api.DsrRefuseApi.as_view(),
        name="compliance-dsr-refuse",
    ),
    path("compliance/review/", review_api.ReviewListApi.as_view(), name="compliance-review-list"),
    path(
        "compliance/review/<int:pk>/",
        review_api.ReviewDetailApi.as_view(),
        name="compliance-review-detail",
    ),
    path(
        "compliance/review/<int:pk>/decision/",
        review_api.ReviewDecisionApi.as_view(),
        name="compliance-review-decision",
    ),
    path("", include("governance.search_api_urls")),
]
