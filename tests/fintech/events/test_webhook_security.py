"""Webhook hardening: addresses that hide a private IPv4 inside IPv6, the relay connecting only to
the address it checked, bounded reads and time per POST, the secret kept off the admin page, and a
delivery log free of resolver details."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from typing import Any

import pytest
from django.test import override_settings

from fintech.models import WebhookAttempt, WebhookDelivery
from fintech.services import webhooks
from fintech.services.webhooks import _private, endpoint_create, relay_batch
from tests.builders import active_loan, cast

from .receiver import receiver


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


def _owed_delivery(url: str) -> WebhookDelivery:
    """A bank's endpoint at `url` (registered with private hosts allowed, as a stale check would
    have let it) and the delivery of its loan's first event, due now."""
    people = cast()
    with override_settings(WEBHOOK_ALLOW_PRIVATE_HOSTS=True, WEBHOOK_RELAY_ON_COMMIT=False):
        endpoint = endpoint_create(actor=people.bank, url=url, event_types=[])
        active_loan(people=people)
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("aggregate_version").first()
    assert delivery is not None
    WebhookDelivery.objects.filter(endpoint=endpoint).exclude(pk=delivery.pk).delete()
    return delivery


def _fake_dns(monkeypatch: Any, names: dict[str, list[list[str]]]) -> list[str]:
    """getaddrinfo answering `names[host]` in turn (one list of addresses per lookup); other hosts
    (the IP literals connected to) resolve for real. Returns the names looked up."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in names:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        answer = names[host].pop(0)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answer]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


@pytest.mark.django_db
def test_a_name_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: Any, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS, settings.WEBHOOK_RELAY_ON_COMMIT = False, False
    with receiver() as rx:
        delivery = _owed_delivery("http://hooks.example/hook")
        # hooks.example resolves to a public address AND to 10.1.2.3: refused, nothing posted
        _fake_dns(monkeypatch, {"hooks.example": [["8.8.8.8", "10.1.2.3"]]})
        relay_batch()
        assert rx.received == []
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.response_code is None and attempt.error == "refused: not a public address"


@pytest.mark.django_db
def test_the_relay_connects_to_the_address_it_checked_not_a_second_lookup(
    monkeypatch: Any, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS, settings.WEBHOOK_RELAY_ON_COMMIT = False, False
    with receiver() as rx:
        port = rx.url.rsplit(":", 1)[1]
        delivery = _owed_delivery(f"http://hooks.example:{port}/hook")
        # The first lookup gives the receiver's address (counted public here); a second lookup
        # would re-bind the name to 10.1.2.3 (DNS rebinding): there must be none.
        monkeypatch.setattr(webhooks, "_private", lambda a: a != "127.0.0.1")
        asked = _fake_dns(monkeypatch, {"hooks.example": [["127.0.0.1"], ["10.1.2.3"]]})
        relay_batch()
        assert asked == ["hooks.example"]
        assert [r.headers["host"] for r in rx.accepted("/hook")] == [f"hooks.example:{port}"]
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_tls_to_the_checked_address_verifies_the_certificate_against_the_name(monkeypatch: Any) -> None:
    opened: list[Any] = []
    monkeypatch.setattr(socket, "create_connection", lambda where, timeout: opened.append(where) or "sock")
    conn = webhooks._PinnedHTTPS("hooks.example", 443, address="93.184.216.34", timeout=1)
    wrapped: list[Any] = []
    monkeypatch.setattr(
        conn.tls, "wrap_socket", lambda sock, server_hostname: wrapped.append(server_hostname)
    )
    conn.connect()
    assert opened == [("93.184.216.34", 443)] and wrapped == ["hooks.example"]
    assert conn.tls.check_hostname and conn.tls.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.django_db
def test_the_delivery_log_holds_a_generic_error_the_detail_goes_to_the_server_log(
    monkeypatch: Any, settings: Any, caplog: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS, settings.WEBHOOK_RELAY_ON_COMMIT = False, False
    delivery = _owed_delivery("https://hooks.example/hook")

    def unreachable(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known: internal-db.corp.local")

    monkeypatch.setattr(socket, "getaddrinfo", unreachable)
    relay_batch()
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.error == "connection failed"
    assert "internal-db.corp.local" in caplog.text  # the operator still sees why


def _raw_server(answer: Any) -> tuple[str, socket.socket]:
    """A loopback TCP server whose one connection is handled by `answer(conn)` in a thread."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        try:
            answer(conn)
        except OSError:
            pass  # the relay hung up: what the test expects
        finally:
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/hook", server


def test_a_receiver_trickling_its_answer_is_cut_at_the_overall_deadline(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS, settings.WEBHOOK_TIMEOUT_SECONDS = True, 0.5

    def trickle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(200):  # one header byte every 50 ms: each read is quick, the whole is 10 s
            conn.sendall(b"X")
            time.sleep(0.05)

    url, server = _raw_server(trickle)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        webhooks._post(url, {}, b"{}")
    # The deadline is 0.5 s in all (well under the 10 s the trickle would take)
    assert time.monotonic() - started < 2
    server.close()


def test_at_most_64_kb_of_an_endless_answer_is_read(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS, settings.WEBHOOK_TIMEOUT_SECONDS = True, 5
    sent = [0]

    def endless(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
        while True:
            conn.sendall(chunk)
            sent[0] += 65536

    url, server = _raw_server(endless)
    started = time.monotonic()
    # Accepted at once: 64 KB read, the connection closed (reading it all would never end)
    assert webhooks._post(url, {}, b"{}") == 200
    assert time.monotonic() - started < 2
    server.close()
