"""The sign-in limiter's client address: the peer's, unless a trusted proxy says whose it is."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from services.console.client_address import client_address

INGRESS = [ip_network("10.244.0.0/16"), ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        # Straight from the client: a header it wrote is not believed.
        ("203.0.113.5", ["198.51.100.7"], "203.0.113.5"),
        # Through the ingress: the hop it appended.
        ("10.244.1.9", ["203.0.113.5"], "203.0.113.5"),
        # Whatever the client put first is left of the hop the ingress appended.
        ("10.244.1.9", ["1.2.3.4, 203.0.113.5"], "203.0.113.5"),
        ("10.244.1.9", ["1.2.3.4", "203.0.113.5"], "203.0.113.5"),
        # Past every trusted proxy in the chain, IPv6 and IPv4-mapped ones too.
        ("fd00::1", ["203.0.113.5 , 10.244.3.3,::ffff:10.244.0.2"], "203.0.113.5"),
        ("::ffff:10.244.1.9", ["2001:db8::7"], "2001:db8::7"),
        # A hop that is no address stops belief there, and is what is counted.
        ("10.244.1.9", ["203.0.113.5, garbage"], "garbage"),
        # The ingress without a header, or with proxies only: as near the client as it gets.
        ("10.244.1.9", [], "10.244.1.9"),
        ("10.244.1.9", [" , "], "10.244.1.9"),
        ("10.244.1.9", ["10.244.7.7, 10.244.8.8"], "10.244.7.7"),
        (None, ["203.0.113.5"], "unknown"),
    ],
)
def test_the_last_untrusted_hop_is_the_client(peer, forwarded_for, expected):
    assert client_address(peer, forwarded_for, INGRESS) == expected


def test_with_no_proxy_trusted_the_header_never_counts():
    assert client_address("10.244.1.9", ["203.0.113.5"], []) == "10.244.1.9"
