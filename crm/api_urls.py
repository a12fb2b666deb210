"""REST API routes of crm, mounted under /api/v1/."""

urlpatterns: list = []
