from django.urls import path

from config import ids  # noqa: F401  (registers <id:...>)
from connectors import api

app_name = "connectors_api"

urlpatterns = [
    path(
        "conversations/<id:pk>/templates/",
        api.ConversationTemplatesApi.as_view(),
        name="conversation-templates",
    ),
]
