"""Client identity through trusted proxies only (`KENSHO_TRUSTED_PROXIES`): right to left,
skipping trusted hops; spoofing, malformed and hostile values never pick another identity."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from kensho.config import ConfigError, load_config
from kensho.http.client_identity import MAX_HOPS, ClientIdentity


class _Transport:
    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (self.peer, 40000) if name == "peername" else default


def resolve(identity: ClientIdentity, peer: str, **headers: str) -> str:
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    request = make_mocked_request("GET", "/api/anime", headers=headers, transport=_Transport(peer))
    return identity.resolve(request)


PROXIES = ClientIdentity("10.0.0.0/8, 192.168.1.1, ::1")


def test_no_trusted_proxies_means_the_peer_whatever_the_headers_say() -> None:
    nobody = ClientIdentity(None)
    assert resolve(nobody, "203.0.113.9", X_Forwarded_For="1.1.1.1") == "203.0.113.9"
    assert resolve(nobody, "203.0.113.9", Forwarded="for=1.1.1.1") == "203.0.113.9"


def test_an_untrusted_peer_cannot_spoof_its_address() -> None:
    assert resolve(PROXIES, "203.0.113.9", X_Forwarded_For="10.1.1.1, 8.8.8.8") == "203.0.113.9"


@pytest.mark.parametrize(
    ("xff", "client"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("198.51.100.7, 10.2.3.4", "198.51.100.7"),  # a trusted hop is skipped
        # the client wrote the left part: only the rightmost untrusted address counts
        ("6.6.6.6, 198.51.100.7", "198.51.100.7"),
        ("6.6.6.6, 198.51.100.7, 10.9.9.9, 192.168.1.1", "198.51.100.7"),
        ("198.51.100.7:5555", "198.51.100.7"),
        ("[2001:db8::5]:443", "2001:db8::5"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("10.1.1.1, 10.2.2.2", "10.1.1.1"),  # all trusted: the farthest one
    ],
)
def test_forwarded_for_is_read_right_to_left_skipping_trusted_hops(xff: str, client: str) -> None:
    assert resolve(PROXIES, "10.0.0.5", X_Forwarded_For=xff) == client


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "unknown",
        "not an address",
        "1.2.3.4.5",
        "999.1.1.1",
        "\x00\x01",
        "a" * 5000,
        ",,,,",
        "1.1.1.1, garbage",
        "<script>alert(1)</script>",
        "1.1.1.1 2.2.2.2",
        "[::1",
    ],
)
def test_garbage_ends_the_walk_at_the_proxy_that_forwarded_it(hostile: str) -> None:
    assert resolve(PROXIES, "10.0.0.5", X_Forwarded_For=hostile) == "10.0.0.5"


def test_garbage_left_of_a_real_client_is_ignored() -> None:
    assert resolve(PROXIES, "10.0.0.5", X_Forwarded_For="junk, 198.51.100.7") == "198.51.100.7"


def test_a_long_chain_is_read_only_from_its_last_hops() -> None:
    chain = ", ".join(["10.0.0.1"] * 1000 + ["198.51.100.7"] + ["10.0.0.2"] * (MAX_HOPS - 1))
    assert resolve(PROXIES, "10.0.0.5", X_Forwarded_For=chain) == "198.51.100.7"
    beyond = ", ".join(["198.51.100.7"] + ["10.0.0.2"] * (MAX_HOPS + 5))
    assert resolve(PROXIES, "10.0.0.5", X_Forwarded_For=beyond) == "10.0.0.2"


def test_only_the_configured_header_is_read() -> None:
    """A proxy that sets X-Forwarded-For passes a client's own Forwarded header along: reading
    it would let the client choose its identity."""
    xff = ClientIdentity("10.0.0.0/8", "x-forwarded-for")
    assert resolve(xff, "10.0.0.5", Forwarded="for=6.6.6.6") == "10.0.0.5"
    fwd = ClientIdentity("10.0.0.0/8", "forwarded")
    assert resolve(fwd, "10.0.0.5", X_Forwarded_For="6.6.6.6") == "10.0.0.5"
    assert resolve(fwd, "10.0.0.5", Forwarded="for=6.6.6.6, for=198.51.100.7") == "198.51.100.7"
    assert resolve(fwd, "10.0.0.5", Forwarded='for="[2001:db8::5]:80";proto=https') == "2001:db8::5"
    assert resolve(fwd, "10.0.0.5", Forwarded="for=_hidden, for=10.0.0.9") == "10.0.0.9"
    assert resolve(fwd, "10.0.0.5", Forwarded="proto=https") == "10.0.0.5"
    assert resolve(fwd, "10.0.0.5", Forwarded='for="\\"; for=;;,,=') == "10.0.0.5"


@pytest.mark.parametrize(
    "value", ["10.0.0.0/33", "10.0.0.1/8", "localhost", "1.2.3", "10.0.0.0/8;rm -rf", "x" * 300]
)
def test_bad_trusted_proxies_are_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="KENSHO_TRUSTED_PROXIES"):
        load_config({"KENSHO_TRUSTED_PROXIES": value})


def test_trusted_proxies_and_header_are_validated_settings() -> None:
    config = load_config(
        {"KENSHO_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8 ,", "KENSHO_FORWARDED_HEADER": "Forwarded"}
    )
    assert config.forwarded_header == "forwarded"
    assert len(ClientIdentity(config.trusted_proxies).networks) == 2
    with pytest.raises(ConfigError, match="KENSHO_FORWARDED_HEADER"):
        load_config({"KENSHO_FORWARDED_HEADER": "x-real-ip"})
    with pytest.raises(ConfigError, match="KENSHO_RATE_LIMIT_SEARCH_RPS"):
        load_config({"KENSHO_RATE_LIMIT_SEARCH_RPS": "-1"})
    with pytest.raises(ConfigError, match="KENSHO_LOGIN_MAX_FAILURES_PER_ADDRESS"):
        load_config({"KENSHO_LOGIN_MAX_FAILURES_PER_ADDRESS": "0"})
