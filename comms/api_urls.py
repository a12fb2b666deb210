"""REST API routes of comms, mounted under /api/v1/."""

from django.urls import path

from comms import api

app_name = "comms_api"

urlpatterns = [
    path("conversations/", api.ConversationListApi.as_view(), name="conversation-list"),
    path("conversations/unread/", api.UnreadApi.as_view(), name="conversation-unread"),
    path(
        "conversations/<int:pk>/", api.ConversationDetailApi.as_view(), name="conversation-detail"
    ),
    path("conversations/<int:pk>/messages/", api.MessageListApi.as_view(), name="message-list"),
    path(
        "conversations/<int:pk>/messages/<int:mid>/",
        api.MessageDetailApi.as_view(),
        name="message-detail",
    ),
    path(
        "conversations/<int:pk>/messages/<int:mid>/retract/",
        api.MessageRetractApi.as_view(),
        name="message-retract",
    ),
    path(
        "conversations/<int:pk>/messages/<int:mid>/revisions/",
        api.MessageRevisionsApi.as_view(),
        name="message-revisions",
    ),
    path("conversations/<int:pk>/read/", api.ReadApi.as_view(), name="conversation-read"),
    path("conversations/<int:pk>/assign/", api.AssignApi.as_view(), name="conversation-assign"),
    path("conversations/<int:pk>/status/", api.StatusApi.as_view(), name="conversation-status"),
    path("conversations/<int:pk>/links/", api.LinkListApi.as_view(), name="link-list"),
    path(
        "conversations/<int:pk>/links/<int:lid>/revoke/",
        api.LinkRevokeApi.as_view(),
        name="link-revoke",
    ),
    path("conversations/<int:pk>/members/", api.MemberListApi.as_view(), name="member-list"),
    path(
        "conversations/<int:pk>/members/<int:uid>/",
        api.MemberDetailApi.as_view(),
        name="member-detail",
    ),
    path(
        "conversations/<int:pk>/attachments/",
        api.AttachmentUploadApi.as_view(),
        name="attachment-upload",
    ),
]
