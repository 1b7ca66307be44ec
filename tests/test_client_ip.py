"""Whose bucket a request falls in: the peer, or what a trusted proxy says (2.2)."""

from __future__ import annotations

import ipaddress

import pytest
from flask.testing import FlaskClient
from werkzeug.datastructures import Headers

from flask_heady_edge.client_ip import ClientAddressResolver

from .conftest import API_KEY, AppFactory

PROXY = "10.0.0.7"
OTHER_PROXY = "10.0.0.8"
CLIENT = "203.0.113.50"
ATTACKER = "198.51.100.66"


def resolver(*trusted: str, header_name: str | None = None) -> ClientAddressResolver:
    return ClientAddressResolver(
        [ipaddress.ip_network(entry) for entry in trusted], header_name
    )


def resolve(
    peer: str | None, headers: list[tuple[str, str]], *trusted: str, header: str = ""
) -> str:
    return resolver(*trusted, header_name=header or None).resolve(
        peer, Headers(headers)
    )


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Forwarded-For", CLIENT)],
        [("X-Forwarded-For", f"{CLIENT}, {PROXY}")],
        [("CF-Connecting-IP", CLIENT)],
        [("X-Real-IP", CLIENT), ("Forwarded", f"for={CLIENT}")],
    ],
    ids=["xff", "xff-chain", "cf-connecting-ip", "others"],
)
def test_untrusted_peer_is_the_client_whatever_it_forwards(
    headers: list[tuple[str, str]],
) -> None:
    assert resolve(ATTACKER, headers) == ATTACKER
    assert resolve(ATTACKER, headers, "10.0.0.0/8") == ATTACKER
    assert resolve(ATTACKER, headers, "10.0.0.0/8", header="CF-Connecting-IP") == (
        ATTACKER
    )


def test_trusted_peer_names_the_client_in_the_configured_header() -> None:
    headers = [("CF-Connecting-IP", CLIENT), ("X-Forwarded-For", "192.0.2.1")]

    assert resolve(PROXY, headers, PROXY, header="CF-Connecting-IP") == CLIENT


@pytest.mark.parametrize(
    "value", ["", "not-an-ip", f"{CLIENT}:443", f"{CLIENT}, 192.0.2.1", "300.1.1.1"]
)
def test_malformed_configured_header_falls_back_to_the_peer(value: str) -> None:
    headers = [("CF-Connecting-IP", value)]

    assert resolve(PROXY, headers, PROXY, header="CF-Connecting-IP") == PROXY


def test_missing_configured_header_falls_back_to_the_peer() -> None:
    headers = [("X-Forwarded-For", CLIENT)]

    assert resolve(PROXY, headers, PROXY, header="CF-Connecting-IP") == PROXY


@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        (CLIENT, CLIENT),
        (f"{ATTACKER}, {CLIENT}", CLIENT),
        (f"{ATTACKER}, {CLIENT}, {OTHER_PROXY}", CLIENT),
        (f"{CLIENT},{OTHER_PROXY} ,  {PROXY}", CLIENT),
        (f"{OTHER_PROXY}, {PROXY}", OTHER_PROXY),
        (f"{PROXY}, {OTHER_PROXY}", PROXY),
        ("2001:db8::1, 10.0.0.9", "2001:db8::1"),
        (f"::ffff:{CLIENT}", CLIENT),
    ],
    ids=[
        "one-hop",
        "spoofed-left-part-ignored",
        "skips-trusted-hop",
        "spaces-trimmed",
        "all-trusted-leftmost",
        "all-trusted-leftmost-again",
        "ipv6-client",
        "ipv4-mapped-client",
    ],
)
def test_forwarded_for_is_read_from_the_right_skipping_trusted_hops(
    forwarded_for: str, expected: str
) -> None:
    headers = [("X-Forwarded-For", forwarded_for)]

    assert resolve(PROXY, headers, "10.0.0.0/24") == expected


def test_forwarded_for_over_several_header_lines_is_one_list() -> None:
    headers = [
        ("X-Forwarded-For", f"{ATTACKER}, {CLIENT}"),
        ("X-Forwarded-For", OTHER_PROXY),
    ]

    assert resolve(PROXY, headers, "10.0.0.0/24") == CLIENT


@pytest.mark.parametrize(
    "forwarded_for",
    ["", "unknown", f"{CLIENT}, garbage", f"{CLIENT},, {OTHER_PROXY}", f"[{CLIENT}]"],
)
def test_malformed_forwarded_for_falls_back_to_the_peer(forwarded_for: str) -> None:
    headers = [("X-Forwarded-For", forwarded_for)]

    assert resolve(PROXY, headers, "10.0.0.0/24") == PROXY


