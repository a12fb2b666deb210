"""REST API routes of audit, mounted under /api/v1/."""

from django.urls import path

from audit import api
from config import ids  # noqa: F401  (registers <id:...>)

urlpatterns = [
    path("audit/events/", api.AuditEventListApi.as_view(), name="audit-event-list"),
    path("audit/events/<id:seq>/", api.AuditEventDetailApi.as_view(), name="audit-event-detail"),
]
