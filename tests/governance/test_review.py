# ruff: noqa: F811 - pytest fixtures imported from tests.governance.dlp_fixtures
"""The supervision review queue: the weekly sample, DLP flags in the queue, decisions, the console
pages and API, and who may see them."""

import datetime as dt

import pytest
from django.http import Http404
from django.utils import timezone

from audit.models import AuditEvent
from comms import services
from comms.models import Message
from governance.models import DlpFlag, DlpRule, ReviewItem
from governance.services import review as review_services
from tests.comms.guards import record_guards_off
from tests.crm.factories import ContactFactory
from tests.factories import make_user
from tests.governance.dlp_fixtures import (  # noqa: F401 (fixtures)
    cid,
    conversation,
    link_and_token,
    set_action,
)

IBAN = "DE89 3704 0044 0532 0130 00"
LAST_WEEK = review_services.week_of(timezone.localdate()) - dt.timedelta(days=7)


def conversations_written_last_week(rep, contact, count, *, kind="web"):
    """`count` customer conversations in which `rep` wrote last week."""
    made = []
    for n in range(count):
        conversation = services.conversation_start(
            actor=rep, contact=contact, subject=f"Chat {n}", kind=kind
        )
        result = services.message_send(
            author=rep, conversation=conversation, body=f"hello {n}", client_id=cid()
        )
        made.append((conversation, result.message))
    when = timezone.make_aware(dt.datetime.combine(LAST_WEEK, dt.time(10)))
    with record_guards_off():
        Message.objects.filter(pk__in=[m.pk for _c, m in made]).update(created_at=when)
    return [c for c, _m in made]


def test_weekly_sample_takes_the_percentage_of_each_reps_conversations_once(
    rep, other_rep, customer_contact, settings
):
    settings.REVIEW_SAMPLE_PERCENT = 10
    mine = conversations_written_last_week(rep, customer_contact, 20)
    theirs = conversations_written_last_week(other_rep, ContactFactory(owner=other_rep), 3)
    # This week's messages are not last week's.
    services.message_send(author=rep, conversation=mine[0], body="today", client_id=cid())

    assert review_services.review_sample_week() == 2 + 1  # ceil(10% of 20), ceil(10% of 3)
    items = list(ReviewItem.objects.all())
    assert {i.week for i in items} == {LAST_WEEK}
    assert all(i.reason == "sample" and i.status == "open" for i in items)
    by_rep = {r: [i.conversation_id for i in items if i.rep_id == r.pk] for r in (rep, other_rep)}
    assert len(by_rep[rep]) == 2 and set(by_rep[rep]) <= {c.pk for c in mine}
    assert len(by_rep[other_rep]) == 1 and set(by_rep[other_rep]) <= {c.pk for c in theirs}

    # Run again (beat ran twice, a retry): nothing more.
    assert review_services.review_sample_week() == 0
    assert ReviewItem.objects.count() == 3
    events = AuditEvent.objects.filter(action="governance.review.sampled").order_by("seq")
    assert [e.data["items"] for e in events] == [3, 0]


def test_sample_leaves_out_internal_conversations_and_weeks_without_messages(
    rep, manager, customer_contact, settings
):
    settings.REVIEW_SAMPLE_PERCENT = 100
    services.internal_conversation_create(actor=rep, subject="Team", members=[manager])
    conversations_written_last_week(rep, customer_contact, 2)
    assert review_services.review_sample_week(week=LAST_WEEK - dt.timedelta(days=7)) == 0
    assert review_services.review_sample_week(week=LAST_WEEK + dt.timedelta(days=3)) == 2
    assert ReviewItem.objects.filter(week=LAST_WEEK).count() == 2


def test_zero_percent_samples_nothing_and_a_bad_percentage_is_refused(rep, customer_contact):
    conversations_written_last_week(rep, customer_contact, 4)
    assert review_services.review_sample_week(percent=0) == 0
    with pytest.raises(Exception) as refused:
        review_services.review_sample_week(percent=150)
    assert refused.value.status == 400


def test_the_beat_task_is_scheduled_weekly():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["governance-review-sample"]
    assert entry["task"] == "governance.tasks.review_sample_weekly"
    assert entry["schedule"].day_of_week == {1}


def test_every_dlp_flag_becomes_an_open_review_item(client, rep, conversation):
    client.force_login(rep)
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    for _ in range(2):
        response = client.post(
            url,
            {"client_id": cid(), "body": f"iban {IBAN}", "confirm_dlp": True},
            content_type="application/json",
        )
        assert response.status_code == 201
    assert DlpFlag.objects.count() == 2
    items = ReviewItem.objects.filter(reason="dlp")
    assert items.count() == 2 and {i.flag_id for i in items} == set(
        DlpFlag.objects.values_list("pk", flat=True)
    )


