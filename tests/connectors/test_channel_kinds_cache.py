"""Issue 16: the kinds a conversation may be started in are read once, not on every page, and
a channel account saved or deleted changes the offer at the next page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comms import channel_registry
from connectors.models import ChannelAccount
from tests.factories import make_channel_account

pytestmark = pytest.mark.django_db


def offered() -> tuple[list[str], int]:
    with CaptureQueriesContext(connection) as ctx:
        kinds = channel_registry.available_kinds()
    return kinds, len(ctx.captured_queries)


def test_the_offer_is_cached_and_follows_every_account_change(django_capture_on_commit_callbacks):
    assert offered() == (["web", "internal"], 1)
    assert offered() == (["web", "internal"], 0)
    with django_capture_on_commit_callbacks(execute=True):
        account = make_channel_account("whatsapp")
    assert offered() == (["web", "whatsapp", "internal"], 1)
    assert offered()[1] == 0
    with django_capture_on_commit_callbacks(execute=True):
        account.is_active = False
        account.save(update_fields=["is_active"])
    assert offered()[0] == ["web", "internal"]
    with django_capture_on_commit_callbacks(execute=True):
        make_channel_account("sms")
    assert "sms" in offered()[0]
    with django_capture_on_commit_callbacks(execute=True):
        ChannelAccount.objects.filter(kind="sms").delete()
    assert offered()[0] == ["web", "internal"]
