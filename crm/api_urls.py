"""REST API routes of crm, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from config import ids  # noqa: F401  (registers <id:...>)
from crm import api

# Path converters, so a record id is an <id:pk> (beyond 64 bits: a 404, not a 500).
router = SimpleRouter(use_regex_path=False)
router.register("companies", api.CompanyViewSet, basename="company")
router.register("contacts", api.ContactViewSet, basename="contact")
router.register("deals", api.DealViewSet, basename="deal")
router.register("activities", api.ActivityViewSet, basename="activity")
router.register("pipelines", api.PipelineViewSet, basename="pipeline")

urlpatterns = router.urls
