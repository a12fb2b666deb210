from django.urls import path

from connectors import webhooks

app_name = "connectors"

urlpatterns = [
    path("hooks/whatsapp/", webhooks.whatsapp, name="webhook-whatsapp"),
    path("hooks/twilio/<int:account_id>/", webhooks.twilio, name="webhook-twilio"),
    path("hooks/email/<int:account_id>/", webhooks.email, name="webhook-email"),
]
