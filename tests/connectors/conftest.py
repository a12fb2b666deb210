"""Fixtures for the channel connectors: the provider simulator over real loopback sockets.

`provider_simulator`: one simulator per test session on a free loopback port, reset (sends,
calls, failures, media, target, auto statuses) before each test. Point clients at it with
`provider_simulator.whatsapp_config()` / `.twilio_config()`; to have it post webhooks to a
Keepline under test, set `provider_simulator.target = live_server.url`.

`webhook_receiver`: a bare loopback HTTP server that records what the simulator posts (method,
path, headers, raw body, its own full URL) and answers 200, for tests that check the webhooks
themselves without Keepline's views.
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.providers import close_clients
from connectors.simulator import ProviderSimulator


@pytest.fixture(scope="session")
def _provider_simulator_server():
    simulator = ProviderSimulator(port=0).start()
    yield simulator
    simulator.stop()
    close_clients()


@pytest.fixture
def provider_simulator(_provider_simulator_server):
    simulator = _provider_simulator_server
    simulator.reset()
    simulator.target = ""
    simulator.auto_status = False
    yield simulator
    simulator.reset()


@dataclass
class ReceivedRequest:
    method: str
    path: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    base_url: str = ""
    requests: list[ReceivedRequest] = field(default_factory=list)
    status: int = 200
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """The first `count` requests, waiting for them to arrive."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            assert len(self.requests) >= count, f"{len(self.requests)} of {count} webhooks arrived"
            return list(self.requests[:count])


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = ReceivedRequest(
                method="POST",
                path=self.path,
                url=receiver.base_url + self.path,
                headers={k: v for k, v in self.headers.items()},
                body=body,
            )
            with receiver.arrived:
                receiver.requests.append(request)
                receiver.arrived.notify_all()
            self.send_response(receiver.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    receiver.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


class SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for Django's backend without TLS: records each DATA."""

    def handle(self):
        self.wfile.write(b"220 test\r\n")
        while line := self.rfile.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.server.received.append(data)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server():
    """A loopback SMTP server (no TLS) that keeps each message's DATA in `.received`."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpHandler)
    server.daemon_threads = True
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
