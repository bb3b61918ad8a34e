"""The service fetches no http(s) medium from an IPv6 address that carries a loopback, private
or link-local IPv4 address inside it: IPv4-mapped, IPv4-compatible and SIIT (``::ffff:0:a.b.c.d``)
forms, NAT64 (``64:ff9b::/96``, ``64:ff9b:1::/48``: an IPv6-only cloud's DNS64 answers these for
any name, and its gateway connects to the IPv4 inside), 6to4 (``2002::/16``) and Teredo. A host
name may resolve to any of them, so the check is on the resolved address."""

from __future__ import annotations

import ipaddress

import pytest

from labelport.export.media_access import MediaAccess


@pytest.mark.parametrize("address", [
    "::ffff:127.0.0.1", "::127.0.0.1", "::ffff:0:7f00:1", "::ffff:0:a9fe:a9fe",
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b:1::c0a8:101",
    "2002:7f00:1::1", "2002:a9fe:a9fe::1", "2002:c0a8:101::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo: client 127.0.0.1 (inverted)
])
def test_an_ipv6_address_holding_a_private_ipv4_is_not_fetched(address: str) -> None:
    assert not MediaAccess.service([])._may_connect(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8",
                                     "2001:4860:4860::8888"])
def test_an_ipv6_address_holding_a_public_ipv4_is_fetched(address: str) -> None:
    assert MediaAccess.service([])._may_connect(ipaddress.ip_address(address))


def test_the_operator_allows_the_ipv4_network_inside() -> None:
    allowed = MediaAccess.service([], networks=["10.0.0.0/8"])
    assert allowed._may_connect(ipaddress.ip_address("64:ff9b::a00:1"))
    assert not allowed._may_connect(ipaddress.ip_address("64:ff9b::7f00:1"))
