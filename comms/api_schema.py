"""OpenAPI descriptions of the conversations API (documentation only: the views build their
answers with comms.presenters, the same dicts the sockets send)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from comms.models import Conversation


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="Protocol error code, e.g. too_long, forbidden.")
    detail = serializers.CharField(help_text="Translated explanation.")


class ActorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["user", "contact", "system"])
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(required=False)
    title = serializers.CharField(required=False)


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    sha256 = serializers.CharField(required=False)
    url = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    seq = serializers.IntegerField(
        help_text="The conversation's change number of this message's latest change."
    )
    client_id = serializers.UUIDField(allow_null=True)
    author = ActorSerializer()
    direction = serializers.ChoiceField(choices=["outbound", "inbound", "note", "system"])
    body = serializers.CharField(allow_null=True, help_text="Null once retracted.")
    body_html = serializers.CharField(help_text="Escaped, autolinked, sanitised HTML.")
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    retracted = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["queued", "sent", "delivered", "read", "failed"])
    attachments = AttachmentSerializer(many=True)
    original_body = serializers.CharField(
        required=False, allow_null=True, help_text="Admin and compliance only."
    )
    retracted_at = serializers.DateTimeField(required=False, allow_null=True)
    redacted_for_customer = serializers.BooleanField(
        required=False, help_text="Staff only: the customer got a redacted copy of the text."
    )
    customer_body = serializers.CharField(
        required=False, allow_null=True, help_text="Staff only: the redacted copy."
    )
    urgent = serializers.BooleanField(
        required=False, help_text="Present (true) when the sender marked it urgent; staff only."
    )


class HeldSerializer(ActorSerializer):
    deliver_at = serializers.DateTimeField()


class DeliverySerializer(serializers.Serializer):
    urgent = serializers.BooleanField()
    deliver_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the last colleague outside their working hours is notified, in the"
        " sender's time zone; null when everyone is notified now.",
    )
    held = HeldSerializer(many=True, help_text="Colleagues whose notification waits, and until.")


class SentMessageSerializer(MessageSerializer):
    delivery = DeliverySerializer(
        required=False, help_text="A new message: when its notifications reach colleagues."
    )


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    has_more = serializers.BooleanField()
    seq = serializers.IntegerField(
        help_text="The conversation's change number when the page was read: every change up"
        " to it is in this page or came before it."
    )


class RevisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    body = serializers.CharField()
    editor = ActorSerializer()
    edited_at = serializers.DateTimeField()


class RevisionPageSerializer(serializers.Serializer):
    results = RevisionSerializer(many=True)


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Conversation.Kind.choices)
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    subject = serializers.CharField()
    contact = RefSerializer(allow_null=True)
    deal = RefSerializer(allow_null=True)
    company = RefSerializer(allow_null=True)
    assignee = ActorSerializer(allow_null=True)
    covering_for = RefSerializer(
        allow_null=True,
        help_text="Out-of-office cover: the person the assignee is covering for, or null.",
    )
    team = RefSerializer(allow_null=True)
    last_message_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    unread = serializers.IntegerField(required=False)
    last_message = serializers.CharField(required=False, allow_null=True)


class ConversationPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null.")
    results = ConversationSerializer(many=True)


class ParticipantSerializer(serializers.Serializer):
    actor = ActorSerializer()
    role = serializers.CharField()
    joined_at = serializers.DateTimeField()
    left_at = serializers.DateTimeField(allow_null=True)
    last_read_message_id = serializers.IntegerField(allow_null=True)


class ParticipantPageSerializer(serializers.Serializer):
    results = ParticipantSerializer(many=True)


class ConversationPermissionsSerializer(serializers.Serializer):
    send = serializers.BooleanField()
    assign = serializers.BooleanField()
    set_status = serializers.BooleanField()
    manage_members = serializers.BooleanField()
    issue_link = serializers.BooleanField()
    sees_originals = serializers.BooleanField()


class ConversationDetailSerializer(ConversationSerializer):
    participants = ParticipantSerializer(many=True)
    permissions = ConversationPermissionsSerializer()


class ConversationCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=Conversation.Kind.choices,
        default="web",
        help_text=(
            "whatsapp, sms and email only while an active channel account of that kind is "
            "configured (else 400)."
        ),
    )
    contact = serializers.IntegerField(required=False, help_text="Required unless internal.")
    deal = serializers.IntegerField(required=False, allow_null=True)
    subject = serializers.CharField(required=False, allow_blank=True)
    members = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Internal only: user ids."
    )


class UnreadRecentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    unread = serializers.IntegerField()
    message_id = serializers.IntegerField(allow_null=True)
    preview = serializers.CharField(allow_blank=True)
    has_files = serializers.BooleanField()
    url = serializers.CharField()


class UnreadSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Unread messages in the conversations you hold.")
    conversations = serializers.DictField(child=serializers.IntegerField())
    recent = UnreadRecentSerializer(
        many=True, help_text="The newest of them (up to 10), each with its latest unread message."
    )


class SendSerializer(serializers.Serializer):
    client_id = serializers.UUIDField(help_text="Idempotency key: a repeat returns the same id.")
    body = serializers.CharField(max_length=10_000)
    note = serializers.BooleanField(default=False, help_text="Internal note, never to customers.")
    confirm_dlp = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Send anyway past a data-loss prevention warning (error dlp_warning).",
    )
    urgent = serializers.BooleanField(
        default=False,
        help_text="Notify colleagues now even outside their working hours (audited).",
    )


class EditSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)
    confirm_dlp = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Send anyway past a data-loss prevention warning (error dlp_warning).",
    )


class ReadSerializer(serializers.Serializer):
    message_id = serializers.IntegerField()


class AssignSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(allow_null=True, help_text="Null: unassigned.")


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices)


class MemberSerializer(serializers.Serializer):
    user = serializers.IntegerField()


class LinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    contact_id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(required=False, help_text="Only when issued.")
    token = serializers.CharField(required=False, help_text="Only when issued; never stored.")


class LinkPageSerializer(serializers.Serializer):
    results = LinkSerializer(many=True)


class QuickReplySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(help_text="The shortcut typed after `/` in the composer.")
    body = serializers.CharField(help_text="The text, variables filled in for this conversation.")
    team = serializers.CharField(allow_null=True, help_text="The team's name; null: your own.")


class QuickReplyPageSerializer(serializers.Serializer):
    results = QuickReplySerializer(many=True)


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    body = serializers.CharField(required=False, allow_blank=True)
    note = serializers.BooleanField(required=False)
    urgent = serializers.BooleanField(required=False)
    client_id = serializers.UUIDField(required=False)
    confirm_dlp = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Send anyway past a data-loss prevention warning (error dlp_warning).",
    )


ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
TAG = ["conversations"]


def doc(*, request=None, response=None, status=200, params=None, extra=None, op=None):
    """extend_schema with the shared error answers of every conversations endpoint."""
    responses = {status: response, **ERRORS, **(extra or {})}
    return extend_schema(
        request=request, responses=responses, parameters=params, tags=TAG, operation_id=op
    )


# Ids as services.clean_id takes them: anything else is a 400 with a message.
ID = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**62}

PAGE_PARAMS = [
    OpenApiParameter(
        "since",
        ID,
        description="Every message changed after this change number (new, edited, retracted),"
        " in change order (gap-free catch-up; page until has_more is false).",
    ),
    OpenApiParameter("after", ID, description="Oldest first, after this id (catch-up)."),
    OpenApiParameter("before", ID, description="Newest first, before this id (scroll back)."),
    OpenApiParameter("limit", ID, description="Page size, clamped to 1-200; default 50."),
]
INBOX_PARAMS = [
    OpenApiParameter(
        "mine",
        bool,
        description="Only the conversations you hold: assigned to you, or internal ones you are"
        " in.",
    ),
    OpenApiParameter("team", bool),
    OpenApiParameter("unassigned", bool),
    OpenApiParameter("status", str, enum=Conversation.Status.values),
    OpenApiParameter("kind", str, enum=Conversation.Kind.values),
    OpenApiParameter("deal", ID),
    OpenApiParameter("contact", ID),
    OpenApiParameter("cursor", str, description="From the `next` or `previous` link."),
    OpenApiParameter("limit", int, description="Page size, 1-200; default 50."),
]
