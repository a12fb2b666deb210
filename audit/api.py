"""GET /api/v1/audit/events/ (filters as the viewer, cursor pagination on seq) and one event."""

from django import forms
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination

from audit import labels, permissions, selectors
from audit.forms import EventFilterForm
from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    data = serializers.JSONField()
    action_label = serializers.SerializerMethodField(
        help_text="What happened, in the requester's language (the action code when unnamed)."
    )

    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "created_at",
            "actor_type",
            "actor_id",
            "actor_label",
            "action",
            "action_label",
            "target_type",
            "target_id",
            "target_label",
            "data",
            "ip",
            "user_agent",
            "request_id",
            "prev_hash",
            "hash",
            "version",
        ]

    def get_action_label(self, event) -> str:
        return labels.action_label(event.action)


class SeqCursorPagination(CursorPagination):
    """Keyset on the unique seq: each page is `seq < cursor ORDER BY seq DESC LIMIT n`."""

    ordering = "-seq"
    page_size = selectors.PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = 500


def _filter_parameters() -> list[OpenApiParameter]:
    """The query parameters of the list: the viewer's filter form, field by field."""

    def schema(field):
        if isinstance(field, forms.DateTimeField):
            return OpenApiTypes.DATETIME
        return {"type": "string", "maxLength": field.max_length}

    return [
        OpenApiParameter(name, schema(field), description=str(field.help_text or field.label))
        for name, field in EventFilterForm.base_fields.items()
        if name != "before"  # the HTML viewer's keyset; the API pages by cursor
    ]


@extend_schema(parameters=_filter_parameters())
class AuditEventListApi(generics.ListAPIView):
    serializer_class = AuditEventSerializer
    pagination_class = SeqCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation, no request user
            return AuditEvent.objects.none()
        permissions.require_view_ledger(self.request.user)
        form = EventFilterForm(self.request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors)
        return selectors.event_list_for(self.request.user, **form.filters())


class AuditEventDetailApi(generics.RetrieveAPIView):
    serializer_class = AuditEventSerializer

    def get_object(self):
        try:
            return selectors.event_get_for(self.request.user, int(self.kwargs["seq"]))
        except (ValueError, AuditEvent.DoesNotExist) as exc:
            raise Http404 from exc
