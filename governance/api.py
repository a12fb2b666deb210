"""REST API of the compliance console: legal holds (GET/POST /api/v1/compliance/holds/, POST
/api/v1/compliance/holds/<id>/release/). Compliance officers and admins; everyone else 404."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_schema import ApiErrorSerializer
from governance import holds
from governance.models import LegalHold


class HoldSerializer(serializers.ModelSerializer):
    target = serializers.SerializerMethodField()

    class Meta:
        model = LegalHold
        fields = [
            "id",
            "scope",
            "target",
            "since",
            "until",
            "matter",
            "reason",
            "created_by",
            "created_at",
            "released_at",
            "released_by",
            "release_reason",
        ]

    def get_target(self, hold) -> int | None:
        """The held record's id (null for a time range)."""
        if hold.scope == LegalHold.Scope.TIME_RANGE:
            return None
        return getattr(hold, f"{hold.scope}_id")


class HoldPlaceSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=LegalHold.Scope.choices)
    target = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text="The held record's id (all scopes but time_range).",
    )
    since = serializers.DateTimeField(required=False, allow_null=True)
    until = serializers.DateTimeField(required=False, allow_null=True)
    matter = serializers.CharField(max_length=holds.MATTER_MAX)
    reason = serializers.CharField(max_length=holds.REASON_MAX)


class HoldReleaseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=holds.REASON_MAX)


# 400 (a field's refusal, or a service's {"error", "detail", "fields"}) is documented by
# config.api_schema.AutoSchema for every operation that takes input.
ERRORS = {404: ApiErrorSerializer}


class HoldListApi(APIView):
    """Every legal hold (active first), and placing one."""

    @extend_schema(
        responses={200: HoldSerializer(many=True), 404: ApiErrorSerializer},
        tags=["compliance"],
        operation_id="compliance_holds_list",
    )
    def get(self, request):
        rows = holds.hold_list_for(request.user)
        return Response(HoldSerializer(rows, many=True).data)

    @extend_schema(
        request=HoldPlaceSerializer,
        responses={201: HoldSerializer, **ERRORS},
        tags=["compliance"],
        operation_id="compliance_holds_create",
    )
    def post(self, request):
        holds.hold_list_for(request.user)  # 404 before reading anything for others
        form = HoldPlaceSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        hold = holds.legal_hold_place(
            actor=request.user,
            scope=data["scope"],
            target_id=data.get("target"),
            since=data.get("since"),
            until=data.get("until"),
            matter=data["matter"],
            reason=data["reason"],
            request=request,
        )
        return Response(HoldSerializer(hold).data, status=status.HTTP_201_CREATED)


class HoldReleaseApi(APIView):
    """Release a hold (nothing is deleted); 400 when already released."""

    @extend_schema(
        request=HoldReleaseSerializer,
        responses={200: HoldSerializer, **ERRORS},
        tags=["compliance"],
        operation_id="compliance_holds_release",
    )
    def post(self, request, pk):
        hold = holds.hold_get_for(request.user, pk)
        form = HoldReleaseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        released = holds.legal_hold_release(
            actor=request.user, hold=hold, reason=form.validated_data["reason"], request=request
        )
        return Response(HoldSerializer(released).data)
