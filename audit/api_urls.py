"""REST API routes of audit, mounted under /api/v1/."""

urlpatterns: list = []
