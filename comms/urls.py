from django.urls import path

from comms import views

app_name = "comms"
urlpatterns = [
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
