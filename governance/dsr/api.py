"""/api/v1/compliance/dsr/: data-subject requests for compliance officers and admins (404 for
everyone else). List and log requests, read one, export the contact's data (JSON), erase,
restrict, refuse. Refusals answer through config.errors.api_exception_handler."""

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import Invalid
from config.ids import MAX_ID
from governance import permissions
from governance.dsr import selectors, services
from governance.models import DataSubjectRequest

DSR = DataSubjectRequest
LIST_LIMIT = 200


class DsrErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class DsrSerializer(serializers.ModelSerializer):
    contact_name = serializers.CharField(source="contact.name", read_only=True)
    requester = serializers.CharField(source="requester.get_username", read_only=True)
    decided_by = serializers.CharField(
        source="decided_by.get_username", read_only=True, allow_null=True
    )
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = DSR
        fields = [
            "id",
            "contact",
            "contact_name",
            "kind",
            "law",
            "channel",
            "subject_reference",
            "details",
            "requester",
            "received_at",
            "due_at",
            "overdue",
            "status",
            "decision",
            "legal_basis",
            "decided_by",
            "decided_at",
        ]
        read_only_fields = fields

    def get_overdue(self, obj) -> bool:
        return obj.is_overdue()


class DsrCreateSerializer(serializers.Serializer):
    contact = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    kind = serializers.ChoiceField(choices=DSR.Kind.choices)
    law = serializers.ChoiceField(choices=DSR.Law.choices, default=DSR.Law.GDPR)
    channel = serializers.ChoiceField(choices=DSR.Channel.choices, default=DSR.Channel.EMAIL)
    subject_reference = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    details = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    received_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class BasisSerializer(serializers.Serializer):
    basis = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class RefuseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    basis = serializers.CharField(max_length=1000)


class ErasureSerializer(serializers.Serializer):
    erased = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    summary = serializers.DictField()
    request = DsrSerializer()


def request_data(request):
    """The body as a mapping (a JSON list or scalar is a 400, not a 500)."""
    data = request.data
    if not hasattr(data, "get"):
        raise Invalid(_("Send a JSON object."))
    return data


ERRORS = {400: DsrErrorSerializer, 404: DsrErrorSerializer}
DECIDED = {409: DsrErrorSerializer}
TAG = ["compliance"]


class DsrApi(APIView):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A method this endpoint lacks is a 405 for anyone, as everywhere in the API.
        if hasattr(self, request.method.lower()):
            permissions.require_handle_dsr(request.user)

    def valid(self, serializer_class):
        """The body's values, or a 400 in the project's error shape naming the fields."""
        given = serializer_class(data=request_data(self.request))
        if not given.is_valid():
            raise Invalid(fields=given.errors)
        return dict(given.validated_data)

    def dsr(self, pk) -> DataSubjectRequest:
        return selectors.dsr_get_for(self.request.user, pk)

    def answer(self, dsr, code=status.HTTP_200_OK):
        return Response(DsrSerializer(self.dsr(dsr.pk)).data, status=code)


class DsrListApi(DsrApi):
    @extend_schema(responses={200: DsrSerializer(many=True), **ERRORS}, tags=TAG)
    def get(self, request):
        """Requests, open ones first (the earliest due on top), at most 200."""
        found = selectors.dsr_list_for(request.user)[:LIST_LIMIT]
        return Response(DsrSerializer(found, many=True).data)

    @extend_schema(request=DsrCreateSerializer, responses={201: DsrSerializer, **ERRORS}, tags=TAG)
    def post(self, request):
        """Log a request; its answer is due the law's number of days after receipt."""
        data = self.valid(DsrCreateSerializer)
        try:
            contact = selectors.contact_get_for(request.user, data.pop("contact"))
        except Http404:
            raise Invalid(fields={"contact": _("No such contact.")}) from None
        dsr = services.dsr_create(actor=request.user, contact=contact, request=request, **data)
        return self.answer(dsr, status.HTTP_201_CREATED)


class DsrDetailApi(DsrApi):
    @extend_schema(responses={200: DsrSerializer, **ERRORS}, tags=TAG)
    def get(self, request, pk):
        return Response(DsrSerializer(self.dsr(pk)).data)


class DsrExportApi(DsrApi):
    @extend_schema(
        request=None,
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        tags=TAG,
        description="Everything held about the request's contact (the access export); audited."
        " An open access request is answered by it.",
    )
    def post(self, request, pk):
        export = services.dsr_access_export(
            actor=request.user, dsr=self.dsr(pk), fmt="json", request=request
        )
        return Response(export.data)


class DsrEraseApi(DsrApi):
    @extend_schema(request=None, responses={200: ErasureSerializer, **ERRORS, **DECIDED}, tags=TAG)
    def post(self, request, pk):
        """Erase, or, under a legal hold or retention duty, refuse with the reasons and restrict
        processing instead (erased: false)."""
        outcome = services.dsr_erase(actor=request.user, dsr=self.dsr(pk), request=request)
        return Response(
            {
                "erased": outcome.erased,
                "reasons": outcome.reasons,
                "summary": outcome.summary,
                "request": DsrSerializer(self.dsr(pk)).data,
            }
        )


class DsrRestrictApi(DsrApi):
    @extend_schema(
        request=BasisSerializer, responses={200: DsrSerializer, **ERRORS, **DECIDED}, tags=TAG
    )
    def post(self, request, pk):
        data = self.valid(BasisSerializer)
        dsr = services.dsr_restrict(actor=request.user, dsr=self.dsr(pk), request=request, **data)
        return self.answer(dsr)


class DsrRefuseApi(DsrApi):
    @extend_schema(
        request=RefuseSerializer, responses={200: DsrSerializer, **ERRORS, **DECIDED}, tags=TAG
    )
    def post(self, request, pk):
        data = self.valid(RefuseSerializer)
        dsr = services.dsr_refuse(actor=request.user, dsr=self.dsr(pk), request=request, **data)
        return self.answer(dsr)
