"""Who is signing in: the client's address, read through the reverse proxies the console trusts.

Behind an ingress every connection comes from the ingress controller, so the peer address alone
would count every user's wrong passwords as one client's. Each proxy appends the address it was
reached from to ``X-Forwarded-For``; the entries a client wrote itself come first and are not to
be believed. So the header is read only when the peer is a trusted proxy, from its right end,
past the trusted proxies, to the first address that is not one: the last untrusted hop.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TypeAlias

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_FOR = "X-Forwarded-For"


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The address to count sign-in failures against: ``peer`` unless it is a trusted proxy."""
    if peer is None:
        return "unknown"
    if not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    # Only proxies all the way (or no header): the first of them is as near the client as it gets.
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # not an address a proxy wrote: where belief stops
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in trusted)