@pytest.fixture
def item(rep, conversation):
    message = services.message_send(
        author=rep, conversation=conversation, body="hello", client_id=cid()
    ).message
    return ReviewItem.objects.create(
        conversation=conversation,
        message=message,
        reason="sample",
        rep=rep,
        week=review_services.week_of(timezone.now()),
    )


def test_reviewer_marks_reviewed_audited(compliance, item):
    decided = review_services.review_decide(
        reviewer=compliance, item_id=item.pk, status="reviewed", comment=""
    )
    assert decided.status == "reviewed" and decided.reviewer == compliance
    assert decided.decided_at is not None
    event = AuditEvent.objects.get(action="governance.review.reviewed")
    assert event.actor_id == compliance.pk and event.target_id == str(item.pk)
    # Closed: a second decision is a conflict.
    with pytest.raises(Exception) as refused:
        review_services.review_decide(reviewer=compliance, item_id=item.pk, status="escalated")
    assert refused.value.status == 409


def test_escalation_needs_a_comment_and_is_audited(admin_user, item):
    with pytest.raises(Exception) as refused:
        review_services.review_decide(
            reviewer=admin_user, item_id=item.pk, status="escalated", comment="  "
        )
    assert refused.value.status == 400 and "comment" in refused.value.fields
    item.refresh_from_db()
    assert item.status == "open"
    assert not AuditEvent.objects.filter(action__startswith="governance.review.").exists()
    review_services.review_decide(
        reviewer=admin_user, item_id=item.pk, status="escalated", comment="Promised a discount"
    )
    event = AuditEvent.objects.get(action="governance.review.escalated")
    assert event.data["comment"] == "Promised a discount" and event.data["from"] == "open"
    # An escalated item can be closed later.
    review_services.review_decide(reviewer=admin_user, item_id=item.pk, status="reviewed")
    assert ReviewItem.objects.get(pk=item.pk).status == "reviewed"


@pytest.mark.parametrize("actor", ["rep", "manager"])
def test_reps_and_managers_cannot_decide(request, actor, item):
    user = request.getfixturevalue(actor)
    with pytest.raises(Exception) as refused:
        review_services.review_decide(reviewer=user, item_id=item.pk, status="reviewed")
    assert getattr(refused.value, "status", 404) == 404
    assert ReviewItem.objects.get(pk=item.pk).status == "open"


# --- pages and API: the permission matrix --------------------------------------------------------

PAGES = ["/compliance/review/", "/compliance/dlp/", "/compliance/dlp/flags/"]
API = ["/api/v1/compliance/review/"]


@pytest.mark.parametrize(
    "actor, status",
    [("rep", 404), ("other_rep", 404), ("manager", 404), ("compliance", 200), ("admin_user", 200)],
)
def test_permission_matrix(client, request, actor, status, item):
    client.force_login(request.getfixturevalue(actor))
    paths = [*PAGES, f"/compliance/review/{item.pk}/", *API, f"{API[0]}{item.pk}/"]
    for path in paths:
        assert client.get(path).status_code == status, path
    page_decision = client.post(f"/compliance/review/{item.pk}/", {"status": "escalated"})
    assert page_decision.status_code == (404 if status == 404 else 400)  # no comment
    decision = client.post(
        f"{API[0]}{item.pk}/decision/", {"status": "reviewed"}, content_type="application/json"
    )
    assert decision.status_code == status
    if status == 404:
        assert ReviewItem.objects.get(pk=item.pk).status == "open"


def test_console_lists_the_new_sections(client, compliance):
    client.force_login(compliance)
    page = client.get("/compliance/").content.decode()
    for path in PAGES:
        assert f'href="{path}"' in page


def test_only_admins_edit_the_policy_page(client, compliance, admin_user, rep, db):
    client.force_login(compliance)
    page = client.get("/compliance/dlp/")
    assert page.status_code == 200 and b'name="rule:card:web"' not in page.content
    assert b"Payment card number" in page.content
    refused = client.post("/compliance/dlp/", {"action": "policy", "rule:card:web": "allow"})
    assert refused.status_code == 404
    assert not DlpRule.objects.exists()

    client.force_login(admin_user)
    page = client.get("/compliance/dlp/")
    assert b'name="rule:card:web"' in page.content
    saved = client.post("/compliance/dlp/", {"action": "policy", "rule:card:web": "redact"})
    assert saved.status_code == 302
    assert DlpRule.objects.get(detector="card", channel="web").action == "redact"
    bad = client.post("/compliance/dlp/", {"action": "policy", "rule:card:internal": "redact"})
    assert bad.status_code == 400 and b"not possible" in bad.content
    created = client.post(
        "/compliance/dlp/",
        {"action": "pattern-create", "name": "Contract", "kind": "pattern", "text": r"CT-\d+"},
    )
    assert created.status_code == 302
    assert b"rule:pattern:contract:web" in client.get("/compliance/dlp/").content
    bad = client.post(
        "/compliance/dlp/",
        {"action": "pattern-create", "name": "Broken", "kind": "pattern", "text": "(x"},
    )
    assert bad.status_code == 400 and b"Not a valid regular expression" in bad.content


