"""The data-subject request form in a browser: the contact is found as one types (contacts API)."""

import pytest

from governance.models import DataSubjectRequest
from tests.comms.test_staff_browser import sign_in
from tests.crm.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_compliance_finds_the_contact_as_they_type_and_logs_the_request(
    live_server, page, rep, compliance
):
    clara = ContactFactory(owner=rep, first_name="Clara", last_name="Cliente", email="c@x.example")
    ContactFactory(owner=rep, first_name="Bruno", last_name="Brito")
    sign_in(page, live_server.url, compliance)
    page.goto(f"{live_server.url}/compliance/dsr/new/")
    page.fill("#dsr-contact-q", "Clar")
    option = page.locator("[data-contact-results] label", has_text="Clara Cliente")
    option.wait_for()
    assert page.locator("[data-contact-results] label").count() == 1
    option.locator("input").check()
    page.select_option("#id_kind", "erasure")
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/compliance/dsr/*/")
    dsr = DataSubjectRequest.objects.get()
    assert (dsr.contact_id, dsr.kind, dsr.requester_id) == (clara.pk, "erasure", compliance.pk)
    assert page.locator('[data-testid="dsr-status"]').inner_text() == "Open"
