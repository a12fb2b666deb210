"""The address and browser of whoever is on the other end of a request or a socket.

Behind a load balancer the TCP peer (REMOTE_ADDR, an ASGI scope's "client") is the balancer. The
real client is found in X-Forwarded-For, but only the entries that trusted proxies wrote can be
believed: anyone can send that header, so a client's own "X-Forwarded-For: 6.6.6.6" arrives as
"6.6.6.6, <client>" after the balancer appends what it saw. So the header is read right to left,
starting from the peer, and each entry is accepted only while the hop that wrote it (the address
to its right) is in settings.TRUSTED_PROXIES. With no trusted proxies (the default) the header is
ignored and the peer is the client.

Lives in `audit` because every app may import audit and the ledger stamps each event with it.

Daphne's own `--proxy-headers` takes the *leftmost* X-Forwarded-For entry without asking who sent
it, which is the client-chosen one: Keepline runs daphne without it and reads the header here.
"""

import functools
import ipaddress

from django.conf import settings

USER_AGENT_MAX = 512

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def parse_networks(entries) -> tuple[Network, ...]:
    """IPs/CIDRs as networks; a bad entry raises ValueError (settings validate at start-up)."""
    return _networks(tuple(entries))


def _parse_ip(text: str | None) -> Address | None:
    """An address from a peer or a forwarded entry: "1.2.3.4", "1.2.3.4:5678", "[2001:db8::1]:443",
    "2001:db8::1"; None for anything else ("unknown", obfuscated identifiers, garbage)."""
    if not text:
        return None
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: Address, networks: tuple[Network, ...]) -> bool:
    return any(ip in network for network in networks)


def resolve(peer: str | None, forwarded_for: str | None) -> str | None:
    """The client address given the TCP peer and the X-Forwarded-For value(s), joined by commas;
    None when the peer is not an IP address (a Unix socket, a test scope without "client").

    Walks right to left past trusted proxies only; stops at the first untrusted hop (the client,
    as far as anyone we trust can tell) or at an entry that is not an address (returning the
    trusted hop that passed it on)."""
    peer_ip = _parse_ip(peer)
    if peer_ip is None:
        return None
    networks = parse_networks(getattr(settings, "TRUSTED_PROXIES", ()))
    client = peer_ip
    if networks and forwarded_for:
        hops = [hop for hop in forwarded_for.split(",") if hop.strip()]
        while hops and _trusted(client, networks):
            previous = _parse_ip(hops.pop())
            if previous is None:
                break
            client = previous
    return str(client)


def client_address(request) -> str | None:
    """The real client address of a Django request (REMOTE_ADDR + X-Forwarded-For)."""
    meta = request.META
    return resolve(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"))


def user_agent(request) -> str:
    return (request.META.get("HTTP_USER_AGENT") or "")[:USER_AGENT_MAX]


def _scope_header(scope, name: bytes) -> str | None:
    """Every value of one header in an ASGI scope, joined by commas in arrival order (as a proxy
    chain's repeated X-Forwarded-For lines are meant to be read)."""
    values = [
        value.decode("latin-1") for key, value in scope.get("headers") or () if key.lower() == name
    ]
    return ",".join(values) if values else None


def client_address_from_scope(scope) -> str | None:
    """The real client address of an ASGI connection (HTTP or WebSocket): scope["client"][0]
    and the X-Forwarded-For header, by the same rules as `client_address`."""
    client = scope.get("client")
    peer = client[0] if client else None
    return resolve(peer, _scope_header(scope, b"x-forwarded-for"))


def user_agent_from_scope(scope) -> str:
    return (_scope_header(scope, b"user-agent") or "")[:USER_AGENT_MAX]