def test_review_page_shows_the_conversation_and_takes_a_decision(
    client, compliance, admin_user, rep, conversation, item
):
    set_action(admin_user, "card", "web", "redact")
    services.message_send(
        author=rep, conversation=conversation, body="card 4111 1111 1111 1111", client_id=cid()
    )
    client.force_login(compliance)
    page = client.get(f"/compliance/review/{item.pk}/")
    html = page.content.decode()
    assert "hello" in html and "card 4111 1111 1111 1111" in html  # the original, for review
    assert 'data-testid="redacted-mark"' in html
    refused = client.post(f"/compliance/review/{item.pk}/", {"status": "escalated"})
    assert refused.status_code == 400 and "Say why it is escalated." in refused.content.decode()
    saved = client.post(
        f"/compliance/review/{item.pk}/", {"status": "escalated", "comment": "Card sent"}
    )
    assert saved.status_code == 302
    assert ReviewItem.objects.get(pk=item.pk).status == "escalated"


def test_review_list_filters(client, compliance, rep, other_rep, conversation, item):
    other = ReviewItem.objects.create(
        conversation=conversation, reason="dlp", rep=other_rep, week=item.week, status="escalated"
    )
    client.force_login(compliance)

    def rows(query):
        html = client.get(f"/compliance/review/?{query}").content.decode()
        return [pk for pk in (item.pk, other.pk) if f"/compliance/review/{pk}/" in html]

    assert rows("") == [item.pk]  # open by default
    assert rows("status=escalated") == [other.pk]
    assert rows("status=&reason=dlp") == [other.pk]
    assert rows(f"status=&rep={rep.pk}") == [item.pk]
    assert rows("status=nonsense") == [item.pk]  # told, and shown the open ones
    api = client.get(f"/api/v1/compliance/review/?status=&rep={other_rep.pk}").json()
    assert [r["id"] for r in api["results"]] == [other.pk]
    assert client.get("/api/v1/compliance/review/?reason=x").status_code == 400
    assert client.get("/api/v1/compliance/review/?rep=abc").status_code == 400


def test_api_detail_and_decision(client, compliance, item):
    client.force_login(compliance)
    detail = client.get(f"/api/v1/compliance/review/{item.pk}/").json()
    assert detail["status"] == "open" and [m["body"] for m in detail["messages"]] == ["hello"]
    url = f"/api/v1/compliance/review/{item.pk}/decision/"
    refused = client.post(url, {"status": "escalated"}, content_type="application/json")
    assert refused.status_code == 400 and refused.json()["fields"]["comment"]
    assert client.post(url, {"status": 3}, content_type="application/json").status_code == 400
    done = client.post(
        url, {"status": "escalated", "comment": "Check"}, content_type="application/json"
    )
    assert done.status_code == 200 and done.json()["status"] == "escalated"
    assert client.get("/api/v1/compliance/review/999999/").status_code == 404


def test_flags_page_shows_masked_findings_only(client, compliance, rep, conversation):
    services.message_send(
        author=rep,
        conversation=conversation,
        body=f"iban {IBAN}",
        client_id=cid(),
        confirm_dlp=True,
    )
    client.force_login(compliance)
    html = client.get("/compliance/dlp/flags/").content.decode()
    assert "•••• •••• •••• •••• ••30 00" in html and IBAN not in html


@pytest.mark.parametrize("size", [3, 12])
def test_queue_pages_cost_constant_queries(
    client, compliance, rep, conversation, size, django_assert_max_num_queries
):
    week = review_services.week_of(timezone.now())
    for n in range(size):
        person = make_user("Sales rep", username=f"r{size}_{n}")
        ReviewItem.objects.create(conversation=conversation, reason="dlp", rep=person, week=week)
    client.force_login(compliance)
    with django_assert_max_num_queries(12):
        assert client.get("/compliance/review/").status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get("/api/v1/compliance/review/").status_code == 200


def test_missing_item_is_404(client, compliance, db):
    client.force_login(compliance)
    assert client.get("/compliance/review/424242/").status_code == 404
    with pytest.raises(Http404):
        from governance import selectors

        selectors.review_item_get_for(make_user("Sales rep", username="x"), 1)
