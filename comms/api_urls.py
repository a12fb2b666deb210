"""REST API routes of comms, mounted under /api/v1/."""

from django.urls import path

from comms import api
from config import ids  # noqa: F401  (registers <id:...>)

app_name = "comms_api"

urlpatterns = [
    path("conversations/", api.ConversationListApi.as_view(), name="conversation-list"),
    path("conversations/unread/", api.UnreadApi.as_view(), name="conversation-unread"),
    path("conversations/<id:pk>/", api.ConversationDetailApi.as_view(), name="conversation-detail"),
    path("conversations/<id:pk>/messages/", api.MessageListApi.as_view(), name="message-list"),
    path(
        "conversations/<id:pk>/messages/<id:mid>/",
        api.MessageDetailApi.as_view(),
        name="message-detail",
    ),
    path(
        "conversations/<id:pk>/messages/<id:mid>/retract/",
        api.MessageRetractApi.as_view(),
        name="message-retract",
    ),
    path(
        "conversations/<id:pk>/messages/<id:mid>/revisions/",
        api.MessageRevisionsApi.as_view(),
        name="message-revisions",
    ),
    path("conversations/<id:pk>/read/", api.ReadApi.as_view(), name="conversation-read"),
    path("conversations/<id:pk>/assign/", api.AssignApi.as_view(), name="conversation-assign"),
    path("conversations/<id:pk>/status/", api.StatusApi.as_view(), name="conversation-status"),
    path("conversations/<id:pk>/links/", api.LinkListApi.as_view(), name="link-list"),
    path(
        "conversations/<id:pk>/links/<id:lid>/revoke/",
        api.LinkRevokeApi.as_view(),
        name="link-revoke",
    ),
    path("conversations/<id:pk>/members/", api.MemberListApi.as_view(), name="member-list"),
    path(
        "conversations/<id:pk>/members/<id:uid>/",
        api.MemberDetailApi.as_view(),
        name="member-detail",
    ),
    path(
        "conversations/<id:pk>/attachments/",
        api.AttachmentUploadApi.as_view(),
        name="attachment-upload",
    ),
    path(
        "conversations/<id:pk>/quick-replies/",
        api.QuickReplyListApi.as_view(),
        name="quick-reply-list",
    ),
]
