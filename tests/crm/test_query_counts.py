"""List pages, the board, the deal page and the API lists cost the same queries at 10 and 500
records."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from crm.models import (
    Activity,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    Tag,
)
from tests.crm.factories import DealFactory, first_stage

URLS = [
    "/companies/",
    "/contacts/",
    "/deals/",
    "/deals/board/",
    "/deals/?q=Deal&sort=amount",
    "/contacts/?q=Given&tag=vip",
    "/search/?q=a",
    "/api/v1/companies/",
    "/api/v1/contacts/",
    "/api/v1/deals/",
    "/api/v1/activities/",
    "/companies/export.csv",
    "/contacts/export.csv",
]


def grow(owner, sharer, n: int, start: int, deal: Deal) -> None:
    """n more companies, contacts (with email, phone, tag) and deals, some shared; n activities
    and stage changes on `deal`."""
    tag, _created = Tag.objects.get_or_create(name="vip")
    stage = first_stage()
    companies = Company.objects.bulk_create(
        Company(name=f"Company {start + i}", owner=owner) for i in range(n)
    )
    contacts = Contact.objects.bulk_create(
        Contact(first_name=f"Given{start + i}", owner=owner, company=companies[i]) for i in range(n)
    )
    ContactEmail.objects.bulk_create(
        ContactEmail(contact=c, email=f"c{start + i}@x.example", is_primary=True)
        for i, c in enumerate(contacts)
    )
    ContactPhone.objects.bulk_create(
        ContactPhone(contact=c, number=f"+1415555{start + i:04d}") for i, c in enumerate(contacts)
    )
    deals = Deal.objects.bulk_create(
        Deal(
            title=f"Deal {start + i}",
            owner=owner,
            company=companies[i],
            primary_contact=contacts[i],
            stage=stage,
            pipeline=stage.pipeline,
        )
        for i in range(n)
    )
    for obj in (*companies, *contacts, *deals):
        obj.tags.add(tag)
    Deal.contacts.through.objects.bulk_create(
        Deal.contacts.through(deal_id=d.pk, contact_id=contacts[i].pk) for i, d in enumerate(deals)
    )
    Activity.objects.bulk_create(
        Activity(subject=f"Note {start + i}", deal=deal, author=owner) for i in range(n)
    )
    for d in deals[:3]:
        assign_perm("crm.view_deal", sharer, d)


def count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        assert response.status_code == 200, url
        if response.streaming:
            b"".join(response.streaming_content)
    return len(ctx.captured_queries)


@pytest.mark.parametrize("actor", ["rep", "manager", "admin_user"])
def test_query_counts_do_not_grow(client, request, rep, manager, admin_user, other_rep, actor,
                                  django_assert_max_num_queries):  # fmt: skip
    user = request.getfixturevalue(actor)
    deal = DealFactory(owner=rep, title="The deal")
    grow(rep, other_rep, 10, 0, deal)
    client.force_login(user)
    urls = [*URLS, deal.get_absolute_url(), f"/api/v1/deals/{deal.pk}/"]
    small = {url: count(client, url) for url in urls}
    grow(rep, other_rep, 490, 10, deal)
    for i in range(5):
        from crm import services

        services.deal_update(actor=rep, deal=deal, amount=100 + i)
    for url in urls:
        with django_assert_max_num_queries(small[url]):
            response = client.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
