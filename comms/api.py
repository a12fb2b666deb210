"""REST API of conversations (protocol: docs/realtime.md), under /api/v1/.

Same policy (comms.permissions via the selectors), same services and the same <message> dicts as
the sockets; errors answer {"error": <code>, "detail": <translated text>} with the socket's codes.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors as account_selectors
from accounts import working_hours
from comms import api_schema as schema
from comms import errors, permissions, presenters, selectors, services
from comms.models import Conversation
from crm import selectors as crm_selectors


class InboxPagination(CursorPagination):
    ordering = ("-last_message_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class CommsApi(APIView):
    """Refusals answer through config.errors.api_exception_handler, as in every API."""

    def conversation(self, pk) -> Conversation:
        return selectors.conversation_get_for(self.request.user, pk)

    def audience(self) -> str:
        return permissions.audience_for(self.request.user)

    def message_out(self, message) -> dict:
        return presenters.message_dict(message, self.audience())


def _field(data, name, default=None):
    try:
        return data.get(name, default)
    except AttributeError:
        raise errors.Invalid(_("Send a JSON object.")) from None


FORM_TRUE = {"1", "true", "on", "yes"}
FORM_FALSE = {"", "0", "false", "off", "no"}


def _flag(data, name: str) -> bool:
    """A JSON boolean, or its form-data spelling ("true", "on", "1"...): anything else is a 400."""
    value = _field(data, name, False)
    if isinstance(value, str) and value.strip().lower() in FORM_TRUE | FORM_FALSE:
        return value.strip().lower() in FORM_TRUE
    if not isinstance(value, bool):
        raise errors.Invalid(_("%(field)s must be true or false.") % {"field": name})
    return value


def sent(result, user, audience: str) -> dict:
    """A send's answer: the <message>, and `delivery` when a colleague's notification waits for
    their working hours or the message is urgent (times in the sender's time zone)."""
    data = presenters.narrow(result.data, audience)
    if result.tells_delivery:
        data = {**data, "delivery": result.delivery(working_hours.zone_of(user))}
    return data


def _query_id(params, name: str) -> int | None:
    """An optional id in the query string; out of range or not a number is a 400, never a 500."""
    raw = params.get(name)
    return None if raw in (None, "") else services.clean_id(raw, name)


class ConversationListApi(CommsApi):
    @schema.doc(
        response=schema.ConversationPageSerializer,
        params=schema.INBOX_PARAMS,
        op="conversations_list",
    )
    def get(self, request):
        for name in ("deal", "contact"):
            _query_id(request.query_params, name)  # a 400 before the selector reads it
        qs = selectors.conversation_list_for(request.user, request.query_params)
        paginator = InboxPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([presenters.conversation_dict(c) for c in page])

    @schema.doc(
        request=schema.ConversationCreateSerializer,
        response=schema.ConversationSerializer,
        status=201,
        op="conversations_create",
    )
    def post(self, request):
        data = request.data
        kind = _field(data, "kind", Conversation.Kind.WEB)
        subject = _field(data, "subject", "") or ""
        if not isinstance(subject, str):
            raise errors.Invalid(_("subject must be text."))
        if kind == Conversation.Kind.INTERNAL:
            member_ids = _field(data, "members", []) or []
            if not isinstance(member_ids, list):
                raise errors.Invalid(_("members must be a list of user ids."))
            ids = [services.clean_id(m, "members") for m in member_ids]
            members = list(account_selectors.active_user_list().filter(pk__in=ids))
            conversation = services.internal_conversation_create(
                actor=request.user, subject=subject, members=members, request=request
            )
        else:
            contact = crm_selectors.contact_get_for(
                request.user, services.clean_id(_field(data, "contact"), "contact")
            )
            deal_id = _field(data, "deal")
            deal = (
                crm_selectors.deal_get_for(request.user, services.clean_id(deal_id, "deal"))
                if deal_id not in (None, "")
                else None
            )
            conversation = services.conversation_start(
                actor=request.user,
                contact=contact,
                deal=deal,
                kind=kind,
                subject=subject,
                request=request,
            )
        conversation = self.conversation(conversation.pk)
        return Response(presenters.conversation_dict(conversation, unread=0), status=201)


class UnreadApi(CommsApi):
    """What is unread in the conversations the caller holds (selectors.unread_for): the
    navigation badge's count and what a browser notification shows."""

    @schema.doc(response=schema.UnreadSerializer, op="conversations_unread")
    def get(self, request):
        unread = selectors.unread_for(request.user)
        return Response(presenters.unread_dict(unread))


def conversation_detail(user, conversation) -> dict:
    data = presenters.conversation_dict(
        conversation,
        unread=selectors.unread_counts_for(user, [conversation.pk]).get(conversation.pk, 0),
    )
    data["participants"] = [
        presenters.participant_dict(p) for p in selectors.participants_of(conversation)
    ]
    data["permissions"] = {
        "send": permissions.can_send(user, conversation),
        "assign": permissions.can_assign(user, conversation),
        "set_status": permissions.can_set_status(user, conversation),
        "manage_members": permissions.can_manage_members(user, conversation),
        "issue_link": permissions.can_issue_link(user, conversation),
        "sees_originals": permissions.sees_everything(user),
    }
    return data


class ConversationDetailApi(CommsApi):
    @schema.doc(response=schema.ConversationDetailSerializer, op="conversations_retrieve")
    def get(self, request, pk):
        return Response(conversation_detail(request.user, self.conversation(pk)))


class MessageListApi(CommsApi):
    @schema.doc(
        response=schema.MessagePageSerializer, params=schema.PAGE_PARAMS, op="messages_list"
    )
    def get(self, request, pk):
        conversation = self.conversation(pk)
        params = request.query_params
        page = selectors.message_page_for(
            request.user,
            conversation,
            after=_query_id(params, "after"),
            before=_query_id(params, "before"),
            limit=_query_id(params, "limit"),
            since=_query_id(params, "since"),
        )
        audience = self.audience()
        return Response(
            {
                "results": [presenters.message_dict(m, audience) for m in page],
                "has_more": page.has_more,
                "seq": page.seq,
            }
        )

    @schema.doc(
        request=schema.SendSerializer,
        response=schema.SentMessageSerializer,
        status=201,
        extra={200: schema.SentMessageSerializer},
        op="messages_send",
    )
    def post(self, request, pk):
        conversation = self.conversation(pk)
        note = _flag(request.data, "note")
        urgent = _flag(request.data, "urgent")
        result = services.message_send(
            author=request.user,
            conversation=conversation,
            body=_field(request.data, "body"),
            client_id=_field(request.data, "client_id"),
            note=note,
            confirm_dlp=_flag(request.data, "confirm_dlp"),
            urgent=urgent,
            request=request,
        )
        return Response(
            sent(result, request.user, self.audience()),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class MessageDetailApi(CommsApi):
    @schema.doc(
        request=schema.EditSerializer,
        response=schema.MessageSerializer,
        extra={409: schema.ErrorSerializer},
        op="messages_edit",
    )
    def patch(self, request, pk, mid):
        conversation = self.conversation(pk)
        message = services.message_edit(
            editor=request.user,
            conversation=conversation,
            message_id=mid,
            body=_field(request.data, "body"),
            confirm_dlp=_flag(request.data, "confirm_dlp"),
            request=request,
        )
        return Response(self.message_out(message))


class MessageRetractApi(CommsApi):
    @schema.doc(
        request=None,
        response=schema.MessageSerializer,
        extra={409: schema.ErrorSerializer},
        op="messages_retract",
    )
    def post(self, request, pk, mid):
        conversation = self.conversation(pk)
        message = services.message_retract(
            actor=request.user, conversation=conversation, message_id=mid, request=request
        )
        return Response(self.message_out(message))


class MessageRevisionsApi(CommsApi):
    @schema.doc(response=schema.RevisionPageSerializer, op="messages_revisions")
    def get(self, request, pk, mid):
        conversation = self.conversation(pk)
        revisions = selectors.message_revisions_for(request.user, conversation, mid)
        return Response({"results": [presenters.revision_dict(r) for r in revisions]})


class ReadApi(CommsApi):
    @schema.doc(
        request=schema.ReadSerializer, response=schema.ReadSerializer, op="conversations_read"
    )
    def post(self, request, pk):
        conversation = self.conversation(pk)
        message_id = services.conversation_mark_read(
            user=request.user,
            conversation=conversation,
            message_id=_field(request.data, "message_id"),
        )
        return Response({"message_id": message_id})


class AssignApi(CommsApi):
    @schema.doc(
        request=schema.AssignSerializer,
        response=schema.ConversationDetailSerializer,
        op="conversations_assign",
    )
    def post(self, request, pk):
        conversation = self.conversation(pk)
        raw = _field(request.data, "assignee")
        assignee = None
        if raw not in (None, ""):
            assignee = account_selectors.user_get(services.clean_id(raw, "assignee"))
            if assignee is None:
                raise errors.Invalid(_("Unknown person."))
        services.conversation_assign(
            actor=request.user, conversation=conversation, assignee=assignee, request=request
        )
        return Response(conversation_detail(request.user, self.conversation(pk)))


class StatusApi(CommsApi):
    @schema.doc(
        request=schema.StatusSerializer,
        response=schema.ConversationDetailSerializer,
        op="conversations_status",
    )
    def post(self, request, pk):
        conversation = self.conversation(pk)
        services.conversation_set_status(
            actor=request.user,
            conversation=conversation,
            status=_field(request.data, "status"),
            request=request,
        )
        return Response(conversation_detail(request.user, self.conversation(pk)))


class LinkListApi(CommsApi):
    @schema.doc(response=schema.LinkPageSerializer, op="links_list")
    def get(self, request, pk):
        conversation = self.conversation(pk)
        if not permissions.can_issue_link(request.user, conversation):
            raise errors.Forbidden()
        links = selectors.customer_links_of(conversation)
        return Response({"results": [presenters.link_dict(link) for link in links]})

    @schema.doc(request=None, response=schema.LinkSerializer, status=201, op="links_issue")
    def post(self, request, pk):
        conversation = self.conversation(pk)
        link, token = services.customer_link_issue(
            actor=request.user, conversation=conversation, request=request
        )
        url = request.build_absolute_uri(reverse("comms:customer-chat", args=[token]))
        data = presenters.link_dict(link, url=url)
        data["token"] = token
        return Response(data, status=201)


class LinkRevokeApi(CommsApi):
    @schema.doc(request=None, response=schema.LinkSerializer, op="links_revoke")
    def post(self, request, pk, lid):
        conversation = self.conversation(pk)
        link = selectors.customer_link_get(conversation, lid)
        link = services.customer_link_revoke(actor=request.user, link=link, request=request)
        return Response(presenters.link_dict(link))


class MemberListApi(CommsApi):
    @schema.doc(response=schema.ParticipantPageSerializer, op="members_list")
    def get(self, request, pk):
        conversation = self.conversation(pk)
        return Response(
            {
                "results": [
                    presenters.participant_dict(p) for p in selectors.participants_of(conversation)
                ]
            }
        )

    @schema.doc(
        request=schema.MemberSerializer, response=schema.ParticipantPageSerializer, op="members_add"
    )
    def post(self, request, pk):
        conversation = self.conversation(pk)
        user = account_selectors.user_get(services.clean_id(_field(request.data, "user"), "user"))
        if user is None:
            raise errors.Invalid(_("Unknown person."))
        services.member_add(
            actor=request.user, conversation=conversation, user=user, request=request
        )
        return self.get(request, pk)


class MemberDetailApi(CommsApi):
    @schema.doc(response=None, status=204, op="members_remove")
    def delete(self, request, pk, uid):
        conversation = self.conversation(pk)
        user = account_selectors.user_get(uid)
        if user is None:
            raise errors.NotFound()
        services.member_remove(
            actor=request.user, conversation=conversation, user=user, request=request
        )
        return Response(status=204)


class AttachmentUploadApi(CommsApi):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @schema.doc(
        request={"multipart/form-data": schema.UploadSerializer},
        response=schema.SentMessageSerializer,
        status=201,
        extra={413: schema.ErrorSerializer, 415: schema.ErrorSerializer},
        op="attachments_upload",
    )
    def post(self, request, pk):
        conversation = self.conversation(pk)
        limit = settings.COMMS_ATTACHMENT_MAX_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit + 64 * 1024:
            # Refuse before reading the body.
            raise errors.FileTooLarge()
        upload = request.FILES.get("file")
        if upload is None:
            raise errors.Invalid(_("Choose a file to send."))
        note = _flag(request.data, "note")
        urgent = _flag(request.data, "urgent")
        result = services.attachment_upload(
            actor=request.user,
            conversation=conversation,
            upload=upload,
            body=request.data.get("body", "") or "",
            note=note,
            urgent=urgent,
            client_id=request.data.get("client_id") or None,
            confirm_dlp=_flag(request.data, "confirm_dlp"),
            request=request,
        )
        return Response(
            sent(result, request.user, self.audience()),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class QuickReplyListApi(CommsApi):
    @schema.doc(response=schema.QuickReplyPageSerializer, op="quick_replies_list")
    def get(self, request, pk):
        return Response({"results": selectors.quick_replies_for_conversation(request.user, pk)})
