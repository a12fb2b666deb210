"""Per-socket limits on a real daphne (config/ws_limits.py): a socket whose client stops reading is
closed with 4408 once daphne holds more than COMMS_SOCKET_BUFFER_BYTES for it, and the room goes
on; a frame above daphne's message limit is answered with an error frame, not a dropped socket."""

import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from websockets.sync.client import connect

from comms import services
from tests.comms.conftest import _free_port
from tests.comms.sockets import _cookie

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BOUND = 64 * 1024
# daphne's CLI, with a probe that reports what each socket's transport holds: its peak after any
# write (checked on every write, so no peak is missed between samples) and the bytes held now.
PROBE = """
import sys
import weakref
import daphne.server  # installs the asyncio reactor first
from twisted.internet import abstract, reactor, task
from daphne import ws_protocol
from daphne.cli import CommandLineInterface

def held(t):
    return len(t.dataBuffer) - t.offset + t._tempDataLen

peaks = {}
write = abstract.FileDescriptor.write
def counted(self, data):
    write(self, data)
    peaks[id(self)] = max(peaks.get(id(self), 0), held(self))
abstract.FileDescriptor.write = counted

sockets = []
opened = ws_protocol.WebSocketProtocol.onOpen
def on_open(self):
    sockets.append((self.client_addr[1], weakref.ref(self.transport), id(self.transport)))
    opened(self)
ws_protocol.WebSocketProtocol.onOpen = on_open

def report():
    # held and connected are 0 once the transport is garbage (its buffer freed)
    for port, ref, key in sockets:
        transport = ref()
        print("PROBE", port, held(transport) if transport else 0, peaks.get(key, 0),
              int(bool(transport and transport.connected)), int(transport is not None),
              file=sys.stderr, flush=True)
reactor.callWhenRunning(lambda: task.LoopingCall(report).start(0.2))
sys.argv = ["daphne"] + sys.argv[1:]
CommandLineInterface.entrypoint()
"""


