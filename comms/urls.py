from django.urls import path

from comms import staff_views, views

app_name = "comms"
urlpatterns = [
    path("inbox/", staff_views.inbox, name="inbox"),
    path("conversations/new/", staff_views.conversation_start, name="conversation-start"),
    path("conversations/internal/new/", staff_views.internal_create, name="internal-create"),
    path("conversations/<int:pk>/", staff_views.conversation_detail, name="conversation-detail"),
    path(
        "conversations/<int:pk>/action/",
        staff_views.conversation_action,
        name="conversation-action",
    ),
    path("c/<str:token>/", views.customer_chat, name="customer-chat"),
    path("c/<str:token>/messages/", views.customer_messages, name="customer-messages"),
    path(
        "c/<str:token>/attachments/<int:pk>/",
        views.customer_attachment_download,
        name="customer-attachment",
    ),
    path(
        "conversations/attachments/<int:pk>/download/",
        views.attachment_download,
        name="attachment-download",
    ),
]
