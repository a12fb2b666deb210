"""One set of search rules: the contact list page, the API's ?q= and the search box agree."""

import pytest
from django.urls import reverse

from tests.crm.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("term", ["Cliente", "clara@customer", "98765 4321"])
def test_pages_api_and_search_box_find_the_same_contact(client, rep, customer_contact, term):
    ContactFactory(owner=rep, first_name="Other", last_name="Person")
    client.force_login(rep)
    page = client.get(reverse("crm:contact-list"), {"q": term}).content.decode()
    api = client.get("/api/v1/contacts/", {"q": term}).json()
    box = client.get(reverse("crm:search"), {"q": term}).content.decode()
    assert "Cliente" in page and "Other" not in page
    assert [c["id"] for c in api["results"]] == [customer_contact.pk]
    assert "Cliente" in box and "Other Person" not in box
