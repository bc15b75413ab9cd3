# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keep a stapling file fresh: judge the file in place, fetch a new response, push it to HAProxy.

A server that staples from a file (HAProxy's ``<crt>.ocsp``, nginx ``ssl_stapling_file``, lighttpd,
Envoy) serves whatever the file holds, and never refreshes it. This library decides whether the file
needs a new response (:func:`assess_existing`), fetches one and accepts it only when it is fully valid
and says "good" (:func:`fetch_fresh`), and hands it to a running HAProxy through its runtime API
(:func:`haproxy_set_ocsp_response`). Writing the file is left to the module (atomic move, backup,
ownership and mode are Ansible's job).

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import base64
import datetime
import os
import re
import socket
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils import ocsp, responder_probe
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, TlsfleetError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record
from ansible_collections.tlsfleet.stapling.plugins.module_utils.x509 import (
    format_time,
    name_string,
    parse_time,
    read_input_file,
)

REASON_MISSING = "missing"
REASON_INVALID = "invalid"
REASON_REFRESH = "refresh_window"
REASON_FORCED = "forced"
REASON_CURRENT = "current"

HAPROXY_SUCCESS = "OCSP Response updated!"
HAPROXY_REPLY_LIMIT = 64 * 1024
_SEVERITY_PREFIX_RE = re.compile(r"^\[[0-9a-z]+\]:\s*")  # "severity-output number|string" on the socket


class StapleError(TlsfleetError):
    """A failure with extra result keys (``details``) for ``fail_json``; the message is one sentence."""

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.details = details


@dataclass(repr=False)
class Assessment(Record):
    """What the file at ``dest`` holds and whether it needs a new response."""

    reason: str
    needs_fetch: bool
    previous: Optional[Dict[str, Any]] = None  # verdict dict, or None when there is no response
    der: Optional[bytes] = None  # the file's bytes (only when it holds a response)
    remaining: Optional[int] = None
    window: Optional[int] = None


def _times(verdict_dict) -> tuple:
    this_update = parse_time(verdict_dict["this_update"]) if verdict_dict.get("this_update") else None
    next_update = parse_time(verdict_dict["next_update"]) if verdict_dict.get("next_update") else None
    return this_update, next_update


def refresh_threshold(verdict_dict, refresh_window: Optional[int], min_validity: int) -> Optional[int]:
    """Seconds before nextUpdate from which a response is due for refresh (``None`` without nextUpdate).

    ``refresh_window`` None means half of the response's validity period (nextUpdate - thisUpdate); the
    threshold is never below ``min_validity``.
    """
    this_update, next_update = _times(verdict_dict)
    if next_update is None:
        return None
    if refresh_window is None:
        window = int((next_update - this_update).total_seconds() // 2) if this_update is not None else 0
    else:
        window = int(refresh_window)
    return max(window, int(min_validity))


def _unreadable_verdict(message: str, skew: int, at: datetime.datetime) -> Dict[str, Any]:
    verdict = ocsp.OcspVerdict(response_status=None, problems=[message], checked_at=format_time(at), clock_skew=skew)
    return verdict.to_dict()


def assess_existing(
    dest: str,
    cert,
    issuer,
    *,
    at: datetime.datetime,
    skew: int,
    refresh_window: Optional[int],
    min_validity: int,
    force: bool = False,
) -> Assessment:
    """Judge the response in ``dest`` for ``cert``; never raises for a bad file, only for an unreadable one."""
    if not os.path.lexists(dest):
        return Assessment(REASON_MISSING, True)
    data = read_input_file(dest, "dest")  # InputError when it cannot be read: the module must not guess
    if not data.strip():  # HAProxy accepts an empty .ocsp as "stapling on, no response yet"
        return Assessment(REASON_MISSING, True)
    try:
        verdict = ocsp.validate_response(data, cert, issuer, at=at, skew_seconds=skew, source=f"dest {dest}")
    except InputError as exc:
        return Assessment(REASON_INVALID, True, previous=_unreadable_verdict(str(exc), skew, at))
    previous = verdict.to_dict()
    if not verdict.good or verdict.next_update is None:
        return Assessment(REASON_INVALID, True, previous=previous, der=data)
    threshold = refresh_threshold(previous, refresh_window, min_validity)
    remaining = verdict.seconds_until_next_update
    if remaining <= threshold:
        return Assessment(REASON_REFRESH, True, previous, data, remaining, threshold)
    if force:
        return Assessment(REASON_FORCED, True, previous, data, remaining, threshold)
    return Assessment(REASON_CURRENT, False, previous, data, remaining, threshold)


def _why_not_usable(verdict, url: str, min_validity: int) -> Optional[str]:
    """One sentence saying why a fetched verdict must not be written, or None when it is fine."""
    if verdict.response_status != "successful" or not verdict.valid:
        return f"the answer of {url} is not a usable OCSP response: {' '.join(verdict.problems)}"
    if verdict.cert_status == "revoked":
        reason = f" (reason: {verdict.revocation_reason})" if verdict.revocation_reason else ""
        return f"the responder {url} reports the certificate as revoked since {verdict.revocation_time}{reason}"
    if verdict.cert_status != "good":
        return f"the responder {url} does not know the certificate (status {verdict.cert_status})"
    if verdict.next_update is None:
        return (
            f"the response of {url} has no nextUpdate; HAProxy refuses such responses and no refresh time can be "
            "planned"
        )
    if verdict.seconds_until_next_update < min_validity:
        return (
            f"the response of {url} is valid for only {verdict.seconds_until_next_update} more seconds (nextUpdate "
            f"{verdict.next_update}), less than min_validity ({min_validity}); servers would drop it at once"
        )
    return None


def fetch_fresh(
    urls: List[str],
    cert,
    issuer,
    *,
    at_func,
    skew: int,
    min_validity: int,
    timeout: float,
    proxy: Optional[str] = None,
    use_env_proxy: bool = True,
):
    """Ask each URL in turn for ``cert``'s status; return ``(der, verdict, url)`` for the first good answer.

    A valid answer that is not good (revoked, unknown) stops the search at once: the responder is
    authoritative. Raises :class:`StapleError` naming what each URL answered when no answer can be used;
    its ``details`` carry the fetched verdict (``response``) when there was one.
    """
    request_der = ocsp.build_request(cert, issuer, "sha1")  # HAProxy and nginx compute SHA-1 CertIDs
    failures = []
    for url in urls:
        result = responder_probe.probe(url, request_der, timeout, "POST", proxy, use_env_proxy)
        if not result.reachable:
            failures.append(f"{url}: {result.error} (stage {result.failed_stage})")
            continue
        try:
            verdict = ocsp.validate_response(
                result.body, cert, issuer, at=at_func(), skew_seconds=skew, source=f"the answer of {url}"
            )
        except InputError as exc:
            failures.append(str(exc).rstrip("."))
            continue
        problem = _why_not_usable(verdict, url, min_validity)
        if problem is None:
            return result.body, verdict, url
        if verdict.valid and verdict.cert_status in ("revoked", "unknown"):
            raise StapleError(problem + ".", response=verdict.to_dict(), responder_url=url)
        failures.append(problem)
    raise StapleError("no usable OCSP response could be fetched: " + "; ".join(failures) + ".")


def is_newer(new_verdict: Dict[str, Any], old_verdict: Optional[Dict[str, Any]]) -> bool:
    """Whether ``new_verdict`` was produced later or lasts longer than a good ``old_verdict``."""
    if not old_verdict or not old_verdict.get("good"):
        return True
    new_this, new_next = _times(new_verdict)
    old_this, old_next = _times(old_verdict)
    if new_next is not None and (old_next is None or new_next > old_next):
        return True
    return new_this is not None and old_this is not None and new_this > old_this


def summary(verdict: Optional[Dict[str, Any]]) -> str:
    """A few text lines describing a verdict, for diff output (never the response bytes)."""
    if not verdict:
        return ""
    if verdict.get("response_status") is None:
        return "unreadable: %s\n" % "; ".join(verdict.get("problems") or [])
    lines = [
        "response_status: %s" % verdict.get("response_status"),
        "cert_status: %s" % verdict.get("cert_status"),
        "this_update: %s" % verdict.get("this_update"),
        "next_update: %s" % verdict.get("next_update"),
        "signer: %s" % verdict.get("signer"),
        "valid: %s" % verdict.get("valid"),
        "sha256: %s" % verdict.get("response_sha256"),
    ]
    return "\n".join(lines) + "\n"


def describe_issuer_missing(cert, where: str) -> str:
    return (
        f"the issuer '{name_string(cert.issuer)}' of the certificate '{name_string(cert.subject)}' is not in {where}; "
        "give it with issuer_path."
    )


# ---------------------------------------------------------------------------------------------
# HAProxy runtime API


def haproxy_command(socket_path: str, command: str, timeout: float) -> str:
    """Send one command line to an HAProxy runtime API UNIX socket and return the whole reply text.

    HAProxy answers a non-interactive command and closes the connection; the reply is read until then,
    within ``timeout`` seconds in all and up to :data:`HAPROXY_REPLY_LIMIT` bytes. Raises
    :class:`TlsfleetError` when the socket cannot be reached or does not answer in time.
    """
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(socket_path)
        except socket.timeout:
            raise TlsfleetError(f"connecting to the HAProxy runtime API socket {socket_path} timed out.") from None
        except OSError as exc:
            raise TlsfleetError(
                f"cannot connect to the HAProxy runtime API socket {socket_path}: {exc.strerror or exc}."
            ) from None
        chunks, size = [], 0
        try:
            sock.sendall(command.encode("ascii") + b"\n")
            while size < HAPROXY_REPLY_LIMIT:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout()
                sock.settimeout(left)
                chunk = sock.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except socket.timeout:
            got = b"".join(chunks).decode("utf-8", "replace").strip()
            raise TlsfleetError(
                f"the HAProxy runtime API socket {socket_path} sent no complete answer within {timeout:g} seconds"
                + (f" (partial answer: {got!r})." if got else ".")
            ) from None
        except OSError as exc:
            raise TlsfleetError(
                f"talking to the HAProxy runtime API socket {socket_path} failed: {exc.strerror or exc}."
            ) from None
        return b"".join(chunks)[:HAPROXY_REPLY_LIMIT].decode("utf-8", "replace")
    finally:
        sock.close()


def haproxy_reply_ok(reply: str) -> bool:
    """Whether ``reply`` is HAProxy's success answer to ``set ssl ocsp-response``."""
    lines = [_SEVERITY_PREFIX_RE.sub("", line.strip()) for line in reply.splitlines() if line.strip()]
    return lines == [HAPROXY_SUCCESS]


def haproxy_set_ocsp_response(socket_path: str, der: bytes, timeout: float) -> str:
    """Push ``der`` with ``set ssl ocsp-response <base64>``; return the reply, raise when it is not success."""
    command = "set ssl ocsp-response " + base64.b64encode(der).decode("ascii")
    reply = haproxy_command(socket_path, command, timeout)
    if not haproxy_reply_ok(reply):
        shown = " ".join(reply.split()) or "(an empty answer)"
        raise TlsfleetError(
            f"HAProxy did not accept the OCSP response on {socket_path}: it answered {shown!r} instead of "
            f"{HAPROXY_SUCCESS!r}."
        )
    return reply.strip()
