import pytest
from django.core.exceptions import ValidationError

from crm import phones


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(11) 98765-4321", "BR", "+5511987654321"),
        ("+55 11 98765-4321", None, "+5511987654321"),
        ("011 98765 4321", "BR", "+5511987654321"),
        ("612 34 56 78", "ES", "+34612345678"),
        ("+34 912 345 678", None, "+34912345678"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 202-555-0143", None, "+12025550143"),
    ],
)
def test_numbers_are_stored_in_e164(raw, region, e164):
    assert phones.normalise(raw, region) == e164


@pytest.mark.parametrize("raw", ["12345", "not a number", "+55 11 1234", "+1 000 000 0000"])
def test_bad_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        phones.normalise(raw, "US")


def test_display_is_international():
    assert phones.display("+5511987654321") == "+55 11 98765-4321"


def test_bad_phone_is_a_field_error_on_the_contact_form(client, rep):
    client.force_login(rep)
    response = client.post(
        "/contacts/new/",
        {
            "first_name": "Bad",
            "phones": "12345",
            "preferred_channel": "email",
            "lifecycle_stage": "lead",
        },
    )
    assert response.status_code == 200
    assert b'data-testid="error-phones"' in response.content


def test_contact_form_normalises_a_spanish_number(client, rep):
    from crm.models import ContactPhone

    client.force_login(rep)
    response = client.post(
        "/contacts/new/",
        {
            "first_name": "Lucía",
            "phones": "612 34 56 78",
            "phone_region": "ES",
            "preferred_channel": "whatsapp",
            "lifecycle_stage": "lead",
        },
    )
    assert response.status_code == 302
    assert ContactPhone.objects.get().number == "+34612345678"


def test_api_bad_phone_is_400(client, rep):
    client.force_login(rep)
    response = client.post(
        "/api/v1/contacts/",
        {"first_name": "X", "phones": ["12"]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "phones" in response.json()["fields"]