def test_missing_forwarded_for_falls_back_to_the_peer() -> None:
    assert resolve(PROXY, [], PROXY) == PROXY


def test_ipv6_and_ipv4_mapped_peers_are_matched_against_ranges() -> None:
    headers = [("X-Forwarded-For", CLIENT)]

    assert resolve("2001:db8:cafe::1", headers, "2001:db8:cafe::/48") == CLIENT
    assert resolve(f"::ffff:{PROXY}", headers, "10.0.0.0/8") == CLIENT
    assert resolve("2001:db8:beef::1", headers, "2001:db8:cafe::/48") == (
        "2001:db8:beef::1"
    )


def test_zones_of_one_forwarded_address_share_one_bucket() -> None:
    zones = [
        resolve(PROXY, [("X-Forwarded-For", f"fe80::1%{zone}")], PROXY)
        for zone in ("eth0", "eth1", "7")
    ]

    assert zones == ["fe80::1", "fe80::1", "fe80::1"]


def test_missing_peer_is_one_unknown_client() -> None:
    assert resolve(None, [("X-Forwarded-For", CLIENT)], "10.0.0.0/8") == "unknown"


def remaining_for(
    client: FlaskClient, peer: str, headers: dict[str, str] | None = None
) -> int:
    response = client.get(
        "/api/echo",
        headers={"x-heady-api-key": API_KEY, **(headers or {})},
        environ_base={"REMOTE_ADDR": peer},
    )
    assert response.status_code == 200
    return int(response.headers["X-RateLimit-Remaining"])


def test_forged_headers_from_an_untrusted_peer_stay_in_its_bucket(
    make_app: AppFactory,
) -> None:
    client = make_app(
        HEADY_RATE_LIMIT="5 per minute",
        HEADY_TRUSTED_PROXIES=PROXY,
        HEADY_CLIENT_IP_HEADER="CF-Connecting-IP",
    ).test_client()

    counts = [
        remaining_for(client, ATTACKER, {"X-Forwarded-For": "192.0.2.1"}),
        remaining_for(client, ATTACKER, {"CF-Connecting-IP": "192.0.2.2"}),
        remaining_for(client, ATTACKER, {"CF-Connecting-IP": "192.0.2.3"}),
        remaining_for(client, ATTACKER),
    ]

    assert counts == [4, 3, 2, 1]


def test_trusted_proxy_puts_each_named_client_in_its_own_bucket(
    make_app: AppFactory,
) -> None:
    client = make_app(
        HEADY_RATE_LIMIT="5 per minute",
        HEADY_TRUSTED_PROXIES=f"{PROXY}, 2001:db8::/32",
        HEADY_CLIENT_IP_HEADER="CF-Connecting-IP",
    ).test_client()

    counts = [
        remaining_for(client, PROXY, {"CF-Connecting-IP": CLIENT}),
        remaining_for(client, PROXY, {"CF-Connecting-IP": "192.0.2.2"}),
        remaining_for(client, "2001:db8::1", {"CF-Connecting-IP": CLIENT}),
        remaining_for(client, PROXY, {"X-Forwarded-For": CLIENT}),
        remaining_for(client, PROXY, {"CF-Connecting-IP": "nonsense"}),
        remaining_for(client, CLIENT),
    ]

    # The last two are the proxy's own request and the client's direct one.
    assert counts == [4, 4, 3, 4, 3, 2]


def test_forwarded_for_through_trusted_hops_names_the_client_bucket(
    make_app: AppFactory,
) -> None:
    client = make_app(
        HEADY_RATE_LIMIT="5 per minute", HEADY_TRUSTED_PROXIES=["10.0.0.0/24"]
    ).test_client()

    counts = [
        remaining_for(client, PROXY, {"X-Forwarded-For": f"{ATTACKER}, {CLIENT}"}),
        remaining_for(client, PROXY, {"X-Forwarded-For": f"1.2.3.4, {CLIENT}"}),
        remaining_for(client, PROXY, {"X-Forwarded-For": f"{CLIENT}, {OTHER_PROXY}"}),
        remaining_for(client, PROXY, {"X-Forwarded-For": f"{OTHER_PROXY}, {PROXY}"}),
        remaining_for(client, PROXY, {"X-Forwarded-For": "not, an, address"}),
        remaining_for(client, PROXY, {"CF-Connecting-IP": "192.0.2.9"}),
        remaining_for(client, OTHER_PROXY, {"X-Forwarded-For": CLIENT}),
    ]

    # Client, client, client; the leftmost trusted hop; then the proxy itself
    # twice; then the client again through the other proxy.
    assert counts == [4, 3, 2, 4, 4, 3, 1]
