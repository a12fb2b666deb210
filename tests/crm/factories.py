"""factory_boy factories for CRM records. Writes in tests go through these or the services."""

import factory

from crm.models import (
    Activity,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    Pipeline,
    Stage,
    Tag,
)
from tests.factories import UserFactory


def default_pipeline() -> Pipeline:
    return Pipeline.objects.get(is_default=True)


def first_stage() -> Stage:
    return default_pipeline().stages.order_by("position").first()


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag{n}")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n:04d}")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    industry = "Software"
    owner = factory.SubFactory(UserFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    first_name = factory.Sequence(lambda n: f"Given{n:04d}")
    last_name = factory.Sequence(lambda n: f"Family{n:04d}")
    owner = factory.SubFactory(UserFactory)

    @factory.post_generation
    def email(self, create, extracted, **kwargs):
        if create and extracted:
            ContactEmail.objects.create(contact=self, email=extracted.lower(), is_primary=True)

    @factory.post_generation
    def phone(self, create, extracted, **kwargs):
        if create and extracted:
            ContactPhone.objects.create(contact=self, number=extracted, is_primary=True)


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    title = factory.Sequence(lambda n: f"Deal {n:04d}")
    owner = factory.SubFactory(UserFactory)
    stage = factory.LazyFunction(first_stage)
    pipeline = factory.LazyAttribute(lambda d: d.stage.pipeline)
    amount = 1000
    currency = "USD"


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    kind = Activity.Kind.NOTE
    subject = factory.Sequence(lambda n: f"Note {n}")
    author = factory.SubFactory(UserFactory)
