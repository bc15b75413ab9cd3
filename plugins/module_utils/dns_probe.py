# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ask one nameserver for one name, the way a server's own resolver would: stdlib only, one UDP query, a timeout.

nginx resolves the OCSP responder's name at run time through the addresses of its ``resolver`` directive, not
through the node's resolv.conf. A node whose own DNS works can still have an nginx that cannot look the
responder up. This module asks those addresses directly, from the node, so the diagnosis can say so instead of
inferring it from a log line.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import time
from typing import Any, Dict, List, Optional, Tuple

RCODES = {0: "noerror", 1: "formerr", 2: "servfail", 3: "nxdomain", 4: "notimp", 5: "refused"}
TYPE_A, TYPE_AAAA, TYPE_CNAME = 1, 28, 5
MAX_NAME = 253


def parse_nginx_resolver(values: Optional[List[str]]) -> List[Tuple[str, int]]:
    """``resolver`` arguments (options already split off) as (address, port); names are kept as given.

    nginx accepts ``1.2.3.4``, ``1.2.3.4:5353``, ``[::1]``, ``[::1]:5353`` and host names (resolved once at load).
    """
    out: List[Tuple[str, int]] = []
    for value in values or []:
        text = str(value).strip()
        port = 53
        if text.startswith("["):
            host, _sep, rest = text[1:].partition("]")
            if rest.startswith(":") and rest[1:].isdigit():
                port = int(rest[1:])
        elif text.count(":") == 1:
            host, _sep, tail = text.partition(":")
            if tail.isdigit():
                port = int(tail)
        else:
            host = text
        if host and 0 < port < 65536:
            out.append((host, port))
    return out


def _encode_name(name: str) -> bytes:
    labels = name.rstrip(".").split(".")
    out = b""
    for label in labels:
        raw = label.encode("idna") if label else b""
        if not raw or len(raw) > 63:
            raise ValueError("not a DNS name: %r" % name)
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def build_query(name: str, qtype: int = TYPE_A, query_id: Optional[int] = None) -> Tuple[int, bytes]:
    if query_id is None:
        query_id = struct.unpack("!H", os.urandom(2))[0]
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)  # recursion desired, one question
    return query_id, header + _encode_name(name) + struct.pack("!HH", qtype, 1)


def _skip_name(data: bytes, offset: int) -> int:
    for _step in range(128):  # bounded: a hostile answer cannot loop us
        if offset >= len(data):
            raise ValueError("truncated name")
        length = data[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2
        offset += 1 + length
    raise ValueError("name too long")


def parse_answer(data: bytes, query_id: int) -> Dict[str, Any]:
    """rcode and the A/AAAA addresses of an answer; ValueError when it is not an answer to our query."""
    if len(data) < 12:
        raise ValueError("answer shorter than a DNS header")
    ident, flags, qdcount, ancount, _ns, _ar = struct.unpack("!HHHHHH", data[:12])
    if ident != query_id or not flags & 0x8000:
        raise ValueError("not an answer to this query")
    offset = 12
    for _question in range(qdcount):
        offset = _skip_name(data, offset) + 4
    addresses: List[str] = []
    for _answer in range(min(ancount, 64)):
        offset = _skip_name(data, offset)
        if offset + 10 > len(data):
            break
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", data[offset : offset + 10])
        offset += 10
        rdata = data[offset : offset + length]
        offset += length
        if rtype == TYPE_A and length == 4:
            addresses.append(str(ipaddress.IPv4Address(rdata)))
        elif rtype == TYPE_AAAA and length == 16:
            addresses.append(str(ipaddress.IPv6Address(rdata)))
    return {
        "rcode": RCODES.get(flags & 0x000F, str(flags & 0x000F)),
        "truncated": bool(flags & 0x0200),
        "addresses": addresses,
    }


def query(server: str, name: str, port: int = 53, timeout: float = 2.0, qtype: int = TYPE_A) -> Dict[str, Any]:
    """Ask ``server`` for ``name``: outcome ``ok``, ``nxdomain``, ``servfail``, ``refused``, ``no_address``,
    ``timeout``, ``unreachable`` or ``error``, with the rcode, the addresses and the time taken."""
    result: Dict[str, Any] = {
        "server": server,
        "port": port,
        "name": name,
        "outcome": "error",
        "rcode": None,
        "addresses": [],
        "error": None,
        "ms": None,
    }
    started = time.monotonic()
    try:
        ipaddress.ip_address(server)
    except ValueError:
        result["error"] = "%s is not an address; it is looked up once when the server loads its configuration" % server
        result["outcome"] = "not_checked"
        return result
    if len(name) > MAX_NAME:
        result["error"] = "name too long"
        return result
    try:
        query_id, packet = build_query(name, qtype)
    except (ValueError, UnicodeError) as exc:
        result["error"] = str(exc)
        return result
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        sock.connect((server, port))
        sock.send(packet)
        deadline = started + timeout
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(4096)
            try:
                answer = parse_answer(data, query_id)
            except ValueError:
                if time.monotonic() >= deadline:
                    raise socket.timeout("no answer to this query") from None
                continue  # a stray or forged datagram: keep waiting for ours
            break
    except socket.timeout:
        result["outcome"] = "timeout"
        result["error"] = "no answer from %s within %.1f s" % (server, timeout)
    except OSError as exc:
        # ICMP port unreachable arrives as ECONNREFUSED on a connected UDP socket.
        result["outcome"] = "unreachable"
        result["error"] = "%s: %s" % (server, exc.strerror or exc)
    else:
        result.update(rcode=answer["rcode"], addresses=answer["addresses"])
        if answer["rcode"] == "noerror":
            result["outcome"] = "ok" if answer["addresses"] else "no_address"
            if not answer["addresses"]:
                result["error"] = "%s answers, with no address for %s" % (server, name)
        else:
            result["outcome"] = answer["rcode"] if answer["rcode"] in ("nxdomain", "servfail", "refused") else "error"
            result["error"] = "%s answers %s for %s" % (server, answer["rcode"].upper(), name)
    finally:
        sock.close()
    result["ms"] = int((time.monotonic() - started) * 1000)
    return result
