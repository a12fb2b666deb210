"""REST API of the CRM under /api/v1/: list, retrieve, create, update, archive and restore (Admin).

Every queryset comes from crm.selectors, so a record the caller may not see is a 404 exactly like
a missing one; related ids in a request body must name records the caller can see. Writes go
through crm.services (and so through the audit ledger). Nothing is ever hard-deleted.
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from crm import selectors, services
from crm.filters import ActivityFilter, CompanyFilter, ContactFilter, DealFilter
from crm.models import (
    Activity,
    Company,
    Contact,
    Deal,
    Pipeline,
    Stage,
)


class CrmPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class VisibleRelated(serializers.PrimaryKeyRelatedField):
    """A related record the requesting user can see (others do not exist, as far as they know)."""

    def __init__(self, selector, **kwargs):
        self.selector = selector
        super().__init__(**kwargs)

    def get_queryset(self):
        return getattr(selectors, self.selector)(self.context["request"].user)


class OwnerField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        from accounts.models import User

        return User.objects.filter(is_active=True)


class TagsField(serializers.ListField):
    child = serializers.CharField(max_length=50)

    def to_representation(self, data):
        return sorted(tag.name for tag in data.all())


class EmailsField(serializers.ListField):
    child = serializers.CharField(max_length=254)

    def to_representation(self, data):
        return [row.email for row in data.all()]


class PhonesField(serializers.ListField):
    child = serializers.CharField(max_length=40, help_text="E.164, or local with phone_region")

    def to_representation(self, data):
        return [row.number for row in data.all()]


# --- serializers ------------------------------------------------------------------------------


class CompanySerializer(serializers.ModelSerializer):
    owner = OwnerField(required=False)
    tags = TagsField(required=False)
    cascade = serializers.MultipleChoiceField(
        choices=["contacts", "deals"],
        required=False,
        write_only=True,
        help_text="With a new owner: what follows the company (its contacts and open deals the"
        " old owner holds, and their open conversations). Default: both; [] for none.",
    )

    class Meta:
        model = Company
        fields = [
            "id",
            "name",
            "domain",
            "industry",
            "phone",
            "address",
            "owner",
            "tags",
            "cascade",
            "created_at",
            "updated_at",
            "archived_at",
        ]
        read_only_fields = ["created_at", "updated_at", "archived_at"]


class ConsentSerializer(serializers.Serializer):
    channel = serializers.CharField()
    status = serializers.CharField()
    recorded_at = serializers.DateTimeField()
    source = serializers.CharField()


class ContactSerializer(serializers.ModelSerializer):
    owner = OwnerField(required=False)
    company = VisibleRelated("company_choices_for", required=False, allow_null=True)
    tags = TagsField(required=False)
    emails = EmailsField(required=False)
    phones = PhonesField(required=False)
    phone_region = serializers.CharField(
        write_only=True, required=False, max_length=2, help_text="Region of numbers without +"
    )
    allow_duplicate = serializers.BooleanField(
        write_only=True, required=False, help_text="Create even if the email or phone exists."
    )
    consents = ConsentSerializer(many=True, read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id",
            "first_name",
            "last_name",
            "title",
            "company",
            "emails",
            "phones",
            "phone_region",
            "preferred_channel",
            "lifecycle_stage",
            "owner",
            "tags",
            "consents",
            "allow_duplicate",
            "created_at",
            "updated_at",
            "archived_at",
        ]
        read_only_fields = ["created_at", "updated_at", "archived_at"]


class DealSerializer(serializers.ModelSerializer):
    owner = OwnerField(required=False)
    company = VisibleRelated("company_choices_for", required=False, allow_null=True)
    primary_contact = VisibleRelated("contact_choices_for", required=False, allow_null=True)
    contacts = VisibleRelated("contact_choices_for", many=True, required=False)
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all())
    tags = TagsField(required=False)

    class Meta:
        model = Deal
        fields = [
            "id",
            "title",
            "company",
            "primary_contact",
            "contacts",
            "pipeline",
            "stage",
            "status",
            "amount",
            "currency",
            "expected_close_date",
            "closed_at",
            "lost_reason",
            "owner",
            "tags",
            "created_at",
            "updated_at",
            "archived_at",
        ]
        read_only_fields = [
            "pipeline",
            "status",
            "closed_at",
            "created_at",
            "updated_at",
            "archived_at",
        ]


class ActivitySerializer(serializers.ModelSerializer):
    deal = VisibleRelated("deal_list_for", required=False, allow_null=True)
    contact = VisibleRelated("contact_choices_for", required=False, allow_null=True)
    company = VisibleRelated("company_choices_for", required=False, allow_null=True)

    class Meta:
        model = Activity
        fields = [
            "id",
            "kind",
            "subject",
            "body",
            "due_at",
            "done",
            "done_at",
            "deal",
            "contact",
            "company",
            "author",
            "created_at",
        ]
        read_only_fields = ["done_at", "author", "created_at"]


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "name", "position", "probability", "is_won", "is_lost"]


class PipelineSerializer(serializers.ModelSerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Pipeline
        fields = ["id", "name", "is_default", "stages"]


class ArchivedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    archived_at = serializers.DateTimeField(allow_null=True)


class DuplicateSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="duplicate_contact")
    detail = serializers.CharField()
    existing_id = serializers.IntegerField(
        allow_null=True, help_text="The first existing contact you may open, or null."
    )
    existing_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="Existing contacts you may open."
    )


# --- viewsets ---------------------------------------------------------------------------------


class RecordViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """List, retrieve, create and update records; archive instead of delete."""

    lookup_value_converter = "id"
    pagination_class = CrmPagination
    # ?ordering= (DRF's) first, then the kind's FilterSet, whose ?sort= (the pages' names for the
    # same orders) wins when given.
    filter_backends = [OrderingFilter, django_filters.rest_framework.DjangoFilterBackend]

    def _write(self, func, **kwargs):
        """Call a service as the caller; its refusals (config.errors) are answered by the
        project's exception handler."""
        return func(actor=self.request.user, request=self.request, **kwargs)

    def _respond(self, instance, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=instance.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(request=None, responses={200: ArchivedSerializer})
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        """Archive the record (Admin only): it leaves every list; nothing is deleted."""
        record = self.get_object()
        self._write(services.record_archive, record=record)
        return Response({"id": record.pk, "archived_at": record.archived_at})

    @extend_schema(request=None, responses={200: ArchivedSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        """Restore an archived record (Admin only): it is back in every list it belongs to."""
        record = self.get_object()
        self._write(services.record_restore, record=record)
        return Response({"id": record.pk, "archived_at": record.archived_at})


class CompanyViewSet(RecordViewSet):
    serializer_class = CompanySerializer
    filterset_class = CompanyFilter
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name", "id"]

    def get_queryset(self):
        return selectors.company_list_for(self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.validated_data.pop("cascade", None)
        company = self._write(services.company_create, **serializer.validated_data)
        return self._respond(company, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        company = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = self.get_serializer(company, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self._write(services.company_update, company=company, **serializer.validated_data)
        return self._respond(company)


def _insists(request, data) -> bool:
    flag = request.query_params.get("allow_duplicate", "")
    return bool(data.pop("allow_duplicate", False)) or flag.lower() in ("1", "true", "yes")


class ContactViewSet(RecordViewSet):
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    ordering_fields = ["last_name", "first_name", "created_at", "updated_at"]
    ordering = ["last_name", "first_name", "id"]

    def get_queryset(self):
        return selectors.contact_list_for(self.request.user).prefetch_related("consents")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "allow_duplicate",
                OpenApiTypes.BOOL,
                description="Create the contact even if its email or phone already exists.",
            )
        ],
        responses={201: ContactSerializer, 409: OpenApiResponse(DuplicateSerializer)},
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        insist = _insists(request, data)
        try:
            contact = self._write(services.contact_create, allow_duplicate=insist, **data)
        except services.DuplicateContact as exc:
            # The service names only ids the caller may open (a 409 the handler answers); where
            # insisting would help, say how.
            if exc.refused:
                raise
            raise services.DuplicateContact(
                exc.existing_ids,
                detail=_(
                    "A contact with this email or phone already exists. "
                    "Send allow_duplicate=true to create it anyway."
                ),
            ) from exc
        return self._respond(contact, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        contact = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = self.get_serializer(contact, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("allow_duplicate", None)
        self._write(services.contact_update, contact=contact, **data)
        return self._respond(contact)


class DealViewSet(RecordViewSet):
    serializer_class = DealSerializer
    filterset_class = DealFilter
    ordering_fields = ["title", "amount", "expected_close_date", "created_at", "updated_at"]
    ordering = ["-updated_at", "-id"]

    def get_queryset(self):
        return selectors.deal_list_for(self.request.user).prefetch_related("contacts")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("lost_reason", None)
        deal = self._write(services.deal_create, **data)
        return self._respond(deal, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        deal = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = self.get_serializer(deal, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self._write(services.deal_update, deal=deal, **serializer.validated_data)
        return self._respond(deal)


class ActivityViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    lookup_value_converter = "id"
    serializer_class = ActivitySerializer
    filterset_class = ActivityFilter
    pagination_class = CrmPagination

    def get_queryset(self):
        return selectors.activity_list_for(self.request.user).order_by("-created_at", "-id")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("done", None)
        # The model's default kind, as the schema (from the model) promises for an omitted kind.
        data.setdefault("kind", Activity._meta.get_field("kind").get_default())
        activity = services.activity_create(actor=request.user, request=request, **data)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=activity.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    def update(self, request, *args, **kwargs):
        activity = self.get_object()
        serializer = self.get_serializer(
            activity, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        data = {
            k: v
            for k, v in serializer.validated_data.items()
            if k in ("kind", "subject", "body", "due_at", "done")
        }
        services.activity_update(actor=request.user, activity=activity, request=request, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=activity.pk)).data)


class PipelineViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_converter = "id"
    serializer_class = PipelineSerializer
    pagination_class = CrmPagination
    filter_backends: list = []

    def get_queryset(self):
        return selectors.pipeline_list()
