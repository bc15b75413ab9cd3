# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Revocation where OCSP is gone: fetch a certificate's CRL from the node and judge it (docs/revocation.md).

The CRL is downloaded through the same stages as the responder probe (responder_probe.probe: the node's resolver,
TCP, HTTP, its proxy settings, one time budget, a size cap), then parsed and checked:

- issuer: the CRL's issuer name is the certificate's issuer's subject;
- signature: it verifies with the issuer's public key (a CRL signed by anyone else is worth nothing);
- scope: a complete CRL for the certificate (not a delta CRL, not an indirect one, not one restricted to CA or
  attribute certificates or to some reasons, not another distribution point's shard, no critical extension it
  does not understand): any other CRL cannot say that a certificate is not revoked;
- freshness: thisUpdate is not later than now plus the clock skew, nextUpdate not earlier than now minus it (a
  CRL without nextUpdate is current for MAX_AGE_WITHOUT_NEXT_UPDATE_DAYS after its thisUpdate);
- the serials of the node's certificates that name this distribution point are looked up.

``check`` never raises for network trouble or a bad CRL: the record says what failed, at which stage
(``dns``, ``connect``, ``timeout``, ``proxy``, ``http`` for the path; ``crl`` for a body that is no usable CRL of
this issuer). The record is JSON-safe and holds no CRL bytes.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import datetime
import urllib.parse
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.tlsfleet.stapling.plugins.module_utils import responder_probe

# Sharded CRLs (Let's Encrypt) are a few KiB to a few MiB; a CA's single CRL can reach tens of MiB. Past the cap
# the CRL is not read at all (stage crl): parsing it would cost the node more than the answer is worth.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
CRL_TYPES = "application/pkix-crl, application/x-pkcs7-crl;q=0.9, */*;q=0.5"
MAX_URLS_PER_CERTIFICATE = 3
# RFC 5280 requires nextUpdate of a conforming CA. A CRL without one is taken as current this long after its
# thisUpdate: the longest a subscriber CRL may be valid under the CA/Browser Forum rules (docs/revocation.md).
MAX_AGE_WITHOUT_NEXT_UPDATE_DAYS = 10
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


def _point_names(full_name, relative_name, issuer_name) -> set:
    """The general names of a distribution point (a relative name is relative to the CRL issuer's name)."""
    from cryptography import x509  # noqa: PLC0415

    if full_name:
        return set(full_name)
    if relative_name is not None:
        return {x509.DirectoryName(x509.Name([*issuer_name.rdns, relative_name]))}
    return set()


def _fetched_point_names(url: Optional[str], certificates: Sequence[Any], issuer_name) -> set:
    """The names of the distribution points the certificates name that hold ``url`` (every point without ``url``)."""
    from cryptography import x509  # noqa: PLC0415

    names = {x509.UniformResourceIdentifier(url)} if url else set()
    for cert in certificates:
        try:
            points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        except (x509.ExtensionNotFound, ValueError):
            continue
        for point in points:
            point_names = _point_names(point.full_name, point.relative_name, issuer_name)
            if url is None or x509.UniformResourceIdentifier(url) in point_names:
                names |= point_names
    return names


def _comparable(name):
    """A general name as compared between the CRL and the certificate: a URI's scheme and host are not case
    sensitive and a scheme's default port is the same as none (RFC 3986 6.2.2.1, 6.2.3), so
    http://CRL.Example.test:80/x and http://crl.example.test/x are one point. A URI that does not parse stays as
    it is (compared exactly)."""
    from cryptography import x509  # noqa: PLC0415

    if not isinstance(name, x509.UniformResourceIdentifier):
        return name
    try:
        parts = urllib.parse.urlsplit(name.value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return name
    if not parts.scheme or host is None:
        return name
    scheme = parts.scheme.lower()
    netloc = "[%s]" % host if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        netloc = "%s:%d" % (netloc, port)
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        netloc = "%s@%s" % (userinfo, netloc)
    return ("uri", urllib.parse.urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment)))


def _name_text(name) -> str:
    value = getattr(name, "value", name)
    return value.rfc4514_string() if hasattr(value, "rfc4514_string") else str(value)


