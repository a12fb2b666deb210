import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from comms import services
from tests.crm.factories import DealFactory


def ensure_default_pipeline():
    """Transactional tests flush the tables the data migration filled: fill them again."""
    import importlib

    from django.apps import apps

    module = importlib.import_module("crm.migrations.0002_default_pipeline")
    module.create_default_pipeline(apps, None)


@pytest.fixture
def deal(db, rep, customer_contact):
    ensure_default_pipeline()
    deal = DealFactory(title="Fleet renewal", owner=rep, primary_contact=customer_contact)
    deal.contacts.add(customer_contact)
    return deal


@pytest.fixture
def conversation(db, rep, customer_contact, deal):
    return services.conversation_start(
        actor=rep, contact=customer_contact, deal=deal, subject="Renewal chat"
    )


@pytest.fixture
def link_and_token(db, rep, conversation):
    return services.customer_link_issue(actor=rep, conversation=conversation)


def cid() -> str:
    return str(uuid.uuid4())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def daphne_url(transactional_db):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: the test process and daphne share the channel layer")
    db = settings.DATABASES["default"]
    url = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "ALLOWED_HOSTS": "127.0.0.1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("daphne did not start")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        # Sockets a failed test left open can hold daphne's graceful shutdown: never leave it
        # running (it would keep the test database busy for the runs after this one).
        process.kill()
        process.wait(timeout=10)
