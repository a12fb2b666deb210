"""REST API routes of crm, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from crm import api

router = SimpleRouter()
router.register("companies", api.CompanyViewSet, basename="company")
router.register("contacts", api.ContactViewSet, basename="contact")
router.register("deals", api.DealViewSet, basename="deal")
router.register("activities", api.ActivityViewSet, basename="activity")
router.register("pipelines", api.PipelineViewSet, basename="pipeline")

urlpatterns = router.urls
