"""runtime/client_address.py alone: which forwarded hop is the client, and how limits group addresses."""

from __future__ import annotations

import pytest

from chatd.runtime.client_address import client_address, ignored_header, limit_key, parse_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1", "2001:db8:ffff::/48"])


def xff(*values: str) -> list[tuple[bytes, bytes]]:
    return [(b"X-Forwarded-For", v.encode("latin-1")) for v in values]


def fwd(*values: str) -> list[tuple[bytes, bytes]]:
    return [(b"Forwarded", v.encode("latin-1")) for v in values]


@pytest.mark.parametrize(("peer", "headers", "client"), [
    # an untrusted peer's headers are ignored, whatever they say
    ("198.51.100.9", xff("203.0.113.7"), "198.51.100.9"),
    ("198.51.100.9", fwd("for=203.0.113.7"), "198.51.100.9"),
    ("::ffff:198.51.100.9", xff("203.0.113.7"), "198.51.100.9"),
    # a trusted peer: the rightmost untrusted hop; what a client prepends does not count
    ("127.0.0.1", xff("203.0.113.7"), "203.0.113.7"),
    ("127.0.0.1", xff("1.1.1.1, 203.0.113.7"), "203.0.113.7"),
    ("127.0.0.1", xff("1.1.1.1, 203.0.113.7, 10.1.2.3"), "203.0.113.7"),
    ("127.0.0.1", xff("1.1.1.1", "203.0.113.7, 10.1.2.3"), "203.0.113.7"),  # several header lines
    ("127.0.0.1", xff("10.9.9.9, 10.1.2.3"), "10.9.9.9"),  # all trusted: the leftmost
    ("127.0.0.1", xff("203.0.113.7:4711"), "203.0.113.7"),
    ("127.0.0.1", xff("2001:db8::1"), "2001:db8::1"),
    ("127.0.0.1", xff("[2001:db8::1]:443"), "2001:db8::1"),
    ("127.0.0.1", xff("::ffff:203.0.113.7"), "203.0.113.7"),
    ("127.0.0.1", [], "127.0.0.1"),
    # RFC 7239
    ("127.0.0.1", fwd('for="[2001:db8::1]:443"'), "2001:db8::1"),
    ("127.0.0.1", fwd("for=192.0.2.60;proto=http;by=203.0.113.43"), "192.0.2.60"),
    ("127.0.0.1", fwd('For="192.0.2.60:8080", for=10.0.0.1'), "192.0.2.60"),
    ("127.0.0.1", fwd("for=1.1.1.1", "for=192.0.2.60"), "192.0.2.60"),
    ("127.0.0.1", fwd('for=192.0.2.43;host="a,b;c", for=10.0.0.2'), "192.0.2.43"),  # , and ; quoted
    ("127.0.0.1", fwd('for="\\1\\9\\2.0.2.43"'), "192.0.2.43"),  # quoted-pair
    # the peer is IPv6 and trusted
    ("2001:db8:ffff::5", xff("198.51.100.1"), "198.51.100.1"),
    # junk ends the walk at the last address seen: never believed, never a crash
    ("127.0.0.1", xff("evil"), "127.0.0.1"),
    ("127.0.0.1", xff(""), "127.0.0.1"),
    ("127.0.0.1", xff("203.0.113.7, garbage, 10.1.2.3"), "10.1.2.3"),
    ("127.0.0.1", xff("203.0.113.7,,"), "127.0.0.1"),
    ("127.0.0.1", xff("1.2.3.4:99999999", "256.1.1.1", "1.2.3.4%eth0"), "127.0.0.1"),
    ("127.0.0.1", xff("[1.2.3.4]", "[::1"), "127.0.0.1"),
    ("127.0.0.1", fwd("for=unknown"), "127.0.0.1"),
    ("127.0.0.1", fwd('for="_hidden", for=10.0.0.7'), "10.0.0.7"),
    ("127.0.0.1", fwd("for=2001:db8::1"), "2001:db8::1"),  # unquoted v6: lenient, it is an address
    ("127.0.0.1", fwd('for="192.0.2.1'), "127.0.0.1"),  # unbalanced quote
    ("127.0.0.1", fwd("proto=https"), "127.0.0.1"),  # an element without for=
    ("127.0.0.1", fwd("for=1.2.3.4;for=5.6.7.8"), "127.0.0.1"),
    ("127.0.0.1", fwd("for"), "127.0.0.1"),
    ("127.0.0.1", [(b"x-forwarded-for", b"\xff\xfe\x00")], "127.0.0.1"),
    # not an IP at all (a unix socket, Starlette's "unknown"): as it is
    ("unknown", xff("203.0.113.7"), "unknown"),
])
def test_client_address(peer: str, headers: list[tuple[bytes, bytes]], client: str) -> None:
    header = "forwarded" if any(name == b"Forwarded" for name, _ in headers) else "x-forwarded-for"
    assert client_address(peer, headers, PROXIES, header) == client


def test_only_the_header_the_proxy_writes_is_believed() -> None:
    """A proxy passes the header it does not write through untouched: a client's own `Forwarded` next to
    nginx's X-Forwarded-For must not pick the address (nor the other way round)."""
    both = fwd("for=6.6.6.7") + xff("203.0.113.9")
    assert client_address("127.0.0.1", both, PROXIES) == "203.0.113.9"
    assert client_address("127.0.0.1", both, PROXIES, "x-forwarded-for") == "203.0.113.9"
    assert client_address("127.0.0.1", both, PROXIES, "Forwarded") == "6.6.6.7"
    assert client_address("127.0.0.1", fwd("for=6.6.6.7"), PROXIES) == "127.0.0.1"


def test_no_trusted_proxies_means_no_header_is_believed() -> None:
    assert client_address("127.0.0.1", xff("203.0.113.7"), ()) == "127.0.0.1"


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::1", "::/64"),
    ("unknown", "unknown"),
])
def test_limit_key(address: str, key: str) -> None:
    assert limit_key(address) == key


def test_zones_and_mapped_addresses_are_normalised() -> None:
    assert str(parse_address("fe80::1%eth0")) == "fe80::1"
    assert str(parse_address("[::ffff:192.0.2.1]:80")) == "192.0.2.1"


def test_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match=r"not an IP address or network: 'proxy\.local'"):
        parse_networks(["10.0.0.0/8", "proxy.local"])


def test_a_proxy_sending_the_other_header_is_noticed() -> None:
    """A trusted proxy that writes Forwarded while chatd reads X-Forwarded-For (or the other way round) makes
    every client the proxy: that is what the once-per-process warning (gateway/forwarded.py) looks for."""
    assert ignored_header("127.0.0.1", fwd("for=203.0.113.7"), PROXIES) == "forwarded"  # the default reads XFF
    assert ignored_header("127.0.0.1", fwd("for=203.0.113.7"), PROXIES, "x-forwarded-for") == "forwarded"
    assert ignored_header("127.0.0.1", xff("203.0.113.7"), PROXIES, "forwarded") == "x-forwarded-for"
    assert ignored_header("127.0.0.1", xff("203.0.113.7"), PROXIES) is None  # the configured one
    assert ignored_header("127.0.0.1", fwd("for=6.6.6.6") + xff("203.0.113.7"), PROXIES) is None  # a client's own
    assert ignored_header("198.51.100.9", fwd("for=203.0.113.7"), PROXIES) is None  # not a proxy: ignored anyway
