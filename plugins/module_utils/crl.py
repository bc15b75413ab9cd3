# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Revocation where OCSP is gone: fetch a certificate's CRL from the node and judge it (docs/revocation.md).

The CRL is downloaded through the same stages as the responder probe (responder_probe.probe: the node's resolver,
TCP, HTTP, its proxy settings, one time budget, a size cap), then parsed and checked:

- issuer: the CRL's issuer name is the certificate's issuer's subject;
- signature: it verifies with the issuer's public key (a CRL signed by anyone else is worth nothing);
- freshness: thisUpdate is not later than now plus the clock skew, nextUpdate not earlier than now minus it;
- the serials of the node's certificates that name this distribution point are looked up.

``check`` never raises for network trouble or a bad CRL: the record says what failed, at which stage
(``dns``, ``connect``, ``timeout``, ``proxy``, ``http`` for the path; ``crl`` for a body that is no usable CRL of
this issuer). The record is JSON-safe and holds no CRL bytes.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.tlsfleet.stapling.plugins.module_utils import responder_probe

# Sharded CRLs (Let's Encrypt) are a few KiB to a few MiB; a CA's single CRL can reach tens of MiB. Past the cap
# the CRL is not read at all (stage crl): parsing it would cost the node more than the answer is worth.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
CRL_TYPES = "application/pkix-crl, application/x-pkcs7-crl;q=0.9, */*;q=0.5"
MAX_URLS_PER_CERTIFICATE = 3
PATH_STAGES = ("dns", "connect", "timeout", "proxy", "http")
STAGES = (*PATH_STAGES, "crl")
# Kept of a CRL check in evidence: compact (evidence.py); the rest (addresses, timings, proxy) is full only.
COMPACT = (
    "url",
    "reachable",
    "failed_stage",
    "error",
    "http",
    "issuer_sha256",
    "valid",
    "signature_valid",
    "fresh",
    "this_update",
    "next_update",
    "seconds_until_next_update",
    "revoked_count",
    "problems",
    "certificates",
)


def http_urls(cert) -> List[str]:
    """The http:// (and https://) full-name CRL distribution points of ``cert``, in order, at most a few."""
    from cryptography import x509  # noqa: PLC0415 (the caller checked cryptography is there)

    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    urls: List[str] = []
    for point in points:
        for name in point.full_name or []:
            if isinstance(name, x509.UniformResourceIdentifier):
                value = name.value
                if value.lower().startswith(("http://", "https://")) and value not in urls:
                    urls.append(value)
    return urls[:MAX_URLS_PER_CERTIFICATE]


def _seconds(delta: datetime.timedelta) -> int:
    return int(delta.total_seconds())


def _reason(entry) -> Optional[str]:
    from cryptography import x509  # noqa: PLC0415

    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except (x509.ExtensionNotFound, ValueError):
        return None


def load(body: bytes):
    """A CRL from DER (or PEM) bytes; ValueError with a sentence when it is none."""
    from cryptography import x509  # noqa: PLC0415

    if not body:
        raise ValueError("the answer is empty")
    try:
        if body.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(body)
        return x509.load_der_x509_crl(body)
    except ValueError:
        start = body[:16].lstrip()
        if start[:1] == b"<":
            raise ValueError("the answer is an HTML page, not a CRL") from None
        raise ValueError("the answer is not a CRL (truncated, damaged, or another kind of file)") from None


