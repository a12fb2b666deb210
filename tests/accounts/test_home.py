"""Issue 15, "A rep's home": unread conversations, those waiting for the rep's reply, activities
due today and overdue, the rep's open deals by stage with totals; each with an empty state that
says what to do; the profile as a side card; queries constant in the data's size."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from comms import services
from crm import selectors as crm_selectors
from crm.models import Activity, Deal, Stage
from tests.comms.conftest import cid, ensure_default_pipeline
from tests.crm.factories import ActivityFactory, ContactFactory, DealFactory
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HOME = reverse("accounts:home")


def text_of(html: str, testid: str) -> str:
    """The text of the element with that data-testid up to the end of its section."""
    start = html.index(f'data-testid="{testid}"')
    end = html.find("</section>", start)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[start:end]))


def stage(index: int) -> Stage:
    ensure_default_pipeline()
    return Stage.objects.filter(pipeline__is_default=True).order_by("position")[index]


def customer_writes(owner, first_name: str, body: str):
    contact = ContactFactory(owner=owner, first_name=first_name, last_name="Cliente")
    conversation = services.conversation_start(actor=owner, contact=contact)
    link, _token = services.customer_link_issue(actor=owner, conversation=conversation)
    services.message_receive(link=link, body=body, client_id=cid())
    return conversation


def test_a_new_rep_sees_what_to_do_in_every_section(client, rep):
    client.force_login(rep)
    html = client.get(HOME).content.decode()
    assert "You are all caught up" in text_of(html, "home-unread")
    assert "Nobody is waiting for you" in text_of(html, "home-waiting-empty")
    assert "Add a task with a due date" in text_of(html, "home-activities-empty")
    assert "Create one from the Deals page" in text_of(html, "home-deals-empty")
    # The profile stays, as a side card.
    assert 'data-testid="profile-name"' in html and 'data-testid="cover-link"' in html
    assert "Turn on notifications" in html


def test_the_home_shows_unread_waiting_due_and_deals_by_stage(client, rep, other_rep):
    now = timezone.now()
    waiting = customer_writes(rep, "Wanda", "Can you send the quote?")
    customer_writes(other_rep, "Otto", "not the rep's")
    first, second = stage(0), stage(1)
    deal = DealFactory(owner=rep, stage=first, amount=Decimal("1234567.50"), currency="EUR")
    DealFactory(owner=rep, stage=first, amount=Decimal("1000"), currency="EUR")
    DealFactory(owner=rep, stage=second, amount=Decimal("250"), currency="BRL")
    DealFactory(owner=rep, stage=second, amount=Decimal("999"), currency="BRL", status="won")
    DealFactory(owner=other_rep, stage=first, amount=Decimal("5"), currency="EUR")
    task = Activity.Kind.TASK
    ActivityFactory(
        author=rep, deal=deal, kind=task, subject="Call back", due_at=now - timedelta(days=1)
    )
    ActivityFactory(
        author=rep, deal=deal, kind=task, subject="Send contract", due_at=now + timedelta(minutes=1)
    )
    ActivityFactory(
        author=rep, deal=deal, kind=task, subject="Next week", due_at=now + timedelta(days=8)
    )
    ActivityFactory(author=rep, deal=deal, kind=task, subject="Done already", due_at=now, done=True)

    client.force_login(rep)
    html = client.get(HOME).content.decode()
    unread = text_of(html, "home-unread")
    assert "Wanda Cliente" in unread and "Can you send the quote?" in unread
    assert "Otto" not in html
    assert re.search(r'data-testid="home-unread-total">1<', html)
    assert "Wanda Cliente" in text_of(html, "home-waiting-list")
    assert reverse("comms:conversation-detail", args=[waiting.pk]) in html
    due = text_of(html, "home-activity-list")
    assert "Call back" in due and "overdue" in due
    assert due.index("Call back") < due.index("Send contract")
    assert "Next week" not in due and "Done already" not in due
    deals = text_of(html, "home-deal-stages")
    assert re.search(rf"{first.name} 2 €1,235,567.50", deals), deals
    assert re.search(rf"{second.name} 1 R\$250.00", deals), deals


def test_activities_due_include_those_on_the_reps_deals_written_by_someone_else(rep, manager):
    now = timezone.now()
    ensure_default_pipeline()
    deal = DealFactory(owner=rep)
    ActivityFactory(author=manager, deal=deal, subject="Chase the PO", due_at=now)
    elsewhere = DealFactory(owner=manager)
    ActivityFactory(author=manager, deal=elsewhere, subject="Manager's own", due_at=now)
    due = crm_selectors.activities_due_for(rep)
    assert [a.subject for a in due["items"]] == ["Chase the PO"]


def test_home_queries_do_not_grow_with_the_reps_data(client, rep, django_assert_max_num_queries):
    ensure_default_pipeline()

    def grow(n):
        now = timezone.now()
        for i in range(n):
            customer_writes(rep, f"C{i}", "hello")
            deal = DealFactory(owner=rep, stage=stage(i % 3))
            ActivityFactory(author=rep, deal=deal, due_at=now - timedelta(hours=i))
            customer_writes(make_user(roles.REP), f"O{i}", "elsewhere")

    client.force_login(rep)
    grow(1)
    client.get(HOME)
    with django_assert_max_num_queries(20) as small:
        client.get(HOME)
    grow(15)
    with django_assert_max_num_queries(len(small.captured_queries)):
        html = client.get(HOME).content.decode()
    assert re.search(r'data-testid="home-unread-total">16<', html)
    assert Deal.objects.filter(owner=rep).count() == 16


def test_everyone_gets_a_home_even_those_who_hold_nothing(client, compliance, admin_user, manager):
    customer_writes(make_user(roles.REP), "Someone", "hello")
    for person in (compliance, admin_user, manager):
        client.force_login(person)
        html = client.get(HOME).content.decode()
        # They see conversations they do not hold; none is theirs to answer.
        assert "You are all caught up" in html and "Someone" not in html, person
