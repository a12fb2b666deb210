"""REST API routes of audit, mounted under /api/v1/."""

from django.urls import path

from audit import api

urlpatterns = [
    path("audit/events/", api.AuditEventListApi.as_view(), name="audit-event-list"),
    path("audit/events/<int:seq>/", api.AuditEventDetailApi.as_view(), name="audit-event-detail"),
]
