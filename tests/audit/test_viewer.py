"""The audit viewer and API: Compliance and Admin only (404 for everyone else), filters, keyset
pages, constant query counts."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

import audit
from audit import services
from audit.models import AuditEvent

LIST = "/audit/"
API = "/api/v1/audit/events/"


def add_events(n: int, **kwargs):
    kwargs.setdefault("action", "crm.deal.changed")
    kwargs.setdefault("target", ("crm.deal", "7", "Big deal"))
    return [audit.record(actor=None, data={"i": i}, **kwargs) for i in range(n)]


@pytest.fixture
def some_events(db):
    return add_events(3)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["rep", "manager", "other_rep"])
def test_viewer_and_api_are_404_for_reps_and_managers(client, request, who, some_events):
    client.force_login(request.getfixturevalue(who))
    seq = some_events[0].seq
    assert client.get(LIST).status_code == 404
    assert client.get(reverse("audit:event-detail", args=[seq])).status_code == 404
    assert client.get(API).status_code == 404
    assert client.get(f"{API}{seq}/").status_code == 404
    assert "/audit/" not in client.get("/").content.decode()  # no nav link either


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["compliance", "admin_user"])
def test_viewer_and_api_are_open_to_compliance_and_admin(client, request, who, some_events):
    client.force_login(request.getfixturevalue(who))
    seq = some_events[0].seq
    page = client.get(LIST)
    assert page.status_code == 200 and "crm.deal.changed" in page.content.decode()
    assert client.get(reverse("audit:event-detail", args=[seq])).status_code == 200
    body = client.get(API).json()
    listed = [e["seq"] for e in body["results"]]
    assert listed == sorted(listed, reverse=True)
    assert {e.seq for e in some_events} <= set(listed)
    assert client.get(f"{API}{seq}/").json()["hash"] == some_events[0].hash
    assert 'href="/audit/"' in client.get("/").content.decode()


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client, some_events):
    assert client.get(LIST).status_code == 302
    assert client.get(API).status_code == 401  # token auth asks for credentials


@pytest.mark.django_db
def test_filters_by_actor_action_target_and_time(client, compliance, rep):
    add_events(2)
    audit.record(actor=rep, action="accounts.user.changed", target=rep, data={"x": 1})
    audit.record(actor=rep, action="accounts.team.changed", target=("accounts.team", "3", "T"))
    client.force_login(compliance)

    def seqs(**params):
        return [e["seq"] for e in client.get(API, params).json()["results"]]

    def rows(**params):
        return client.get(LIST, params).content.decode().count('data-testid="audit-event-row"')

    by_rep = AuditEvent.objects.filter(actor_id=rep.pk).order_by("-seq")
    assert seqs(actor="rep") == [e.seq for e in by_rep]
    assert seqs(actor=str(rep.pk)) == [e.seq for e in by_rep]
    assert rows(actor="rep") == 2
    assert len(seqs(action="accounts.user.changed")) == 1
    accounts_events = AuditEvent.objects.filter(action__startswith="accounts.")
    assert seqs(action="accounts.") == sorted(accounts_events.values_list("seq", flat=True))[::-1]
    assert len(seqs(action="accounts.")) >= 3
    assert rows(action="crm.deal.changed") == 2
    assert seqs(target_type="accounts.team", target_id="3") == [by_rep[0].seq]
    future = (timezone.now() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    past = (timezone.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert seqs(since=future) == []
    assert len(seqs(since=past, until=future)) == AuditEvent.objects.count()
    assert client.get(API, {"since": "not a date"}).status_code == 400


@pytest.mark.django_db
def test_keyset_pages_cover_every_event_once(client, admin_user):
    add_events(120)
    client.force_login(admin_user)
    api_seen, url = [], API
    while url:
        body = client.get(url).json()
        api_seen += [e["seq"] for e in body["results"]]
        url = body["next"]
    all_seqs = sorted(AuditEvent.objects.values_list("seq", flat=True), reverse=True)
    assert api_seen == all_seqs
    first = client.get(LIST)
    assert first.context["next_before"] == all_seqs[49]
    second = client.get(LIST, {"before": all_seqs[49]})
    assert [e.seq for e in second.context["events"]] == all_seqs[50:100]
    assert "OFFSET" not in str(AuditEvent.objects.filter(seq__lt=10).order_by("-seq")[:51].query)


@pytest.mark.django_db
def test_query_counts_do_not_grow_with_the_ledger(
    client, compliance, django_assert_max_num_queries
):
    add_events(3)
    client.force_login(compliance)
    seq = AuditEvent.objects.order_by("-seq").first().seq
    client.get("/")  # the once-a-minute session touch is not the viewer's cost
    counts = []
    for size in (3, 300):
        add_events(size - AuditEvent.objects.count() if size > 3 else 0)
        for url in (LIST, API, reverse("audit:event-detail", args=[seq]), f"{API}{seq}/"):
            with django_assert_max_num_queries(6) as captured:
                assert client.get(url).status_code == 200
            counts.append(len(captured))
    assert counts[:4] == counts[4:]


@pytest.mark.django_db
def test_detail_shows_data_chain_position_and_covering_checkpoint(
    client, compliance, audit_signing_key, rep
):
    event = audit.record(
        actor=rep,
        action="accounts.user.changed",
        target=rep,
        data=audit.changes({"email": "old@example.test"}, {"email": "new@example.test"}),
    )
    client.force_login(compliance)
    url = reverse("audit:event-detail", args=[event.seq])
    page = client.get(url).content.decode()
    assert "old@example.test" in page and "new@example.test" in page
    assert event.hash in page and event.prev_hash in page
    assert "Not yet covered by a signed checkpoint." in page
    checkpoint = services.checkpoint_create()
    page = client.get(url).content.decode()
    assert f"signed at seq {checkpoint.seq}" in page and checkpoint.public_key in page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_compliance_reads_the_ledger_on_a_phone(live_server, page, compliance, rep):
    from tests.factories import PASSWORD

    audit.record(actor=rep, action="accounts.user.changed", target=rep, data={"title": "x"})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", compliance.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/audit/")
    page.fill("#id_action", "accounts.user.changed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**action=accounts.user.changed**")
    rows = page.get_by_test_id("audit-event-row")
    assert rows.count() == 1
    rows.first.locator("a").click()
    assert '"title": "x"' in page.get_by_test_id("audit-data").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00%3A00%3A00%2B05%3A00",  # before year 1 once in UTC
        "before=99999999999999999999",
    ],
)
def test_audit_filters_out_of_range_are_a_400_not_a_500(client, compliance, query):
    client.force_login(compliance)
    response = client.get(f"/api/v1/audit/events/?{query}")
    assert response.status_code == 400, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "until=0389-10-26T21%3A17%3A03%2B19%3A23",  # an offset PostgreSQL refuses as such
        "since=2000-01-01T00%3A00%3A00%2B19%3A00",
    ],
)
def test_audit_filter_with_a_far_offset_is_compared_in_utc(client, compliance, query):
    client.force_login(compliance)
    response = client.get(f"/api/v1/audit/events/?{query}")
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_times_are_shown_in_the_viewers_time_zone(client, compliance, audit_signing_key):
    (event,) = add_events(1)
    services.checkpoint_create()
    compliance.timezone = "America/Sao_Paulo"
    compliance.save(update_fields=["timezone"])
    client.force_login(compliance)
    local = timezone.localtime(event.created_at, timezone=dt.timezone(dt.timedelta(hours=-3)))
    for url in (LIST, reverse("audit:event-detail", args=[event.seq])):
        page = client.get(url).content.decode()
        assert "Time (America/Sao_Paulo)" in page and "UTC" not in page
        # One date format on every page (config/formats), seconds on the audit trail.
        assert local.strftime("%-d %b %Y, %H:%M:%S") in page
    compliance.timezone = ""
    compliance.save(update_fields=["timezone"])
    page = client.get(LIST).content.decode()
    assert "Time (UTC)" in page
    assert event.created_at.astimezone(dt.UTC).strftime("%-d %b %Y, %H:%M:%S") in page


@pytest.mark.django_db
def test_filters_by_a_persons_name_and_by_what_happened_in_plain_words(client, compliance):
    from tests.crm.factories import ContactFactory
    from tests.factories import make_user

    rita = make_user(None, username="r.ramos", first_name="Rita", last_name="Ramos")
    other = make_user(None, username="raul", first_name="Raul", last_name="Reis")
    customer = ContactFactory(first_name="Clara", last_name="Souza")
    retracted = audit.record(actor=rita, action="comms.message.retracted", data={"x": 1})
    downloaded = audit.record(actor=customer, action="comms.attachment.downloaded", data={})
    signed_in = audit.record(actor=rita, action="accounts.user.signed_in", data={})
    audit.record(actor=other, action="comms.message.edited", data={})
    client.force_login(compliance)

    def seqs(**params):
        return sorted(e["seq"] for e in client.get(API, params).json()["results"])

    assert seqs(actor="Rita Ramos") == [retracted.seq, signed_in.seq]
    assert seqs(actor="ramos") == [retracted.seq, signed_in.seq]
    assert seqs(actor="r.ramos") == [retracted.seq, signed_in.seq]
    assert seqs(actor="Clara Souza") == [downloaded.seq]
    assert seqs(action="retracted") == seqs(action="retract") == [retracted.seq]
    assert seqs(action="downloaded") == [downloaded.seq]
    signed_in_all = AuditEvent.objects.filter(action="accounts.user.signed_in")  # compliance's too
    assert seqs(action="signed in") == sorted(signed_in_all.values_list("seq", flat=True))
    assert signed_in.seq in seqs(action="signed in")
    assert seqs(actor="Rita", action="retract") == [retracted.seq]
    assert seqs(actor="Nobody Here") == []
    page = client.get(LIST, {"actor": "Rita Ramos", "action": "retracted"}).content.decode()
    assert page.count('data-testid="audit-event-row"') == 1


@pytest.mark.django_db
def test_each_event_links_to_what_it_concerns(client, compliance, rep, settings, tmp_path):
    from comms import services as comms_services
    from tests.crm.factories import ContactFactory, DealFactory

    settings.MEDIA_ROOT = tmp_path
    contact = ContactFactory(owner=rep)
    deal = DealFactory(owner=rep, primary_contact=contact)
    conversation = comms_services.conversation_start(actor=rep, contact=contact, deal=deal)
    sent = comms_services.message_send(
        author=rep, conversation=conversation, body="oops", client_id="0" * 32
    )
    comms_services.message_retract(actor=rep, conversation=conversation, message_id=sent.message.pk)
    audit.record(actor=rep, action="crm.deal.changed", target=deal, data={})
    missing = audit.record(
        actor=None, action="crm.deal.changed", target=("crm.deal", "999999", "Gone")
    )
    client.force_login(compliance)
    page = client.get(LIST).content.decode()
    conversation_url = reverse("comms:conversation-detail", args=[conversation.pk])
    retracted = AuditEvent.objects.get(action="comms.message.retracted")
    assert f'href="{conversation_url}" data-testid="audit-target-link"' in page
    assert f'href="{reverse("crm:deal-detail", args=[deal.pk])}"' in page
    detail = client.get(reverse("audit:event-detail", args=[retracted.seq])).content.decode()
    versions_url = reverse("comms:message-versions", args=[sent.message.pk])
    assert f'href="{versions_url}" data-testid="audit-target-link"' in detail  # the message's
    detail = client.get(reverse("audit:event-detail", args=[missing.seq])).content.decode()
    assert 'data-testid="audit-target-link"' not in detail and "Gone" in detail
