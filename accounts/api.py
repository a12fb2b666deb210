"""REST API of accounts: offboarding a person (POST /api/v1/users/<id>/offboard/)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import offboarding
from accounts.models import Offboarding
from config.api_schema import ApiErrorSerializer


class SplitSerializer(serializers.Serializer):
    companies = serializers.DictField(
        child=serializers.IntegerField(), required=False, help_text="Company id -> successor id."
    )
    deals = serializers.DictField(
        child=serializers.IntegerField(), required=False, help_text="Deal id -> successor id."
    )


class OffboardRequestSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=Offboarding.Mode.choices, default=Offboarding.Mode.ONE)
    successor = serializers.IntegerField(
        required=False, allow_null=True, help_text="One person for everything (and the default)."
    )
    team = serializers.IntegerField(
        required=False, allow_null=True, help_text="Round-robin or queue: the team."
    )
    split = SplitSerializer(required=False)
    dry_run = serializers.BooleanField(default=False, help_text="Preview only: nothing changes.")


class ContinuitySerializer(serializers.Serializer):
    conversation = serializers.IntegerField()
    customer = serializers.CharField()
    successor = serializers.CharField()


class OffboardResponseSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    counts = serializers.DictField(child=serializers.IntegerField())
    continuity = ContinuitySerializer(many=True)
    successors = serializers.ListField(child=serializers.IntegerField())
    offboarding = serializers.DictField(
        allow_null=True, help_text="The finished offboarding (null in a dry run)."
    )


def offboarding_dict(row: Offboarding) -> dict:
    return {
        "id": row.pk,
        "user": row.user_id,
        "status": row.status,
        "mode": row.mode,
        "successors": row.successors,
        "counts": row.counts,
        "error": row.error,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


class UserOffboardApi(APIView):
    """Preview (dry_run) or run the offboarding of a person: an admin for anyone, a manager for
    people in their reporting subtree; anyone else gets 404."""

    @extend_schema(
        request=OffboardRequestSerializer,
        responses={
            200: OffboardResponseSerializer,
            400: ApiErrorSerializer,
            404: ApiErrorSerializer,
        },
        tags=["people"],
        operation_id="users_offboard",
    )
    def post(self, request, pk):
        leaver = offboarding.user_get_for_offboarding(request.user, pk)
        form = OffboardRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        handover = offboarding.offboarding_plan(
            actor=request.user,
            leaver=leaver,
            mode=data["mode"],
            successor=data.get("successor"),
            team=data.get("team"),
            split=data.get("split"),
            request=request,
        )
        if data["dry_run"]:
            preview = offboarding.user_offboard_preview(handover)
            return Response(
                {
                    "dry_run": True,
                    "counts": preview.counts,
                    "continuity": preview.continuity,
                    "successors": [u.pk for u in preview.successors],
                    "offboarding": None,
                }
            )
        row = offboarding.user_offboard(handover)
        return Response(
            {
                "dry_run": False,
                "counts": row.counts,
                "continuity": [],
                "successors": row.successors,
                "offboarding": offboarding_dict(row),
            }
        )