def judge(
    body: bytes,
    issuer,
    certificates: Sequence[Any],
    now: Optional[datetime.datetime] = None,
    skew_seconds: int = 300,
) -> Dict[str, Any]:
    """Judge CRL bytes against ``issuer``; look up each of ``certificates`` (all issued by ``issuer``).

    Returns ``valid`` (a CRL of this issuer, signature verified), ``fresh``, the times, ``problems`` and per
    certificate fingerprint ``{serial, revoked, revocation_time, reason}``; ``error`` is the first problem that
    makes it unusable (not a CRL, another issuer, a bad signature), None otherwise.
    """
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import x509 as x509u  # noqa: PLC0415

    now = now or x509u.utc_now()
    out: Dict[str, Any] = {
        "valid": False,
        "signature_valid": None,
        "fresh": None,
        "this_update": None,
        "next_update": None,
        "seconds_until_next_update": None,
        "revoked_count": None,
        "problems": [],
        "error": None,
        "certificates": {},
    }
    try:
        crl = load(body)
    except ValueError as exc:
        out["error"] = str(exc)
        out["problems"].append(str(exc))
        return out
    if crl.issuer != issuer.subject:
        out["error"] = "the CRL is issued by '%s', not by the certificate's issuer '%s'" % (
            x509u.name_string(crl.issuer),
            x509u.name_string(issuer.subject),
        )
        out["problems"].append(out["error"])
        return out
    try:
        out["signature_valid"] = bool(crl.is_signature_valid(issuer.public_key()))
    except Exception as exc:  # an unsupported key or algorithm: cannot be verified, so not trusted
        out["signature_valid"] = False
        out["problems"].append("the CRL's signature cannot be verified: %s" % (exc or type(exc).__name__))
    if not out["signature_valid"]:
        out["error"] = "the CRL's signature does not verify with the public key of its issuer '%s'" % (
            x509u.name_string(issuer.subject)
        )
        if not out["problems"]:
            out["problems"].append(out["error"])
        return out
    out["valid"] = True
    this_update = x509u.compat_time(crl, "last_update")
    next_update = x509u.compat_time(crl, "next_update")
    skew = datetime.timedelta(seconds=max(0, int(skew_seconds)))
    out["this_update"] = x509u.format_time(this_update)
    out["next_update"] = x509u.format_time(next_update)
    fresh = True
    if this_update is not None and this_update > now + skew:
        fresh = False
        out["problems"].append(
            "the CRL is not valid yet: its thisUpdate %s is later than %s plus the allowed clock skew of %d s"
            % (out["this_update"], x509u.format_time(now), skew.total_seconds())
        )
    if next_update is None:
        out["problems"].append("the CRL has no nextUpdate: nothing says when it stops being current")
    else:
        out["seconds_until_next_update"] = _seconds(next_update - now)
        if next_update < now - skew:
            fresh = False
            out["problems"].append(
                "the CRL is stale: its nextUpdate %s is before %s (allowing %d seconds of clock skew)"
                % (out["next_update"], x509u.format_time(now), skew.total_seconds())
            )
    out["fresh"] = fresh
    try:
        out["revoked_count"] = len(crl)
    except Exception:  # a damaged list of entries: the lookups below say so
        out["revoked_count"] = None
    for cert in certificates:
        fp = x509u.fingerprint(cert)
        record: Dict[str, Any] = {"serial": x509u.serial_hex(cert.serial_number), "revoked": False}
        try:
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        except ValueError as exc:
            out["valid"] = False
            out["error"] = "the CRL's list of revoked certificates cannot be read: %s" % exc
            out["problems"].append(out["error"])
            out["certificates"] = {}
            return out
        if entry is not None:
            record.update(
                revoked=True,
                revocation_time=x509u.format_time(x509u.compat_time(entry, "revocation_date")),
                reason=_reason(entry),
            )
        out["certificates"][fp] = record
    return out


def check(
    url: str,
    issuer,
    certificates: Sequence[Any],
    timeout: float = 10.0,
    proxy: Optional[str] = None,
    use_env_proxy: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    skew_seconds: int = 300,
    now: Optional[datetime.datetime] = None,
) -> Dict[str, Any]:
    """Fetch the CRL at ``url`` from this node and judge it; one JSON-safe record (see the module docstring)."""
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import x509 as x509u  # noqa: PLC0415

    result = responder_probe.probe(url, None, timeout, "GET", proxy, use_env_proxy, max_bytes, accept=CRL_TYPES)
    report = result.to_dict()
    report.pop("method", None)
    report["issuer_sha256"] = x509u.fingerprint(issuer)
    # Until the CRL is read, every certificate is listed with its status unknown (revoked None).
    report["certificates"] = {
        x509u.fingerprint(c): {"serial": x509u.serial_hex(c.serial_number), "revoked": None} for c in certificates
    }
    for name in ("valid", "signature_valid", "fresh", "this_update", "next_update", "seconds_until_next_update"):
        report[name] = None
    report.update(valid=False, revoked_count=None, problems=[])
    if result.http.truncated:
        report.update(
            reachable=True,
            failed_stage="crl",
            error="the CRL at %s is larger than %d bytes (the node's limit); it was not read" % (url, max_bytes),
        )
        report["problems"] = [report["error"]]
        return report
    if not result.reachable:
        return report
    verdict = judge(result.body or b"", issuer, certificates, now=now, skew_seconds=skew_seconds)
    error = verdict.pop("error")
    if not verdict["certificates"]:
        verdict.pop("certificates")
    report.update(verdict)
    if error:
        report.update(failed_stage="crl", error="%s: %s" % (url, error))
    return report
