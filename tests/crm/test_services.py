"""Services: happy path, permission denied with no side effects, the audit record, bad input."""

from decimal import Decimal

import pytest

from audit.models import AuditEvent
from config.errors import Forbidden, Invalid, NotFound
from crm import permissions, services
from crm.models import Deal, Stage
from tests.crm.factories import CompanyFactory, DealFactory, default_pipeline


def events(action, target):
    return list(
        AuditEvent.objects.filter(
            action=action, target_type=target._meta.label_lower, target_id=str(target.pk)
        )
    )


def stage(name) -> Stage:
    return default_pipeline().stages.get(name=name)


def test_company_create_and_update_are_audited_with_before_and_after(rep):
    company = services.company_create(
        actor=rep, name=" Acme ", domain="ACME.example", phone="+1 415 555 2671", tags=["VIP"]
    )
    assert company.name == "Acme" and company.domain == "acme.example"
    assert company.phone == "+14155552671" and company.owner == rep
    created = events("crm.company.created", company)[0]
    assert created.data["changes"]["name"] == {"before": None, "after": "Acme"}
    assert created.data["changes"]["tags"]["after"] == ["vip"]
    services.company_update(actor=rep, company=company, name="Acme Inc", tags=["vip", "b"])
    updated = events("crm.company.updated", company)[0]
    assert updated.data["changes"] == {
        "name": {"before": "Acme", "after": "Acme Inc"},
        "tags": {"before": ["vip"], "after": ["b", "vip"]},
    }


def test_update_without_change_records_nothing(rep):
    company = services.company_create(actor=rep, name="Acme")
    services.company_update(actor=rep, company=company, name="Acme")
    assert events("crm.company.updated", company) == []


def test_deal_stage_change_owner_change_and_amount_are_each_audited(rep, manager):
    deal = services.deal_create(
        actor=rep, title="Big", stage=stage("New"), amount=Decimal("10.50"), currency="eur"
    )
    assert deal.currency == "EUR" and deal.status == Deal.Status.OPEN
    created = events("crm.deal.created", deal)[0]
    assert created.data["changes"]["amount"]["after"] == "10.50"
    services.deal_move(actor=rep, deal=deal, stage=stage("Won"))
    deal.refresh_from_db()
    assert deal.status == Deal.Status.WON and deal.closed_at is not None
    moved = events("crm.deal.stage_changed", deal)[0]
    assert moved.data["stage_names"] == {"before": "New", "after": "Won"}
    assert moved.data["changes"]["status"] == {"before": "open", "after": "won"}
    services.deal_move(actor=rep, deal=deal, stage=stage("Proposal"))
    deal.refresh_from_db()
    assert deal.status == Deal.Status.OPEN and deal.closed_at is None
    # The manager (above the owner) hands the deal to themselves.
    services.deal_update(actor=manager, deal=deal, owner=manager, amount=Decimal("99"))
    reassigned = events("crm.deal.reassigned", deal)[0]
    assert reassigned.data["changes"]["owner"] == {"before": rep.pk, "after": manager.pk}
    updated = events("crm.deal.updated", deal)[-1]
    assert updated.data["changes"]["amount"] == {"before": "10.50", "after": "99.00"}


def test_rep_cannot_change_someone_elses_deal_and_nothing_is_written(rep, other_rep):
    deal = DealFactory(owner=other_rep, title="Theirs")
    before = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        services.deal_update(actor=rep, deal=deal, title="Mine now")
    with pytest.raises(NotFound):
        services.deal_move(actor=rep, deal=deal, stage=stage("Won"))
    deal.refresh_from_db()
    assert deal.title == "Theirs" and deal.stage.name == "New"
    assert AuditEvent.objects.count() == before


def test_rep_cannot_give_a_record_to_someone_else(rep, other_rep):
    with pytest.raises(Forbidden):
        services.company_create(actor=rep, name="X", owner=other_rep)
    company = services.company_create(actor=rep, name="Y")
    with pytest.raises(Forbidden) as refused:
        services.company_update(actor=rep, company=company, owner=other_rep)
    assert refused.value.fields["owner"]
    company.refresh_from_db()
    assert company.owner == rep


