"""Who the client is: the peer, or what a trusted proxy says about it."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from werkzeug.datastructures import Headers

from .config import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ClientAddressResolver:
    """Resolves the client address of a request for rate limiting.

    A forwarded header is believed only when the connecting peer is one of
    the trusted proxies; anyone else could write any address into it and so
    pick the bucket their requests are counted in.
    """

    def __init__(
        self, trusted: Sequence[IPNetwork], header_name: str | None = None
    ) -> None:
        self.trusted = tuple(trusted)
        self.header_name = header_name

    def resolve(self, peer: str | None, headers: Headers) -> str:
        peer = peer or "unknown"
        if not self.trusted or not self._is_trusted(_parse(peer)):
            return peer

        if self.header_name:
            named = _parse(headers.get(self.header_name, ""))
            return str(named) if named else peer

        return self._from_forwarded_for(headers) or peer

    def _from_forwarded_for(self, headers: Headers) -> str | None:
        """Read ``X-Forwarded-For`` from the right, skipping trusted hops.

        Each proxy appends the address it saw, so the rightmost untrusted
        entry is the first one a trusted proxy vouches for. When every hop is
        trusted the leftmost is the client. A malformed hop makes the whole
        chain unusable.
        """
        hops = ",".join(headers.getlist("X-Forwarded-For")).split(",")
        addresses = [_parse(hop) for hop in hops]
        if not addresses or None in addresses:
            return None

        for address in reversed(addresses):
            if not self._is_trusted(address):
                return str(address)

        return str(addresses[0])

    def _is_trusted(self, address: IPAddress | None) -> bool:
        return address is not None and any(
            address in network for network in self.trusted
        )


def _parse(value: str) -> IPAddress | None:
    value = value.strip()
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None

    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 client reached over an IPv6 socket arrives as ::ffff:a.b.c.d.
        if address.ipv4_mapped:
            return address.ipv4_mapped

        # A zone (fe80::1%eth0) names the sender's interface, not another
        # client: without this, each made-up zone would get its own budget.
        if address.scope_id:
            return ipaddress.IPv6Address(int(address))

    return address
