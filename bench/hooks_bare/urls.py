"""The baseline's one view: reads the body (as the webhook does) and answers 200."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def ok(request):
    request.body  # noqa: B018 (read it, like the real webhook)
    return HttpResponse(status=200)


urlpatterns = [path("hooks/whatsapp/", ok)]
