# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TLS handshakes that ask for a stapled OCSP response, the way a strict client does.

The standard ``ssl`` module cannot send ``status_request``, so this uses pyOpenSSL. Each handshake is
pinned to one protocol version (TLS 1.3 and TLS 1.2 staple through different messages, and servers get
one right and the other wrong), runs on a non-blocking socket with a deadline (a socket with a timeout
is non-blocking to OpenSSL, which then raises WantRead/WantWrite), and returns bytes only: the presented
chain as DER and the raw staple. Judging them is the job of chain.py and ocsp.py.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record

try:
    from OpenSSL import SSL
except ImportError:  # reported by deps.require_pyopenssl() in the module
    SSL = None

try:
    from cryptography.hazmat.primitives.serialization import Encoding
except ImportError:
    Encoding = None

PROTOCOLS = ("TLSv1.3", "TLSv1.2")


@dataclass(repr=False)
class Handshake(Record):
    """One handshake to one endpoint with one protocol version."""

    protocol_requested: str
    ok: bool = False
    protocol: Optional[str] = None
    cipher: Optional[str] = None
    error: Optional[str] = None
    error_stage: Optional[str] = None  # "connect", "timeout", "handshake", "unsupported_protocol"
    chain_der: List[bytes] = field(default_factory=list)
    staple: Optional[bytes] = None
    elapsed_ms: int = 0

    def summary(self) -> dict:
        return {
            "protocol_requested": self.protocol_requested,
            "ok": self.ok,
            "protocol": self.protocol,
            "cipher": self.cipher,
            "error": self.error,
            "error_stage": self.error_stage,
            "staple_present": self.staple is not None,
            "staple_bytes": len(self.staple) if self.staple is not None else 0,
            "chain_length": len(self.chain_der),
            "elapsed_ms": self.elapsed_ms,
        }


@dataclass(repr=False)
class Endpoint(Record):
    """Where a handshake goes: address, port and the name sent as SNI."""

    host: str = "127.0.0.1"
    port: int = 443
    server_name: Optional[str] = None

    @property
    def label(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d%s" % (host, self.port, " (SNI %s)" % self.server_name if self.server_name else "")


@dataclass(repr=False)
class EndpointProbe(Record):
    """Every handshake made to one endpoint, per protocol, including the warm-up ones."""

    endpoint: Endpoint
    handshakes: dict = field(default_factory=dict)  # protocol -> final Handshake
    attempts: dict = field(default_factory=dict)  # protocol -> number of handshakes made
    warmup_used: bool = False


def _version_constant(protocol: str):
    return {"TLSv1.3": SSL.TLS1_3_VERSION, "TLSv1.2": SSL.TLS1_2_VERSION}[protocol]


def _wait(sock: socket.socket, for_write: bool, deadline: float) -> bool:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    if for_write:
        ready = select.select([], [sock], [], remaining)[1]
    else:
        ready = select.select([sock], [], [], remaining)[0]
    return bool(ready)


def _chain_as_der(conn) -> List[bytes]:
    try:
        chain = conn.get_peer_cert_chain(as_cryptography=True)
    except TypeError:  # pyOpenSSL < 24.3 has no as_cryptography
        chain = [cert.to_cryptography() for cert in (conn.get_peer_cert_chain() or [])]
    return [cert.public_bytes(Encoding.DER) for cert in (chain or [])]


def _describe_ssl_error(exc: Exception) -> str:
    """OpenSSL errors arrive as nested tuples; keep the reason strings, which are what people search for."""
    args = getattr(exc, "args", ())
    reasons = []
    if args and isinstance(args[0], list):
        for entry in args[0]:
            if isinstance(entry, tuple) and entry:
                reasons.append(str(entry[-1]))
    if reasons:
        return "; ".join(reasons)
    text = str(exc)
    return text or exc.__class__.__name__


def handshake(endpoint: Endpoint, protocol: str, timeout: float) -> Handshake:
    """Connect, ask for a staple with ``protocol`` only, and collect the chain and the staple."""
    result = Handshake(protocol_requested=protocol)
    started = time.monotonic()
    deadline = started + timeout
    staples: list = []

    def on_staple(_conn, ocsp_data, _data):
        # Called once per handshake; an empty byte string means the server sent no staple.
        staples.append(bytes(ocsp_data) if ocsp_data else None)
        return True  # judging the staple is ours to do, not OpenSSL's: never abort the handshake here

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE, lambda *args: True)
    context.set_min_proto_version(_version_constant(protocol))
    context.set_max_proto_version(_version_constant(protocol))
    context.set_ocsp_client_callback(on_staple)
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except socket.timeout:
        result.error, result.error_stage = (
            "connection to %s timed out after %.1f s" % (endpoint.label, timeout),
            "timeout",
        )
        result.elapsed_ms = int((time.monotonic() - started) * 1000)
        return result
    except OSError as exc:
        result.error = "cannot connect to %s: %s" % (endpoint.label, exc.strerror or exc)
        result.error_stage = "connect"
        result.elapsed_ms = int((time.monotonic() - started) * 1000)
        return result
    sock.setblocking(False)
    conn = SSL.Connection(context, sock)
    if endpoint.server_name:
        conn.set_tlsext_host_name(endpoint.server_name.encode("idna"))
    conn.request_ocsp()
    conn.set_connect_state()
    try:
        while True:
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                if not _wait(sock, False, deadline):
                    raise socket.timeout() from None
            except SSL.WantWriteError:
                if not _wait(sock, True, deadline):
                    raise socket.timeout() from None
        result.ok = True
        result.protocol = conn.get_protocol_version_name()
        result.cipher = conn.get_cipher_name()
        result.chain_der = _chain_as_der(conn)
        result.staple = staples[-1] if staples else None
    except socket.timeout:
        result.error = "TLS handshake with %s did not finish within %.1f s" % (endpoint.label, timeout)
        result.error_stage = "timeout"
    except SSL.Error as exc:
        reason = _describe_ssl_error(exc)
        result.error = "%s handshake with %s failed: %s" % (protocol, endpoint.label, reason)
        lowered = reason.lower()
        unsupported = ("unsupported protocol", "protocol version", "no protocols available", "wrong version number")
        result.error_stage = "unsupported_protocol" if any(s in lowered for s in unsupported) else "handshake"
    except OSError as exc:
        result.error = "connection to %s failed during the handshake: %s" % (endpoint.label, exc.strerror or exc)
        result.error_stage = "connect"
    finally:
        try:
            sock.close()
        except OSError:
            pass
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    return result