def test_manager_reassigns_within_their_line(manager, rep, other_rep):
    from accounts import roles
    from tests.factories import make_user

    second = make_user(roles.REP, manager=manager)
    company = services.company_create(actor=rep, name="Y")
    with pytest.raises(Forbidden):
        services.company_update(actor=manager, company=company, owner=other_rep)
    assert not events("crm.company.reassigned", company)
    services.company_update(actor=manager, company=company, owner=second)
    company.refresh_from_db()
    assert company.owner == second
    (reassigned,) = events("crm.company.reassigned", company)
    assert reassigned.data["changes"]["owner"] == {"before": rep.pk, "after": second.pk}


def test_archive_is_admin_only_and_audited(rep, admin_user):
    company = CompanyFactory(owner=rep)
    with pytest.raises(Forbidden):
        services.record_archive(actor=rep, record=company)
    services.record_archive(actor=admin_user, record=company)
    company.refresh_from_db()
    assert company.archived_at is not None
    assert events("crm.company.archived", company)
    assert not permissions.can_view(rep, company)


def test_restore_is_admin_only_audited_and_brings_the_record_back(rep, admin_user):
    company = CompanyFactory(owner=rep)
    services.record_archive(actor=admin_user, record=company)
    with pytest.raises(NotFound):  # archived: the rep does not even see it
        services.record_restore(actor=rep, record=company)
    services.record_restore(actor=admin_user, record=company)
    company.refresh_from_db()
    assert company.archived_at is None
    assert events("crm.company.restored", company)
    assert permissions.can_view(rep, company)


def test_bad_input_is_a_validation_error(rep):
    with pytest.raises(Invalid):
        services.deal_create(actor=rep, title="", stage=stage("New"))
    with pytest.raises(Invalid):
        services.contact_create(actor=rep, first_name="A", emails=["not-an-email"])
    with pytest.raises(Invalid):
        services.contact_create(actor=rep, first_name="A", phones=["123"])


def test_compliance_reads_but_never_writes(compliance, rep):
    deal = DealFactory(owner=rep)
    assert permissions.can_view(compliance, deal)
    with pytest.raises(Forbidden):
        services.deal_update(actor=compliance, deal=deal, title="x")
    with pytest.raises(Forbidden):
        services.company_create(actor=compliance, name="x")


def test_contact_consent_has_time_and_source_and_is_audited(rep, customer_contact):
    consent = services.contact_set_consent(
        actor=rep, contact=customer_contact, channel="whatsapp", granted=True, source="Web form"
    )
    assert consent.granted and consent.recorded_at and consent.source == "Web form"
    services.contact_set_consent(
        actor=rep, contact=customer_contact, channel="whatsapp", granted=False, source="Reply STOP"
    )
    changes = events("crm.contact.consent_changed", customer_contact)
    assert changes[-1].data["changes"]["status"] == {"before": "granted", "after": "withdrawn"}


def test_contact_update_replaces_channels_in_one_audit_record(rep, customer_contact):
    services.contact_update(
        actor=rep,
        contact=customer_contact,
        emails=["new@customer.example"],
        phones=["+34 612 34 56 78"],
        title="CEO",
    )
    record = events("crm.contact.updated", customer_contact)
    assert len(record) == 1
    assert record[0].data["changes"]["phones"]["after"] == ["+34612345678"]
    assert record[0].data["changes"]["title"]["after"] == "CEO"


def test_activity_on_a_visible_deal(rep, other_rep):
    deal = DealFactory(owner=rep)
    note = services.activity_create(actor=rep, kind="task", subject="Call back", deal=deal)
    assert events("crm.activity.created", note)
    services.activity_update(actor=rep, activity=note, done=True)
    note.refresh_from_db()
    assert note.done and note.done_at
    with pytest.raises(NotFound):
        services.activity_create(actor=other_rep, kind="note", subject="Peek", deal=deal)
