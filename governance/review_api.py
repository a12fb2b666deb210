"""REST API of the compliance console under /api/v1/compliance/: the review queue.

Same policy as the pages (governance.permissions: 404 for reps and managers), same services."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from comms import presenters
from comms.api_schema import ERRORS, ID, ActorSerializer, MessageSerializer
from config.errors import Invalid
from governance import selectors
from governance.models import ReviewItem
from governance.services import review as review_services


def review_item_dict(item: ReviewItem) -> dict:
    return {
        "id": item.pk,
        "conversation_id": item.conversation_id,
        "message_id": item.message_id,
        "reason": item.reason,
        "detectors": item.detectors,
        "rep": presenters.user_actor(item.rep),
        "week": item.week.isoformat(),
        "status": item.status,
        "reviewer": presenters.user_actor(item.reviewer),
        "comment": item.comment,
        "decided_at": presenters.iso(item.decided_at),
        "created_at": presenters.iso(item.created_at),
    }


class ReviewPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class DecisionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["reviewed", "escalated"])
    comment = serializers.CharField(
        required=False, allow_blank=True, help_text="Required to escalate."
    )


class ReviewItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    message_id = serializers.IntegerField(allow_null=True)
    reason = serializers.ChoiceField(choices=ReviewItem.Reason.values)
    detectors = serializers.ListField(child=serializers.CharField())
    rep = ActorSerializer(allow_null=True)
    week = serializers.DateField(help_text="The Monday the week starts on.")
    status = serializers.ChoiceField(choices=ReviewItem.Status.values)
    reviewer = ActorSerializer(allow_null=True)
    comment = serializers.CharField(allow_blank=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class ReviewDetailSerializer(ReviewItemSerializer):
    messages = MessageSerializer(many=True)


class ReviewPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ReviewItemSerializer(many=True)


TAG = ["compliance"]
LIST_PARAMS = [
    OpenApiParameter("status", str, enum=ReviewItem.Status.values),
    OpenApiParameter("reason", str, enum=ReviewItem.Reason.values),
    OpenApiParameter("rep", ID),
    OpenApiParameter("page", ID),
    OpenApiParameter("limit", ID),
]


class ReviewListApi(APIView):
    @extend_schema(
        responses={200: ReviewPageSerializer, **ERRORS},
        parameters=LIST_PARAMS,
        tags=TAG,
        operation_id="compliance_review_list",
    )
    def get(self, request):
        params = request.query_params
        items = selectors.review_items_for(
            request.user,
            status=params.get("status", ""),
            reason=params.get("reason", ""),
            rep=params.get("rep"),
        )
        paginator = ReviewPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response([review_item_dict(i) for i in page])


class ReviewDetailApi(APIView):
    @extend_schema(
        responses={200: ReviewDetailSerializer, **ERRORS},
        tags=TAG,
        operation_id="compliance_review_detail",
    )
    def get(self, request, pk):
        item = selectors.review_item_get_for(request.user, pk)
        data = review_item_dict(item)
        data["messages"] = [
            presenters.message_dict(m, presenters.EVERYTHING)
            for m in selectors.review_messages(item)
        ]
        return Response(data)


class ReviewDecisionApi(APIView):
    @extend_schema(
        request=DecisionSerializer,
        responses={200: ReviewItemSerializer, 409: ERRORS[400], **ERRORS},
        tags=TAG,
        operation_id="compliance_review_decide",
    )
    def post(self, request, pk):
        item = selectors.review_item_get_for(request.user, pk)
        try:
            status = request.data.get("status", "")
            comment = request.data.get("comment", "") or ""
        except AttributeError:
            raise Invalid(_("Send a JSON object.")) from None
        if not isinstance(status, str) or not isinstance(comment, str):
            raise Invalid(_("status and comment are text."))
        item = review_services.review_decide(
            reviewer=request.user, item_id=item.pk, status=status, comment=comment, request=request
        )
        return Response(review_item_dict(item))
