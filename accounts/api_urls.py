"""REST API routes of accounts, mounted under /api/v1/."""

from django.urls import path

from accounts import api
from config import ids  # noqa: F401  (registers <id:...>)

app_name = "accounts_api"

urlpatterns = [
    path("people/", api.PeopleSearchApi.as_view(), name="people-search"),
    path("users/<id:pk>/offboard/", api.UserOffboardApi.as_view(), name="user-offboard"),
]
