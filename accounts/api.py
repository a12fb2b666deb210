"""REST API of accounts: offboarding a person (POST /api/v1/users/<id>/offboard/) and the
people/team picker search (GET /api/v1/people/)."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import offboarding, people_search
from accounts.models import Offboarding
from config.api_schema import VALIDATION_ERROR, ApiErrorSerializer


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


class PeopleSearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=100, help_text="What was typed (1 character or more).")
    purpose = serializers.CharField(
        max_length=40, help_text="The field being filled: share, owner, assign, member, rep, ..."
    )
    kind = serializers.ChoiceField(choices=people_search.KINDS, default="person")
    target = serializers.CharField(
        max_length=60,
        required=False,
        default="",
        help_text='The purpose\'s context: a record ("deals:12"), a conversation or a leaver id.',
    )

    def validate_purpose(self, value):
        if people_search.purpose_get(value) is None:
            raise serializers.ValidationError(
                _("Unknown purpose. Use one of: %(names)s.")
                % {"names": ", ".join(people_search.purpose_names())}
            )
        return value


class PeopleMatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    value = serializers.CharField(help_text='What the form field takes: "user:<id>"/"team:<id>".')
    label = serializers.CharField()
    kind = serializers.ChoiceField(choices=["person", "team"])
    secondary = serializers.CharField(help_text="Team and username of a person.")


class PeopleSearchResponseSerializer(serializers.Serializer):
    results = PeopleMatchSerializer(many=True)


class PeopleSearchApi(APIView):
    """Search-as-you-type for people and team pickers: at most 20 matches among exactly those the
    purpose's form accepts from the caller (404 where the caller may not fill that field)."""

    @extend_schema(
        parameters=[PeopleSearchQuerySerializer],
        responses={
            200: PeopleSearchResponseSerializer,
            400: VALIDATION_ERROR,
            404: ApiErrorSerializer,
        },
        tags=["people"],
        operation_id="people_search",
    )
    def get(self, request):
        form = PeopleSearchQuerySerializer(data=request.query_params)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        rows = people_search.search(
            request.user,
            people_search.purpose_get(data["purpose"]),
            term=data["q"],
            kind=data["kind"],
            target=data["target"],
        )
        return Response({"results": rows})
