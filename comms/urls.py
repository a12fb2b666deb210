from django.urls import path

from comms import customer_views, quick_reply_views, views

app_name = "comms"
urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("conversations/new/", views.conversation_start, name="conversation-start"),
    path("conversations/internal/new/", views.internal_create, name="internal-create"),
    path("conversations/<int:pk>/", views.conversation_detail, name="conversation-detail"),
    path(
        "conversations/<int:pk>/action/",
        views.conversation_action,
        name="conversation-action",
    ),
    path("quick-replies/", quick_reply_views.quick_reply_list, name="quick-reply-list"),
    path("quick-replies/<int:pk>/", quick_reply_views.quick_reply_edit, name="quick-reply-edit"),
    path(
        "quick-replies/<int:pk>/delete/",
        quick_reply_views.quick_reply_delete,
        name="quick-reply-delete",
    ),
    path("c/<str:token>/", customer_views.customer_chat, name="customer-chat"),
    path("c/<str:token>/messages/", customer_views.customer_messages, name="customer-messages"),
    path(
        "c/<str:token>/attachments/<int:pk>/",
        customer_views.customer_attachment_download,
        name="customer-attachment",
    ),
    path(
        "c/<str:token>/attachments/",
        customer_views.customer_attachment_upload,
        name="customer-attachment-upload",
    ),
    path(
        "c/<str:token>/attachments/<int:pk>/thumbnail/",
        customer_views.customer_attachment_thumbnail,
        name="customer-attachment-thumbnail",
    ),
    path(
        "conversations/attachments/<int:pk>/thumbnail/",
        views.attachment_thumbnail,
        name="attachment-thumbnail",
    ),
    path(
        "conversations/messages/<int:pk>/versions/",
        views.message_versions,
        name="message-versions",
    ),
    path(
        "conversations/attachments/<int:pk>/download/",
        views.attachment_download,
        name="attachment-download",
    ),
]
