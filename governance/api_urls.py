from django.urls import path

from governance import api

urlpatterns: list = [
    path("compliance/review/", api.ReviewListApi.as_view(), name="compliance-review-list"),
    path(
        "compliance/review/<int:pk>/",
        api.ReviewDetailApi.as_view(),
        name="compliance-review-detail",
    ),
    path(
        "compliance/review/<int:pk>/decision/",
        api.ReviewDecisionApi.as_view(),
        name="compliance-review-decision",
    ),
]
