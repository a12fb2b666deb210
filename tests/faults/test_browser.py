"""A Redis outage in real browsers (issue 11): a rep's deal page and a customer's page open on
daphne with a Redis of the test's own; Redis stops; messages are sent from both pages and
stored by a service (whose broadcast daphne never hears) while it is down; Redis comes back.
Both pages show every message without a reload."""

import os
import shutil
import uuid

import pytest
from django.conf import settings

from bench import faults_harness as fh
from comms import services
from comms.models import Message
from tests.comms.test_customer_page import in_thread
from tests.factories import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

CHAT_OPEN = (
    "() => { const chat = (document.querySelector('[data-chat]') || {}).keeplineChat;"
    " return !!(chat && chat.ws && chat.ws.readyState === 1); }"
)


@pytest.fixture
def outage_server(transactional_db, tmp_path):
    """(base URL, the Redis daphne uses): one daphne on the test database, DEBUG on (static
    files from the finders), a Redis of the test's own."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL (the CI pass on PostgreSQL + Redis)")
    if not shutil.which("redis-server"):
        if os.environ.get("CI"):
            pytest.fail("the PostgreSQL + Redis pass must run this, and no redis-server is on PATH")
        pytest.skip("starts its own redis-server: none on PATH")
    redis = fh.RedisServer().start()
    env = fh.server_env(
        fh.database_url_of(settings.DATABASES["default"]),
        redis.url,
        settings.SECRET_KEY,
        # The suite's settings (tests/settings.py): its people's passwords are hashed with them.
        {"DEBUG": "1", "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]},
    )
    servers = fh.Servers(env, 1, str(tmp_path))
    try:
        servers.start()
        yield f"http://127.0.0.1:{servers.ports[0]}", redis
    finally:
        servers.stop()
        redis.close()
        print(servers.log_tail())


def test_pages_show_every_message_sent_during_a_redis_outage_without_a_reload(
    outage_server, browser, rep, deal, conversation, link_and_token
):
    base, redis = outage_server
    _link, token = link_and_token
    rep_context = browser.new_context(viewport={"width": 1200, "height": 900})
    customer_context = browser.new_context(viewport={"width": 375, "height": 740})
    try:
        rep_page = rep_context.new_page()
        rep_page.set_default_timeout(15_000)
        rep_page.goto(f"{base}/login/")
        rep_page.fill("#id_username", rep.username)
        rep_page.fill("#id_password", PASSWORD)
        rep_page.click("button[type=submit]")
        rep_page.wait_for_url(f"{base}/")
        rep_page.goto(f"{base}{deal.get_absolute_url()}")
        rep_page.get_by_test_id("chat-panel").wait_for()
        customer = customer_context.new_page()
        customer.set_default_timeout(15_000)
        customer.goto(f"{base}/c/{token}/")
        customer.wait_for_function(
            "() => document.getElementById('chat-status').textContent === ''"
        )
        rep_page.wait_for_function(CHAT_OPEN)

        # Live first: one message each way.
        rep_page.fill("[data-role=input]", "before the outage")
        rep_page.press("[data-role=input]", "Enter")
        customer.locator("#messages li", has_text="before the outage").wait_for()

        redis.stop()
        rep_page.wait_for_timeout(1000)
        for n in range(3):
            rep_page.fill("[data-role=input]", f"rep during the outage {n}")
            rep_page.press("[data-role=input]", "Enter")
            customer.get_by_test_id("composer").fill(f"customer during the outage {n}")
            customer.get_by_test_id("composer").press("Enter")
        # Stored by a service in this process: its broadcast goes to this process's channel
        # layer, which daphne never hears, like a publish lost with Redis.
        for n in range(2):
            in_thread(
                services.message_send,
                author=rep,
                conversation=conversation,
                body=f"service during the outage {n}",
                client_id=str(uuid.uuid4()),
            )
        # Every send made from a page is stored (acknowledged) while Redis is down.
        rep_page.wait_for_selector("[data-testid=chat-messages] li.msg.pending", state="detached")
        customer.wait_for_selector("#messages li.pending", state="detached")
        redis.start()

        stored = list(Message.objects.filter(conversation=conversation).order_by("id"))
        assert len(stored) == 1 + 6 + 2
        ids = [m.pk for m in stored]
        rep_page.wait_for_function(
            'ids => ids.every(id => document.querySelector(`li.msg[data-id="${id}"]`))',
            arg=ids,
            timeout=10_000,
        )
        customer.wait_for_function(
            'ids => ids.every(id => document.querySelector(`#messages li[data-id="${id}"]`))',
            arg=ids,
            timeout=10_000,
        )
        for m in stored:
            assert m.body in rep_page.locator(f'li.msg[data-id="{m.pk}"]').inner_text()
            assert m.body in customer.locator(f'#messages li[data-id="{m.pk}"]').inner_text()
        assert rep_page.locator("[data-testid=chat-messages] li.msg").count() == len(ids)
        assert customer.locator("#messages li.msg").count() == len(ids)
    finally:
        rep_context.close()
        customer_context.close()
