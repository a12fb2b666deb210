"""connectors.imap against a tiny IMAP4rev1 server on a loopback port, over a real socket.

The server speaks what imaplib needs for polling: CAPABILITY, LOGIN, SELECT/EXAMINE,
UID SEARCH UNSEEN, UID FETCH (RFC822.SIZE / BODY.PEEK[] / BODY[] / RFC822),
UID STORE +FLAGS[.SILENT] (\\Seen), NOOP, CLOSE, LOGOUT; optionally over TLS.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connectors import imap, mail
from connectors.imap import FetchedMessage, ImapError

SAMPLES = Path(__file__).parent / "mail_samples"
USER, PASSWORD = "inbox@keepline.example", 'p@ss "word" \\ 1'

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def _tokens(text: str) -> list[str]:
    return [
        re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else atom
        for quoted, atom in (m.groups() for m in _TOKEN.finditer(text))
    ]


@dataclass
class Mailbox:
    messages: dict[int, bytes] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)


@dataclass
class ImapState:
    mailboxes: dict[str, Mailbox]
    commands: list[str] = field(default_factory=list)
    drop_on_fetch: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _uids(spec: str, present: list[int]) -> list[int]:
    wanted: set[int] = set()
    top = max(present, default=0)
    for part in spec.split(","):
        if ":" in part:
            lo, hi = (top if x == "*" else int(x) for x in part.split(":"))
            wanted.update(range(min(lo, hi), max(lo, hi) + 1))
        else:
            wanted.add(top if part == "*" else int(part))
    return [u for u in present if u in wanted]


class ImapHandler(socketserver.StreamRequestHandler):
    timeout = 10

    def send(self, line: str | bytes) -> None:
        self.wfile.write(line if isinstance(line, bytes) else line.encode() + b"\r\n")

    def handle(self) -> None:
        state: ImapState = self.server.state  # type: ignore[attr-defined]
        user = None
        box: Mailbox | None = None
        self.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Keepline test IMAP ready")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "UID":
                command, _, args = args.partition(" ")
                command = "UID " + command.upper()
            with state.lock:
                state.commands.append(command if command != "LOGIN" else "LOGIN ***")
            if command == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
                self.send(f"{tag} OK CAPABILITY completed")
            elif command == "NOOP":
                self.send(f"{tag} OK NOOP completed")
            elif command == "LOGIN":
                name, secret = _tokens(args)
                if (name, secret) == (USER, PASSWORD):
                    user = name
                    self.send(f"{tag} OK LOGIN completed")
                else:
                    self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
            elif command == "LOGOUT":
                self.send("* BYE Keepline test IMAP logging out")
                self.send(f"{tag} OK LOGOUT completed")
                return
            elif user is None:
                self.send(f"{tag} BAD Not authenticated")
            elif command in ("SELECT", "EXAMINE"):
                name = _tokens(args)[0]
                box = state.mailboxes.get(name)
                if box is None:
                    self.send(f"{tag} NO [NONEXISTENT] Unknown mailbox")
                    continue
                self.send(r"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)")
                self.send(f"* {len(box.messages)} EXISTS")
                self.send("* 0 RECENT")
                self.send("* OK [UIDVALIDITY 7] UIDs valid")
                self.send(f"* OK [UIDNEXT {max(box.messages, default=0) + 1}] Predicted next UID")
                mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
                self.send(f"{tag} OK [{mode}] {command} completed")
            elif command == "CLOSE":
                box = None
                self.send(f"{tag} OK CLOSE completed")
            elif box is None:
                self.send(f"{tag} BAD No mailbox selected")
            elif command == "UID SEARCH":
                if args.strip().upper() != "UNSEEN":
                    self.send(f"{tag} BAD Only UNSEEN is supported")
                    continue
                found = [u for u in sorted(box.messages) if u not in box.seen]
                self.send(" ".join(["* SEARCH", *map(str, found)]))
                self.send(f"{tag} OK SEARCH completed")
            elif command == "UID FETCH":
                spec, _, items = args.partition(" ")
                items = items.upper()
                present = sorted(box.messages)
                if state.drop_on_fetch and "BODY" in items:
                    self.request.shutdown(socket.SHUT_RDWR)
                    return
                for uid in _uids(spec, present):
                    seq = present.index(uid) + 1
                    raw = box.messages[uid]
                    if "RFC822.SIZE" in items:
                        self.send(f"* {seq} FETCH (UID {uid} RFC822.SIZE {len(raw)})")
                    elif "BODY.PEEK[]" in items:
                        self.send(f"* {seq} FETCH (UID {uid} BODY[] {{{len(raw)}}}\r\n".encode())
                        self.send(raw + b")\r\n")
                    elif "BODY[]" in items or "RFC822" in items:
                        box.seen.add(uid)  # a plain fetch marks the message read
                        self.send(f"* {seq} FETCH (UID {uid} RFC822 {{{len(raw)}}}\r\n".encode())
                        self.send(raw + b" FLAGS (\\Seen))\r\n")
                self.send(f"{tag} OK FETCH completed")
            elif command == "UID STORE":
                spec, op, flags = args.split(" ", 2)
                present = sorted(box.messages)
                for uid in _uids(spec, present):
                    if op.upper().startswith("+FLAGS") and "\\SEEN" in flags.upper():
                        box.seen.add(uid)
                    if not op.upper().endswith(".SILENT"):
                        seq = present.index(uid) + 1
                        self.send(f"* {seq} FETCH (UID {uid} FLAGS (\\Seen))")
                self.send(f"{tag} OK STORE completed")
            else:
                self.send(f"{tag} BAD Unknown command")


class ImapServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: ImapState, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), ImapHandler)
        self.state = state
        self.ssl_context = ssl_context

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True)
        return sock, addr

    @property
    def port(self) -> int:
        return self.server_address[1]


def _start(server: ImapServer):
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return thread


def _message(n: int) -> bytes:
    return (
        f"From: Customer {n} <customer{n}@example.com>\r\n"
        f"To: inbox@keepline.example\r\nSubject: Message {n}\r\n"
        f"Message-ID: <m{n}@example.com>\r\n\r\nHello number {n}\r\n"
    ).encode()


@pytest.fixture
def imap_state():
    inbox = Mailbox(
        messages={
            3: _message(3),
            5: (SAMPLES / "gmail_reply.eml").read_bytes(),
            9: _message(9),
            12: (SAMPLES / "attachment_non_ascii.eml").read_bytes(),
        },
        seen={9},
    )
    return ImapState(mailboxes={"INBOX": inbox, "Caixa de entrada": Mailbox({1: _message(1)})})


@pytest.fixture
def imap_server(imap_state):
    server = ImapServer(imap_state)
    thread = _start(server)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def fetch(server, **kwargs):
    kwargs.setdefault("timeout", 5)
    return imap.fetch_unseen("127.0.0.1", server.port, USER, PASSWORD, False, **kwargs)


def test_fetch_unseen_returns_unseen_messages_oldest_first_and_leaves_them_unseen(imap_server):
    got = fetch(imap_server)
    assert [m.uid for m in got] == [3, 5, 12]
    assert all(isinstance(m, FetchedMessage) for m in got)
    inbox = imap_server.state.mailboxes["INBOX"]
    assert got[0] == (3, inbox.messages[3])  # (uid, raw bytes), byte for byte
    assert got[1].raw == inbox.messages[5]
    assert mail.parse(got[1].raw).message_id == "<CAJx9wQ+reply7788@mail.gmail.com>"
    assert mail.parse(got[2].raw).attachments  # a multipart message survives the literal
    assert inbox.seen == {9}  # BODY.PEEK: nothing marked until the caller stored it
    assert "LOGOUT" in imap_server.state.commands
    assert "LOGIN ***" in imap_server.state.commands


def test_mark_seen_then_fetch_again_returns_only_the_rest(imap_server):
    imap.mark_seen("127.0.0.1", imap_server.port, USER, PASSWORD, False, [3, 12], timeout=5)
    assert imap_server.state.mailboxes["INBOX"].seen == {3, 9, 12}
    assert [m.uid for m in fetch(imap_server)] == [5]
    imap.mark_seen("127.0.0.1", imap_server.port, USER, PASSWORD, False, [5], timeout=5)
    assert fetch(imap_server) == []


def test_mark_seen_with_no_uids_does_not_connect(imap_server):
    imap.mark_seen("127.0.0.1", imap_server.port, USER, PASSWORD, False, [], timeout=5)
    assert imap_server.state.commands == []


def test_limit_takes_the_oldest(imap_server):
    assert [m.uid for m in fetch(imap_server, limit=2)] == [3, 5]
    assert fetch(imap_server, limit=0) == []


def test_oversized_messages_are_left_in_the_mailbox(imap_server, caplog):
    small = len(imap_server.state.mailboxes["INBOX"].messages[3])
    with caplog.at_level("WARNING", logger="connectors.imap"):
        got = fetch(imap_server, max_bytes=small)
    assert [m.uid for m in got] == [3]
    assert "uid 5" in caplog.text and "uid 12" in caplog.text
    assert PASSWORD not in caplog.text


def test_other_mailbox_with_a_space_in_its_name(imap_server):
    got = fetch(imap_server, mailbox="Caixa de entrada")
    assert [m.uid for m in got] == [1]


def test_unknown_mailbox_is_a_clear_error(imap_server):
    with pytest.raises(ImapError, match='mailbox "Archive" cannot be opened'):
        fetch(imap_server, mailbox="Archive")


def test_wrong_password_is_a_clear_error_without_the_password(imap_server):
    with pytest.raises(ImapError) as excinfo:
        imap.fetch_unseen("127.0.0.1", imap_server.port, USER, "wrong-secret", False, timeout=5)
    message = str(excinfo.value)
    assert "login" in message and USER in message and "Invalid credentials" in message
    assert "wrong-secret" not in message


def test_non_ascii_password_is_a_clear_error(imap_server):
    with pytest.raises(ImapError, match="ASCII"):
        imap.fetch_unseen("127.0.0.1", imap_server.port, USER, "señal", False, timeout=5)


def test_connection_refused_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ImapError, match=f"Cannot connect to IMAP server 127.0.0.1:{port}"):
        imap.fetch_unseen("127.0.0.1", port, USER, PASSWORD, False, timeout=2)


def test_silent_server_times_out():
    with socket.socket() as sock:  # accepts the TCP connection, never greets
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        with pytest.raises(ImapError, match="timed out"):
            imap.fetch_unseen(
                "127.0.0.1", sock.getsockname()[1], USER, PASSWORD, False, timeout=0.5
            )


def test_connection_dropped_mid_fetch_is_an_imap_error(imap_server):
    imap_server.state.drop_on_fetch = True
    with pytest.raises(ImapError):
        fetch(imap_server)


# --- over TLS (the production setting: imap_use_ssl) ---------------------------------------


@pytest.fixture(scope="module")
def tls_contexts(tmp_path_factory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("imap-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    client_ctx = ssl.create_default_context(cafile=str(cert_file))
    return server_ctx, client_ctx


@pytest.fixture
def imap_tls_server(imap_state, tls_contexts):
    server = ImapServer(imap_state, ssl_context=tls_contexts[0])
    thread = _start(server)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_fetch_and_mark_seen_over_tls(imap_tls_server, tls_contexts):
    client_ctx = tls_contexts[1]
    args = ("localhost", imap_tls_server.port, USER, PASSWORD, True)
    got = imap.fetch_unseen(*args, timeout=5, ssl_context=client_ctx)
    assert [m.uid for m in got] == [3, 5, 12]
    imap.mark_seen(*args, [m.uid for m in got], timeout=5, ssl_context=client_ctx)
    assert imap.fetch_unseen(*args, timeout=5, ssl_context=client_ctx) == []


def test_untrusted_certificate_is_refused(imap_tls_server):
    with pytest.raises(ImapError, match="TLS|certificate|Cannot connect"):
        imap.fetch_unseen("localhost", imap_tls_server.port, USER, PASSWORD, True, timeout=5)
    assert imap_tls_server.state.commands == []  # no credentials sent


def test_mailbox_names_are_modified_utf7():
    assert imap._utf7_imap("INBOX") == "INBOX"
    assert imap._utf7_imap("Entrée") == "Entr&AOk-e"
    assert imap._utf7_imap("A&B") == "A&-B"
    assert imap._utf7_imap("台北") == "&U,BTFw-"
