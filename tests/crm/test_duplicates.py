"""A new contact sharing a normalised email or phone with a live one is flagged."""

from crm.models import Contact


def test_form_warns_links_and_saves_when_confirmed(client, rep, customer_contact):
    client.force_login(rep)
    data = {
        "first_name": "Clara",
        "last_name": "Again",
        "emails": "CLARA@customer.example",
        "preferred_channel": "email",
        "lifecycle_stage": "lead",
    }
    response = client.post("/contacts/new/", data)
    assert response.status_code == 200
    assert b'data-testid="duplicate-warning"' in response.content
    assert customer_contact.get_absolute_url().encode() in response.content
    assert Contact.objects.count() == 1
    response = client.post("/contacts/new/", {**data, "confirm_duplicate": "on"})
    assert response.status_code == 302
    assert Contact.objects.count() == 2


def test_same_phone_written_differently_is_a_duplicate(client, rep, customer_contact):
    client.force_login(rep)
    response = client.post(
        "/contacts/new/",
        {
            "first_name": "Other",
            "phones": "(11) 98765-4321",
            "phone_region": "BR",
            "preferred_channel": "email",
            "lifecycle_stage": "lead",
        },
    )
    assert b'data-testid="duplicate-warning"' in response.content


def test_duplicate_the_user_cannot_see_is_not_mentioned_and_the_contact_is_saved(
    client, other_rep, customer_contact
):
    client.force_login(other_rep)  # customer_contact belongs to rep and is not shared
    response = client.post(
        "/contacts/new/",
        {
            "first_name": "Clara",
            "emails": "clara@customer.example",
            "preferred_channel": "email",
            "lifecycle_stage": "lead",
        },
    )
    assert response.status_code == 302
    assert Contact.objects.filter(owner=other_rep, first_name="Clara").exists()


def test_api_answers_409_with_the_existing_id_unless_insisting(client, rep, customer_contact):
    client.force_login(rep)
    body = {"first_name": "Clara", "phones": ["+55 11 98765-4321"]}
    response = client.post("/api/v1/contacts/", body, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["existing_id"] == customer_contact.pk
    response = client.post(
        "/api/v1/contacts/?allow_duplicate=true", body, content_type="application/json"
    )
    assert response.status_code == 201
    response = client.post(
        "/api/v1/contacts/", {**body, "allow_duplicate": True}, content_type="application/json"
    )
    assert response.status_code == 201
    assert Contact.objects.count() == 3


def test_archived_contacts_are_not_duplicates(rep, admin_user, customer_contact):
    from crm import services

    services.record_archive(actor=admin_user, record=customer_contact)
    contact = services.contact_create(
        actor=rep, first_name="Clara", emails=["clara@customer.example"]
    )
    assert contact.pk != customer_contact.pk


def test_api_never_reveals_a_contact_the_caller_cannot_see(client, other_rep, customer_contact):
    client.force_login(other_rep)  # customer_contact belongs to rep and is not shared
    body = {"first_name": "Clara", "emails": ["clara@customer.example"]}
    response = client.post("/api/v1/contacts/", body, content_type="application/json")
    # A 409 alone would confirm that someone else's customer has this address.
    assert response.status_code == 201
    assert Contact.objects.count() == 2
