"""The demo's WhatsApp channel: after `make run`'s seeding, a customer message signed the way
`channel_simulator` signs it lands in the WhatsApp conversation on rep1's demo deal."""

from io import StringIO

from django.core.management import call_command

from comms.models import Conversation, Message
from connectors import demo
from connectors.models import ChannelAccount
from connectors.simulator import SimulatorSettings
from tests.connectors.helpers import post_whatsapp, wa_message


def test_demo_whatsapp_account_receives_the_simulator_customer_on_the_deal(
    db, client, provider_simulator, django_capture_on_commit_callbacks
):
    call_command("seed_demo", stdout=StringIO())
    for _ in range(2):  # idempotent
        call_command("seed_demo_channels", stdout=StringIO())
    account = ChannelAccount.objects.get(kind="whatsapp")
    assert account.setting("api_base_url") == demo.SIMULATOR_URL
    assert account.secret("app_secret") == SimulatorSettings().app_secret
    conversation = Conversation.objects.get(kind="whatsapp")
    assert conversation.deal.title == demo.DEAL_TITLE
    assert conversation.assignee.username == "rep1"

    payload = wa_message(
        provider_simulator,
        text="Is my order ready?",
        from_number=SimulatorSettings().customer_number,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    message = Message.objects.get(conversation=conversation, direction="inbound")
    assert message.body == "Is my order ready?"


def test_a_sender_number_that_is_not_valid_fails_the_event_without_raising(
    db, client, provider_simulator, team, django_capture_on_commit_callbacks
):
    from connectors.models import InboundEvent
    from tests.connectors.helpers import whatsapp_account

    whatsapp_account(provider_simulator, team=team)
    payload = wa_message(provider_simulator, from_number="+15557654321")  # 555: not assignable
    with django_capture_on_commit_callbacks(execute=True):
        assert post_whatsapp(client, provider_simulator, payload).status_code == 200
    event = InboundEvent.objects.get()
    assert event.processed_at is not None
    assert "not a valid phone number" in event.error
    assert not Message.objects.exists()
