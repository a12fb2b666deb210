"""REST API of outbound channel templates, under /api/v1/ (next to comms' conversations API).

GET  /api/v1/conversations/<id>/templates/  the WhatsApp window and the approved templates of the
                                            conversation's sending account
POST /api/v1/conversations/<id>/templates/  {"template": id, "variables": [...], "client_id"}
                                            sends one (connectors.outbound.template_send)
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from comms import api_schema as comms_schema
from comms import errors, presenters
from comms.api import CommsApi, _field
from comms.services.inputs import clean_id
from connectors import outbound
from connectors.models import MessageTemplate


class TemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    language = serializers.CharField()
    body = serializers.CharField()
    variables = serializers.IntegerField(help_text="How many {{n}} variables the body has.")


class WindowSerializer(serializers.Serializer):
    applies = serializers.BooleanField(help_text="WhatsApp: free text only inside 24 hours.")
    open = serializers.BooleanField()
    closes_at = serializers.DateTimeField(allow_null=True)
    templates = TemplateSerializer(many=True)


class TemplateSendSerializer(serializers.Serializer):
    template = serializers.IntegerField()
    variables = serializers.ListField(child=serializers.CharField(), required=False)
    client_id = serializers.UUIDField()


def template_dict(template: MessageTemplate) -> dict:
    return {
        "id": template.pk,
        "name": template.name,
        "language": template.language,
        "body": template.body,
        "variables": template.variable_count,
    }


def window_dict(conversation) -> dict:
    window = outbound.whatsapp_window_for(conversation)
    return {**window, "templates": [template_dict(t) for t in window["templates"]]}


class ConversationTemplatesApi(CommsApi):
    @extend_schema(
        responses={200: WindowSerializer, **comms_schema.ERRORS},
        tags=comms_schema.TAG,
        operation_id="templates_list",
    )
    def get(self, request, pk):
        conversation = self.conversation(pk)
        return Response(window_dict(conversation))

    @extend_schema(
        request=TemplateSendSerializer,
        responses={
            201: comms_schema.MessageSerializer,
            200: comms_schema.MessageSerializer,
            **comms_schema.ERRORS,
        },
        tags=comms_schema.TAG,
        operation_id="templates_send",
    )
    def post(self, request, pk):
        conversation = self.conversation(pk)
        template_id = clean_id(_field(request.data, "template"))
        template = MessageTemplate.objects.filter(pk=template_id).first()
        if template is None:
            raise errors.Invalid(_("Unknown template."))
        variables = _field(request.data, "variables", [])
        result = outbound.template_send(
            author=request.user,
            conversation=conversation,
            template=template,
            variables=variables,
            client_id=_field(request.data, "client_id"),
            request=request,
        )
        return Response(
            presenters.narrow(result.data, self.audience()),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
