"""The demo's WhatsApp channel in a real browser against daphne (a separate process) on
PostgreSQL + Redis: the simulator's customer writes "from WhatsApp" over real HTTP and the rep
sees it live on the deal page; the rep's reply, and a template once the 24-hour window has
closed, reach the simulator as valid Cloud API requests. No Celery worker runs: the test does
the worker's part (the queued task's function, on the ids the worker would get)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from comms.models import Conversation, Message
from connectors import demo
from connectors.models import ChannelAccount, InboundEvent, MessageTemplate, OutboundDelivery
from connectors.tasks import inbound_events_process, outbound_send
from tests.comms.conftest import daphne_url  # noqa: F401  (fixture)
from tests.comms.guards import record_guards_off
from tests.comms.test_customer_page import in_thread
from tests.comms.test_live_chat import CHAT_OPEN

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _worker_processes_inbound():
    ids = list(
        InboundEvent.objects.filter(processed_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert ids, "the webhook stored no event"
    in_thread(inbound_events_process, event_ids=ids)


def _worker_sends(message_id) -> OutboundDelivery:
    delivery = OutboundDelivery.objects.get(message_id=message_id)
    in_thread(outbound_send, delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


@pytest.fixture
def demo_deal_page(daphne_url, page, provider_simulator):  # noqa: F811
    for command in ("seed_demo", "seed_demo_channels"):  # what `make run` seeds
        in_thread(call_command, command_name=command, stdout=StringIO())
    account = ChannelAccount.objects.get(kind="whatsapp")
    account.settings = {**account.settings, "api_base_url": provider_simulator.base_url}
    account.save(update_fields=["settings"])
    provider_simulator.target = daphne_url
    conversation = Conversation.objects.get(kind="whatsapp", deal__title=demo.DEAL_TITLE)
    page.set_default_timeout(15_000)
    page.goto(f"{daphne_url}/login/")
    page.fill("#id_username", "rep1")
    page.fill("#id_password", "keepline-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{daphne_url}/")
    url = f"{daphne_url}{conversation.deal.get_absolute_url()}?conversation={conversation.pk}"
    page.goto(url)
    page.wait_for_function(CHAT_OPEN)
    return page, conversation, url


def test_customer_on_whatsapp_appears_live_and_the_reply_reaches_the_simulator(
    demo_deal_page, provider_simulator
):
    page, conversation, _url = demo_deal_page
    provider_simulator.send_whatsapp("Is my order ready?")  # signed, over HTTP, to daphne
    _worker_processes_inbound()
    inbound = page.locator("[data-testid=chat-messages] li.msg.inbound")
    inbound.wait_for()
    assert "Is my order ready?" in inbound.inner_text()

    page.fill("[data-role=input]", "Yes, it ships today.")
    page.press("[data-role=input]", "Enter")
    mine = page.locator("[data-testid=chat-messages] li.msg.mine:not(.pending)")
    mine.wait_for()
    delivery = _worker_sends(int(mine.get_attribute("data-id")))
    [sent] = provider_simulator.sends  # the simulator checked the token and the payload
    assert (sent.type, sent.text) == ("text", "Yes, it ships today.")
    assert sent.to.lstrip("+") == provider_simulator.settings.customer_number.lstrip("+")
    assert delivery.state == "sent" and delivery.provider_id == sent.provider_id


def test_closed_window_offers_templates_with_a_field_per_value(demo_deal_page, provider_simulator):
    page, conversation, url = demo_deal_page
    provider_simulator.send_whatsapp("Hello?")
    _worker_processes_inbound()
    with record_guards_off():  # time travel: only the tables' owner could
        Message.objects.filter(conversation=conversation, direction="inbound").update(
            created_at=timezone.now() - timedelta(hours=25)
        )
    MessageTemplate.objects.create(
        account=ChannelAccount.objects.get(kind="whatsapp"),
        name="order_update",
        language="en",
        body="Hi {{1}}, your order {{2}} is on its way.",
        approved=True,
    )
    page.goto(url)
    page.wait_for_function(CHAT_OPEN)
    notice = page.get_by_test_id("channel-notice")
    assert "24-hour window is closed" in notice.inner_text()
    fields = page.locator("[data-testid=template-variables] input")
    assert fields.count() == 2
    fields.nth(0).fill("Casey")
    fields.nth(1).fill("#1042")
    preview = page.get_by_test_id("template-preview")
    assert preview.inner_text() == "Hi Casey, your order #1042 is on its way."
    page.get_by_test_id("template-picker").locator("button[type=submit]").click()
    row = page.locator(
        "[data-testid=chat-messages] li.msg.mine", has_text="your order #1042 is on its way"
    )
    row.wait_for()
    _worker_sends(int(row.get_attribute("data-id")))
    [sent] = provider_simulator.sends
    assert (sent.type, sent.template, sent.language, sent.variables) == (
        "template",
        "order_update",
        "en",
        ("Casey", "#1042"),
    )
