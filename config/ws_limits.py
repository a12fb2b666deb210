"""What one WebSocket may cost daphne, for sockets that stop reading and frames that are too big.

Installed by config/asgi.py: daphne's Server builds every socket from
`daphne.ws_protocol.WebSocketFactory.protocol`, so that class attribute is replaced by
`LimitedWebSocketProtocol` before daphne's reactor starts.

- Outgoing: an ASGI `send` never waits, so for a client that stops reading, the kernel's send
  buffer (autotuned up to net.ipv4.tcp_wmem's maximum, 4 MiB) and then Twisted's transport buffer
  every frame for it without limit. The kernel's share is capped (SO_SNDBUF,
  `KERNEL_SEND_BUFFER_BYTES`, which Linux doubles); before each frame the socket checks what its
  transport still holds, and past `COMMS_SOCKET_BUFFER_BYTES` it writes nothing more and closes
  with 4408 ("resync": reconnect and catch up). A peer that never reads cannot complete the close
  handshake, so the TCP connection is dropped `CLOSE_GRACE_SECONDS` later, which frees the buffer;
  daphne then sends `websocket.disconnect` to the application, which leaves its groups.
- Incoming: daphne's own limit (`--websocket-max-message-size`, 1 MiB by default) used to drop the
  TCP connection. A message above it is now discarded as it streams in (never buffered) and
  answered with a `too_long` error frame; the socket stays open. Only a message above
  `HARD_CAP_BYTES` still ends the socket: the error frame, then close 1009.
"""

import json
import logging
import socket

from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from django.conf import settings
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

CLOSE_RESYNC = 4408
# Time a slow (not dead) reader gets to read up to the 4408 close frame before the drop.
CLOSE_GRACE_SECONDS = 5
# The kernel's send buffer for a socket (SO_SNDBUF; Linux doubles it): 256 KiB in flight per
# round trip is far more than a chat needs, and a stalled reader's kernel share stays small.
KERNEL_SEND_BUFFER_BYTES = 128 * 1024
# Above this a message is refused and the socket closed (discarding costs bandwidth and CPU).
HARD_CAP_BYTES = 32 * 1024 * 1024


def buffered_bytes(transport) -> int:
    """Bytes written to the transport and not yet handed to the kernel."""
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except AttributeError:  # TLS wraps the TCP transport
        inner = getattr(transport, "transport", None)
        return 0 if inner is None else buffered_bytes(inner)


def too_long_frame() -> str:
    # config sits below the apps: the message is its own, the code the protocol's (too_long).
    detail = _("This frame is larger than the server accepts; send a shorter message.")
    return json.dumps({"type": "error", "error": "too_long", "detail": str(detail)})


_daphne_send = WebSocketProtocol.serverSend


class LimitedWebSocketProtocol(WebSocketProtocol):
    buffer_limit = settings.COMMS_SOCKET_BUFFER_BYTES
    overflowed = False
    # The size above which a message is not given to the application (daphne's configured limit).
    message_limit = 0
    discarding = False

    def connectionMade(self):
        super().connectionMade()  # copies daphne's limits from the factory to this socket
        tcp = self.transport
        while not hasattr(tcp, "socket") and hasattr(tcp, "transport"):  # TLS wraps TCP
            tcp = tcp.transport
        try:
            tcp.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SEND_BUFFER_BYTES)
        except (AttributeError, OSError):
            log.warning("WebSocket send buffer not capped for %r", self.transport)
        self.message_limit = self.maxMessagePayloadSize
        if self.message_limit:
            self.maxMessagePayloadSize = max(self.message_limit, HARD_CAP_BYTES)
            self.maxFramePayloadSize = max(self.maxFramePayloadSize, HARD_CAP_BYTES)

    def connectionLost(self, reason):
        super().connectionLost(reason)
        # The dead transport is only garbage once a full collection breaks the reference cycles
        # around it: drop what a client that stopped reading left in its buffer now.
        tcp = self.transport
        if getattr(tcp, "_tempDataLen", None) or getattr(tcp, "dataBuffer", None):
            tcp.dataBuffer, tcp.offset, tcp._tempDataBuffer, tcp._tempDataLen = b"", 0, [], 0

    # --- outgoing ------------------------------------------------------------------------------

    def serverSend(self, content, binary=False):
        # Runs for every frame on every socket: keep it to a few attribute reads (and call
        # daphne's method directly rather than through super()).
        transport = self.transport
        try:
            held = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        except AttributeError:  # no transport yet, or TLS over TCP
            held = 0 if transport is None else buffered_bytes(transport)
        if held > self.buffer_limit or self.overflowed:
            if not self.overflowed:
                self.close_for_resync(held)
            return
        _daphne_send(self, content, binary)

    def close_for_resync(self, held: int) -> None:
        self.overflowed = True
        log.warning(
            "WebSocket %s from %s closed with %s: the client stopped reading "
            "(%s bytes buffered, limit %s)",
            self.path.decode("ascii", "replace"),
            self.client_addr,
            CLOSE_RESYNC,
            held,
            self.buffer_limit,
        )
        self.closeHandshakeTimeout = CLOSE_GRACE_SECONDS
        self.sendClose(code=CLOSE_RESYNC, reason="resync")

    # --- incoming ------------------------------------------------------------------------------

    def onMessageFrameBegin(self, length):
        if self.maxMessagePayloadSize and (
            self.message_data_total_length + length > self.maxMessagePayloadSize
        ):
            # Autobahn fails the connection in super(): answer first, then close (1009) with a
            # close frame instead of a bare TCP drop, so the error frame is not thrown away.
            self.serverSend(too_long_frame())
            self.failByDrop = False
        super().onMessageFrameBegin(length)
        if (
            not self.discarding
            and self.message_limit
            and self.message_data_total_length > self.message_limit
        ):
            self.discarding = True
            self.message_data = []  # the earlier fragments of this message

    def onMessageFrameData(self, payload):
        if not self.discarding:
            super().onMessageFrameData(payload)

    def onMessageEnd(self):
        if not self.discarding:
            super().onMessageEnd()
            return
        self.discarding = False
        self.message_data = []
        if not self.failedByMe:
            self.serverSend(too_long_frame())


def install() -> None:
    WebSocketFactory.protocol = LimitedWebSocketProtocol


install()
