# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dns_probe: one query to one nameserver, against a real UDP socket on loopback answering as told."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import dns_probe


class FakeNameserver:
    """Answers every query on 127.0.0.1 with ``rcode`` (and an A record when ``address``); ``mode`` may be
    ``silent`` (never answers) or ``stray`` (a datagram with another id first, then the real answer)."""

    def __init__(self, rcode=0, address=None, mode="answer"):
        self.rcode, self.address, self.mode = rcode, address, mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            data, peer = self.sock.recvfrom(512)
        except OSError:
            return
        if self.mode == "silent":
            return
        ident = struct.unpack("!H", data[:2])[0]
        question = data[12:]
        answers = b""
        if self.address:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(self.address)
        header = struct.pack("!HHHHHH", ident, 0x8180 | self.rcode, 1, 1 if self.address else 0, 0, 0)
        if self.mode == "stray":
            self.sock.sendto(struct.pack("!HHHHHH", ident ^ 1, 0x8183, 1, 0, 0, 0) + question, peer)
        self.sock.sendto(header + question + answers, peer)

    def close(self):
        self.sock.close()


@pytest.fixture
def nameserver():
    made = []

    def make(**kw):
        made.append(FakeNameserver(**kw))
        return made[-1]

    yield make
    for ns in made:
        ns.close()


def test_an_answer_with_an_address_is_ok(nameserver):
    ns = nameserver(address="198.18.0.2")
    result = dns_probe.query("127.0.0.1", "ocsp.example.test", port=ns.port, timeout=2)
    assert result["outcome"] == "ok" and result["addresses"] == ["198.18.0.2"] and result["rcode"] == "noerror"


@pytest.mark.parametrize(("rcode", "outcome"), [(3, "nxdomain"), (2, "servfail"), (5, "refused")])
def test_error_codes_are_named(nameserver, rcode, outcome):
    ns = nameserver(rcode=rcode)
    result = dns_probe.query("127.0.0.1", "ocsp.example.test", port=ns.port, timeout=2)
    assert result["outcome"] == outcome
    assert outcome.upper() in result["error"] and "ocsp.example.test" in result["error"]


def test_no_answer_is_a_timeout_within_the_bound(nameserver):
    ns = nameserver(mode="silent")
    result = dns_probe.query("127.0.0.1", "ocsp.example.test", port=ns.port, timeout=0.5)
    assert result["outcome"] == "timeout" and result["ms"] < 2000


def test_a_stray_datagram_is_not_taken_for_the_answer(nameserver):
    ns = nameserver(mode="stray", address="198.18.0.2")
    result = dns_probe.query("127.0.0.1", "ocsp.example.test", port=ns.port, timeout=2)
    assert result["outcome"] == "ok"


def test_nothing_listening_is_unreachable_or_timeout():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # ICMP port unreachable from now on
    result = dns_probe.query("127.0.0.1", "ocsp.example.test", port=port, timeout=0.5)
    assert result["outcome"] in ("unreachable", "timeout")


def test_a_name_instead_of_an_address_is_not_checked():
    assert dns_probe.query("dns.example.test", "ocsp.example.test")["outcome"] == "not_checked"


@pytest.mark.parametrize(
    ("values", "parsed"),
    [
        (["198.18.0.4"], [("198.18.0.4", 53)]),
        (["198.18.0.4:5353", "[::1]", "[::1]:54"], [("198.18.0.4", 5353), ("::1", 53), ("::1", 54)]),
        (["dns.example.test"], [("dns.example.test", 53)]),
        (None, []),
        (["1.2.3.4:99999"], []),
    ],
)
def test_nginx_resolver_values(values, parsed):
    assert dns_probe.parse_nginx_resolver(values) == parsed


@pytest.mark.parametrize("data", [b"", b"\x00" * 11, b"\xff" * 40, b"\x12\x34\x81\x80\x00\x01\x00\x01" + b"\xc0" * 30])
def test_garbage_answers_raise_value_error_only(data):
    with pytest.raises(ValueError):
        dns_probe.parse_answer(data, 0x1234 if data[:2] != b"\x12\x34" else 0x9999)


def test_bad_names_are_refused_cleanly():
    assert dns_probe.query("127.0.0.1", "a" * 300)["outcome"] == "error"
    assert dns_probe.query("127.0.0.1", "bad..name", timeout=0.2)["outcome"] == "error"