def scope_problem(crl, url: Optional[str] = None, certificates: Sequence[Any] = ()) -> Optional[str]:
    """Why ``crl`` is not a complete CRL for ``certificates`` fetched from ``url`` (RFC 5280 5.2.4, 5.2.5, 6.3.3),
    or None. Such a CRL cannot say that a certificate is not revoked."""
    from cryptography import x509  # noqa: PLC0415

    try:
        extensions = list(crl.extensions)
    except ValueError as exc:
        return "the CRL's extensions cannot be read: %s" % exc
    idp = None
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.DeltaCRLIndicator):
            return (
                "the CRL is a delta CRL (changes since base CRL number %d): it lists only recent revocations, so it "
                "cannot say that a certificate is not revoked" % value.crl_number
            )
        if isinstance(value, x509.IssuingDistributionPoint):
            idp = value
        elif extension.critical and isinstance(value, x509.UnrecognizedExtension):
            return "the CRL has a critical extension this audit does not understand (%s)" % extension.oid.dotted_string
    if idp is None:
        return None
    if idp.indirect_crl:
        return "the CRL is an indirect CRL: it may list certificates of other issuers, which this audit does not read"
    if idp.only_contains_ca_certs:
        return "the CRL covers only CA certificates, not server certificates"
    if idp.only_contains_attribute_certs:
        return "the CRL covers only attribute certificates, not server certificates"
    if idp.only_some_reasons:
        return "the CRL covers only some revocation reasons (%s): a revocation for another reason is not in it" % (
            ", ".join(sorted(reason.name for reason in idp.only_some_reasons))
        )
    names = _point_names(idp.full_name, idp.relative_name, crl.issuer)
    fetched = {_comparable(name) for name in _fetched_point_names(url, certificates, crl.issuer)}
    if names and not {_comparable(name) for name in names} & fetched:
        return (
            "the CRL's issuing distribution point is %s, not the distribution point fetched (%s): it covers another "
            "part (shard) of the issuer's certificates"
            % (", ".join(sorted(_name_text(name) for name in names)), url or "the certificate's")
        )
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
    url: Optional[str] = None,
) -> Dict[str, Any]:
    """Judge CRL bytes (fetched from ``url``) against ``issuer``; look up each of ``certificates`` (all issued by
    ``issuer``, all naming ``url`` as a distribution point).

    Returns ``valid`` (a complete CRL of this issuer for them, signature verified), ``fresh``, the times,
    ``problems`` and per certificate fingerprint ``{serial, revoked, revocation_time, reason}``; ``error`` is the
    first problem that makes it unusable (not a CRL, another issuer, a bad signature, another scope), None
    otherwise.
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
    scope = scope_problem(crl, url, certificates)
    if scope is not None:
        out["error"] = scope
        out["problems"].append(scope)
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
        limit = datetime.timedelta(days=MAX_AGE_WITHOUT_NEXT_UPDATE_DAYS)
        if this_update is not None and this_update + limit < now - skew:
            fresh = False
            out["problems"].append(
                "the CRL has no nextUpdate and its thisUpdate %s is more than %d days old: nothing says it is still "
                "current (RFC 5280 requires nextUpdate)" % (out["this_update"], MAX_AGE_WITHOUT_NEXT_UPDATE_DAYS)
            )
        else:
            out["problems"].append(
                "the CRL has no nextUpdate (RFC 5280 requires it): taken as current until %d days after its "
                "thisUpdate %s" % (MAX_AGE_WITHOUT_NEXT_UPDATE_DAYS, out["this_update"])
            )
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
    bodies: Optional[Dict[str, bytes]] = None,
) -> Dict[str, Any]:
    """Fetch the CRL at ``url`` from this node and judge it; one JSON-safe record (see the module docstring).
    ``bodies`` (url -> bytes), when given, keeps the CRL read, so certificates found to need it later are judged
    against the same download (``judge``) instead of fetching it again."""
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
    if bodies is not None:
        bodies[url] = result.body or b""
    verdict = judge(result.body or b"", issuer, certificates, now=now, skew_seconds=skew_seconds, url=url)
    error = verdict.pop("error")
    if not verdict["certificates"]:
        verdict.pop("certificates")
    report.update(verdict)
    if error:
        report.update(failed_stage="crl", error="%s: %s" % (url, error))
    return report