def probe_endpoint(
    endpoint: Endpoint,
    protocols: Sequence[str] = PROTOCOLS,
    timeout: float = 5.0,
    warmup_attempts: int = 4,
    warmup_delay: float = 0.25,
    wants_staple: Optional[Callable[[Handshake], bool]] = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline: Optional[float] = None,
) -> EndpointProbe:
    """Handshake once per protocol; when no staple came back, warm up and try again.

    nginx fetches a staple on the first handshake that asks for one, per worker process, and answers that
    handshake without it; Apache may answer the first client before its cache fills. So a missing staple is
    only believed after up to ``warmup_attempts`` more handshakes with a growing pause between them. A handshake
    that times out is tried once more, since Apache fetches synchronously within the first one.
    ``wants_staple(handshake)`` lets the caller skip warm-up where no staple can come (no OCSP URL).
    Past ``deadline`` (a time.monotonic() value) no further handshake starts: the caller has stopped waiting.
    """
    probe = EndpointProbe(endpoint=endpoint)
    budget = warmup_attempts

    def in_time() -> bool:
        return deadline is None or time.monotonic() < deadline

    for protocol in protocols:
        if not in_time():
            break
        result = handshake(endpoint, protocol, timeout)
        attempts = 1
        if result.error_stage == "timeout" and warmup_attempts > 0 and in_time():
            # Apache fetches the staple inside the first handshake and holds it up to its responder timeout;
            # the next handshake gets the cached answer (or the error it cached) at once.
            probe.warmup_used = True
            result = handshake(endpoint, protocol, timeout)
            attempts += 1
        delay = warmup_delay
        while (
            result.ok
            and result.staple is None
            and attempts <= budget
            and (wants_staple is None or wants_staple(result))
            and in_time()
        ):
            probe.warmup_used = True
            sleep(delay)
            delay = min(delay * 2, 2.0)
            if not in_time():
                break
            result = handshake(endpoint, protocol, timeout)
            attempts += 1
        if result.ok and result.staple is None and attempts > budget:
            # The server had its chance to fetch; it shares one cache across protocols, so the next protocol's
            # first handshake tells as much as a second warm-up would.
            budget = 0
        probe.handshakes[protocol] = result
        probe.attempts[protocol] = attempts
    return probe


def probe_endpoints(endpoints: Sequence[Endpoint], max_workers: int = 16, **kwargs) -> List[EndpointProbe]:
    """Probe many endpoints concurrently; the result order follows ``endpoints``."""
    if not endpoints:
        return []
    workers = max(1, min(max_workers, len(endpoints)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda ep: probe_endpoint(ep, **kwargs), endpoints))
