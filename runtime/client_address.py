"""Who the client is behind a reverse proxy, and how per-address limits group clients.

`client_address(peer, headers, trusted, header)`: only when the TCP peer is one of CHAT_TRUSTED_PROXIES is
its forwarding header believed, and only the one the operator's proxy writes (CHAT_FORWARDED_HEADER:
`X-Forwarded-For` by default, or `Forwarded`, RFC 7239). The other is ignored: a proxy passes on the
header it does not write untouched, so believing it would let any client pick its own address. The
chain is walked right to left (the rightmost hop was added by the proxy nearest to us; a client can
prepend anything it likes), skipping hops inside the trusted networks, and the first untrusted hop is
the client. A value that is not
an address (garbage, `unknown`, an obfuscated `_name`) ends the walk at the last address seen: junk is
never believed and never crashes anything.

`limit_key(address)`: what per-address limits count: an IPv4 address as it is, an IPv6 address as its
/64 (one customer's network: each device there has addresses to spare).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

IPV6_LIMIT_PREFIX = 64


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs or single addresses, IPv4 or IPv6; ValueError naming the first entry that is neither."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {entry!r}") from None
    return tuple(networks)


X_FORWARDED_FOR = "x-forwarded-for"
FORWARDED = "forwarded"
HEADERS = (X_FORWARDED_FOR, FORWARDED)


def client_address(peer: str, headers: Iterable[tuple[bytes, bytes]], trusted: Sequence[IPNetwork],
                   header: str = X_FORWARDED_FOR) -> str:
    """The client's address: the peer's, or, from a trusted proxy, the rightmost untrusted hop of `header`."""
    current = parse_address(peer)
    if current is None:
        return peer  # not an IP (a unix socket, "unknown"): nothing to trust
    if not _trusted(current, trusted):
        return str(current)
    for hop in reversed(_forwarded_chain(headers, header)):
        if hop is None:
            break  # junk: the last address seen is as far as anyone can vouch for
        current = hop
        if not _trusted(hop, trusted):
            break
    return str(current)


def ignored_header(peer: str, headers: Iterable[tuple[bytes, bytes]], trusted: Sequence[IPNetwork],
                   header: str = X_FORWARDED_FOR) -> str | None:
    """The forwarding header a trusted proxy sent instead of `header` (so every client looks like the proxy),
    or None: the sign of a CHAT_FORWARDED_HEADER that does not match the proxy's configuration."""
    current = parse_address(peer)
    if current is None or not _trusted(current, trusted):
        return None
    names = {name.lower() for name, _ in headers}
    other = FORWARDED if header.lower() == X_FORWARDED_FOR else X_FORWARDED_FOR
    return other if other.encode() in names and header.lower().encode() not in names else None


def limit_key(address: str) -> str:
    """What per-address limits count: IPv4 as is, IPv6 as its /64 (e.g. `2001:db8:1:2::/64`)."""
    parsed = parse_address(address)
    if parsed is None:
        return address
    if parsed.version == 6:
        return str(ipaddress.IPv6Network((int(parsed), IPV6_LIMIT_PREFIX), strict=False))
    return str(parsed)


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write one (`1.2.3.4`, `1.2.3.4:80`, `[v6]`, `[v6]:443`, bare v6), or None.

    IPv4-mapped IPv6 (`::ffff:1.2.3.4`, a dual-stack socket's view of an IPv4 client) becomes IPv4, and a
    zone (`%eth0`) is dropped."""
    text = text.strip()
    if text.startswith("["):
        inside, bracket, port = text[1:].partition("]")
        if not bracket or (port and not _is_port(port)):
            return None
        return _ip(inside, version=6)
    host, colon, port = text.partition(":")
    if colon and ":" not in port:  # IPv4 with a port; otherwise a bare IPv6 address
        return _ip(host, version=4) if _is_port(":" + port) else None
    return _ip(text)


def _ip(text: str, version: int | None = None) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if version is not None and address.version != version:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            return ipaddress.IPv6Address(int(address))
    return address


def _is_port(text: str) -> bool:
    return text.startswith(":") and text[1:].isascii() and text[1:].isdigit() and len(text) <= 6


def _trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in trusted)


def _forwarded_chain(headers: Iterable[tuple[bytes, bytes]], header: str) -> list[IPAddress | None]:
    """The hops, leftmost first, of all lines of `header` (X-Forwarded-For or Forwarded)."""
    header = header.lower()
    wanted = header.encode()
    lines = ",".join(value.decode("latin-1") for name, value in headers if name.lower() == wanted)
    if not lines:
        return []
    if header == FORWARDED:
        return [_forwarded_for(element) for element in _split(lines, ",")]
    return [parse_address(hop) for hop in lines.split(",")]


def _forwarded_for(element: str) -> IPAddress | None:
    """The address in one Forwarded element's `for=` (RFC 7239 section 4), or None if there is none."""
    found: IPAddress | None = None
    seen = False
    for pair in _split(element, ";"):
        name, equals, value = pair.partition("=")
        if not equals:
            return None
        if name.strip().lower() == "for":
            if seen:
                return None  # two for= in one element: not a hop anyone can vouch for
            seen = True
            found = parse_address(_unquote(value.strip()))
    return found


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        out, escaped = [], False
        for ch in value[1:-1]:
            if escaped or ch != "\\":
                out.append(ch)
                escaped = False
            else:
                escaped = True
        return "".join(out)
    return value


def _split(text: str, separator: str) -> list[str]:
    """Split on `separator` outside quoted strings (a quoted value may hold `,` or `;`)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts
