"""/api/v1/compliance/search/ and /api/v1/compliance/exports/: the console's search and exports
for scripts (compliance officers and admins; 404 for everyone else)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from comms.api_schema import ErrorSerializer
from config import errors
from governance import exports, permissions, search
from governance.search_forms import SearchForm
from governance.search_views import status_document


class SearchRevisionSerializer(serializers.Serializer):
    body = serializers.CharField()
    editor = serializers.CharField(source="editor.username")
    edited_at = serializers.DateTimeField()


class HitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation = serializers.IntegerField(source="conversation_id")
    channel = serializers.CharField(source="conversation.kind")
    direction = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    retracted = serializers.BooleanField()
    retracted_at = serializers.DateTimeField(allow_null=True)
    revisions = SearchRevisionSerializer(many=True, source="versions")


class SearchPageSerializer(serializers.Serializer):
    results = HitSerializer(many=True)
    next_before = serializers.IntegerField(allow_null=True)


class ExportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    error = serializers.CharField()


ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
TAG = ["compliance"]


def _parameters() -> list[OpenApiParameter]:
    return [
        OpenApiParameter(name, str, description=str(field.label or name))
        for name, field in SearchForm.base_fields.items()
    ]


def _form(data, user) -> SearchForm:
    form = SearchForm(data, user=user)
    if not form.is_valid():
        raise errors.Invalid(form.first_error(), fields=dict(form.errors))
    return form


class SearchApi(APIView):
    @extend_schema(
        parameters=_parameters(), responses={200: SearchPageSerializer, **ERRORS}, tags=TAG
    )
    def get(self, request):
        permissions.require_console(request.user)
        form = _form(request.query_params, request.user)
        page = search.message_search_for(
            request.user, form.criteria(), before=form.cleaned_data.get("before"), request=request
        )
        return Response(
            {
                "results": HitSerializer(page.messages, many=True).data,
                "next_before": page.next_before,
            }
        )


class ExportListApi(APIView):
    @extend_schema(responses={200: ExportSerializer(many=True), **ERRORS}, tags=TAG)
    def get(self, request):
        jobs = exports.export_list_for(request.user)
        return Response([status_document(job) for job in jobs])

    @extend_schema(
        request=None,
        parameters=_parameters(),
        responses={202: ExportSerializer, **ERRORS},
        tags=TAG,
        operation_id="compliance_exports_create",
    )
    def post(self, request):
        permissions.require_console(request.user)
        form = _form(request.data or request.query_params, request.user)
        job = exports.export_request(
            requester=request.user, criteria=form.criteria(), request=request
        )
        job.refresh_from_db()
        return Response(status_document(job), status=202)


class ExportDetailApi(APIView):
    @extend_schema(responses={200: ExportSerializer, **ERRORS}, tags=TAG)
    def get(self, request, pk: int):
        return Response(status_document(exports.export_get_for(request.user, pk)))