@pytest.fixture
def daphne(transactional_db, tmp_path):
    """(port, log file) of a daphne with a 64 KiB socket buffer bound, on the test database."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: the test process and daphne share the channel layer")
    db = settings.DATABASES["default"]
    url = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "1",
        "ALLOWED_HOSTS": "127.0.0.1",
        "COMMS_SOCKET_BUFFER_BYTES": str(BOUND),
    }
    log = tmp_path / "daphne.log"
    argv = ["-c", PROBE, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, *argv], env=env, stdout=out, stderr=out)
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
    yield port, log
    process.kill()
    process.wait(timeout=10)


def probe(log_path, client_port: int) -> tuple[int, int, bool, bool] | None:
    """The last (held, peak, connected, alive) the probe reported for the socket from
    client_port."""
    last = None
    with log_path.open() as log:
        for line in log:
            parts = line.split()
            if parts[:2] == ["PROBE", str(client_port)]:
                last = (int(parts[2]), int(parts[3]), parts[4] == "1", parts[5] == "1")
    return last


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout}s")


class RawSocket:
    """A WebSocket client on a plain TCP socket, so it can stop reading (a tiny receive buffer
    and no recv()) while daphne goes on writing to it."""

    def __init__(self, port: int, path: str, cookie: str, rcvbuf: int | None = None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\nCookie: {cookie}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def frame(self) -> tuple[int, bytes]:
        first, second = self._take(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._take(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._take(8))
        return first & 0x0F, self._take(length)

    def drain(self, timeout: float) -> tuple[int, int | None]:
        """Read to the end: (payload bytes of text frames read, close code or None on EOF)."""
        self.sock.settimeout(timeout)
        total = 0
        try:
            while True:
                opcode, payload = self.frame()
                if opcode == 8:
                    return total, struct.unpack("!H", payload[:2])[0]
                if opcode == 1:
                    total += len(payload)
        except (EOFError, ConnectionResetError):
            return total, None


def staff_ws(port: int, conversation_id: int, user, **kwargs):
    return connect(
        f"ws://127.0.0.1:{port}/ws/conversations/{conversation_id}/",
        origin="http://127.0.0.1",
        additional_headers={"Cookie": _cookie(user).decode()},
        open_timeout=10,
        **kwargs,
    )


def next_frame(ws, wanted: str, timeout: float = 5, seen: list | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if seen is not None:
            seen.append(got)
        if got["type"] == wanted:
            return got


def online(frames: list) -> list[int] | None:
    """Who the last presence frame among frames lists."""
    lists = [[a["id"] for a in f["online"]] for f in frames if f["type"] == "presence"]
    return lists[-1] if lists else None


def test_a_socket_that_stops_reading_is_closed_with_4408_and_the_room_goes_on(
    daphne, rep, admin_user, conversation
):
    port, log = daphne
    path = f"/ws/conversations/{conversation.pk}/"
    stalled = RawSocket(port, path, _cookie(rep).decode(), rcvbuf=4096)
    _opcode, ready = stalled.frame()
    assert json.loads(ready)["type"] == "ready"
    with staff_ws(port, conversation.pk, admin_user, max_queue=None) as reader:
        frames = [next_frame(reader, "ready")]
        frames[0]["online"] = frames[0]["presence"]
        frames[0]["type"] = "presence"
        while rep.pk not in online(frames):
            next_frame(reader, "presence", seen=frames)
        body = "x" * 4000  # each message.created frame is about 9 KB (body and body_html)
        sent = [
            services.message_send(
                author=admin_user, conversation=conversation, body=body, client_id=uuid.uuid4()
            ).message.pk
            for _ in range(150)
        ]
        seen = set()
        while len(seen) < len(sent):
            seen.add(next_frame(reader, "message.created", seen=frames)["message"]["id"])
        assert seen == set(sent)

        # The stalled socket's buffer passed the bound: closed with 4408, logged once.
        closed = wait_for(
            lambda: re.findall(r"closed with 4408.*\((\d+) bytes buffered", log.read_text()),
            5,
            "4408 close in daphne's log",
        )
        assert len(closed) == 1 and BOUND < int(closed[0]) < BOUND + 20_000
        # It never held more than the bound and one frame (and the close frame), and the
        # connection is dropped after the grace period, which frees what it held.
        held, peak, connected, alive = wait_for(
            lambda: (got := probe(log, stalled.port)) and not got[2] and got,
            10,
            "dropped stalled socket",
        )
        assert BOUND < peak < BOUND + 20_000 and held == 0
        print(f"stalled socket: peak {peak} bytes held; after the drop {held} (alive {alive})")

        # Its consumer ran disconnect (left the room: presence without the rep); the other
        # member goes on receiving.
        while online(frames) is None or rep.pk in online(frames):
            next_frame(reader, "presence", seen=frames)
        later = services.message_send(
            author=admin_user, conversation=conversation, body="still here", client_id=uuid.uuid4()
        ).message.pk
        assert next_frame(reader, "message.created")["message"]["id"] == later
    stalled.sock.close()


def test_a_socket_that_reads_late_sees_4408(daphne, rep, admin_user, conversation):
    port, log = daphne
    stalled = RawSocket(
        port, f"/ws/conversations/{conversation.pk}/", _cookie(rep).decode(), rcvbuf=4096
    )
    stalled.frame()
    for _ in range(60):
        services.message_send(
            author=admin_user, conversation=conversation, body="y" * 4000, client_id=uuid.uuid4()
        )
    wait_for(lambda: "closed with 4408" in log.read_text(), 5, "4408 close")
    # Within the grace period a client that reads again gets what was buffered, then 4408.
    received, code = stalled.drain(timeout=5)
    print(f"late reader: {received} bytes of frames, then close {code}")
    assert code == 4408
    assert received < BOUND + 400_000  # the bound, one frame and the kernel's socket buffers
    stalled.sock.close()


@pytest.mark.parametrize("size", [100_000, 1_000_000, 2 * 1024 * 1024, 20_000_000])
def test_an_oversize_frame_gets_an_error_frame_and_the_socket_stays_open(
    daphne, rep, conversation, size
):
    port, _log = daphne
    with staff_ws(port, conversation.pk, rep, max_size=None) as ws:
        next_frame(ws, "ready")
        frame = json.dumps({"action": "send", "client_id": str(uuid.uuid4()), "body": "z" * size})
        ws.send(frame)
        error = next_frame(ws, "error", timeout=10)
        assert error["error"] == "too_long" and error["detail"]
        ws.send(json.dumps({"action": "ping"}))
        assert next_frame(ws, "pong")["type"] == "pong"


def test_a_frame_above_the_hard_cap_gets_an_error_frame_then_1009(daphne, rep, conversation):
    """Decided on the frame's header: only the header and a little payload are sent."""
    from config.ws_limits import HARD_CAP_BYTES

    port, _log = daphne
    raw = RawSocket(port, f"/ws/conversations/{conversation.pk}/", _cookie(rep).decode())
    assert json.loads(raw.frame()[1])["type"] == "ready"
    header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", HARD_CAP_BYTES + 1) + bytes(4)
    raw.sock.sendall(header + b"z" * 65536)
    raw.sock.settimeout(5)
    frames = []
    while not frames or frames[-1][0] != 8:
        frames.append(raw.frame())
    texts = [json.loads(payload) for opcode, payload in frames if opcode == 1]
    assert [t["error"] for t in texts if t["type"] == "error"] == ["too_long"]
    assert struct.unpack("!H", frames[-1][1][:2])[0] == 1009
    raw.sock.close()
