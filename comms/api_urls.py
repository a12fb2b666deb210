"""REST API routes of comms, mounted under /api/v1/."""

urlpatterns: list = []
