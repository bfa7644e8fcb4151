"""Who the client is: the peer, or what trusted proxies (`KENSHO_TRUSTED_PROXIES`) say it is.

Only when the TCP peer is a trusted proxy is the forwarded header read, and only the one header
the proxies are configured to set (`KENSHO_FORWARDED_HEADER`: `X-Forwarded-For`, or RFC 7239
`Forwarded`, parsed by aiohttp's own `request.forwarded`). Reading the other header too would
let a client spoof itself through a proxy that passes unknown headers along. The list is walked
right to left, skipping trusted hops: the first untrusted address is the client; everything to
its left was written by the client and is ignored. A hop that is not an IP address (`unknown`,
an obfuscated `_node`, garbage) ends the walk, and the last trusted hop that forwarded it is the
client: a malformed value can never pick someone else's identity. The result is the client id
used for rate limits, logs and the auth audit; the envelope resolves it once per request
(`kensho.http.keys.CLIENT_ID`).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

from kensho.config import IPNetwork, parse_trusted_proxies

__all__ = ["MAX_HOPS", "ClientIdentity"]

#: Hops read from the right: no real proxy chain is longer, and a hostile header is bounded.
MAX_HOPS = 16
_UNKNOWN = "unknown"


def _address(token: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP from a forwarded hop: `1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80`, `::1`."""
    token = token.strip().strip('"')
    if not token or len(token) > 64:
        return None
    if token.startswith("["):
        end = token.find("]")
        if end < 0:
            return None
        token = token[1:end]
    elif token.count(":") == 1:  # IPv4 with a port (IPv6 has several colons)
        token = token.partition(":")[0]
    try:
        ip = ipaddress.ip_address(token)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class ClientIdentity:
    """Resolves the client id of a request; built once per app from the config."""

    def __init__(self, trusted: str | None, header: str = "x-forwarded-for") -> None:
        self.networks: tuple[IPNetwork, ...] = parse_trusted_proxies(trusted) if trusted else ()
        self.header = header
        # Peers are few (the proxies) and hops repeat: memoise the membership test.
        self._trusted = lru_cache(maxsize=4096)(self._is_trusted)

    def _is_trusted(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)

    def resolve(self, request: web.BaseRequest) -> str:
        """The client id: an IP address in canonical text (or "unknown" without a peer)."""
        peer = request.remote
        if not self.networks or peer is None:
            return peer or _UNKNOWN
        ip = _address(peer)
        if ip is None or not self._trusted(ip):
            return peer
        hops = self._hops(request)
        client = ip
        for hop in reversed(hops[-MAX_HOPS:]):
            addr = _address(hop)
            if addr is None:
                break  # unknown or garbage: the proxy that forwarded it is the client
            client = addr
            if not self._trusted(addr):
                break
        return str(client)

    def _hops(self, request: web.BaseRequest) -> list[str]:
        if self.header == "forwarded":
            return [str(element.get("for", _UNKNOWN)) for element in request.forwarded]
        values = request.headers.getall("X-Forwarded-For", ())
        return [hop for value in values for hop in value.split(",")]
