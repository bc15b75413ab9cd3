# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cause catalogue: stable finding codes shared by modules, reports, docs and tests.

Every finding the collection reports uses one of these codes. A code's entry says how bad it is by default,
what it means in one line, what fixes it, and which role of this collection applies the fix (None when no
configuration change can: a revoked certificate needs a new certificate, not a reload).

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record

SEVERITIES = ("critical", "error", "warning", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}  # info=0 .. critical=3


@dataclass(frozen=True, repr=False)
class Cause(Record):
    """One finding code of the catalogue: its severity, what it means and what fixes it."""

    code: str
    severity: str
    meaning: str
    remedy: str
    fixed_by: Optional[str]  # role name, or None when configuration cannot fix it


_CAUSES = [
    Cause(
        "no_ocsp_url",
        "info",
        "The certificate is Must-Staple but names no OCSP responder: no server can ever staple it (reported beside "
        "must_staple_unmet; stapling switched on for a certificate without a responder is stapling_without_ocsp).",
        "Replace the certificate: one without Must-Staple, or one from a CA that runs OCSP.",
        None,
    ),
    Cause(
        "stapling_without_ocsp",
        "warning",
        "Stapling is switched on for a certificate that names no OCSP responder (its CA dropped OCSP): nginx and "
        "Apache log it at every reload, a HAProxy staple file for it is never refreshed, and HAProxy before 3.2 "
        "with ocsp-update on on its line refuses to load it (error).",
        "Turn stapling off for this certificate only (nginx ssl_stapling off, Apache SSLUseStapling off in its "
        "vhost, HAProxy: remove its .ocsp file or set ocsp-update off on its line); keep it on elsewhere.",
        "stapling_config",
    ),
    Cause(
        "stapling_disabled",
        "warning",
        "The certificate names an OCSP responder but the server does not staple for this site.",
        "Enable stapling for the site (nginx ssl_stapling on; Apache SSLUseStapling On; HAProxy staple files).",
        "stapling_config",
    ),
    Cause(
        "stapling_unsupported",
        "error",
        "This server, version or configuration cannot staple this certificate as deployed.",
        "Use the stapling mechanism the server supports (HAProxy .ocsp files or ocsp-update; nginx certificates "
        "loaded without variables).",
        "stapling_config",
    ),
    Cause(
        "chain_incomplete",
        "error",
        "The server cannot find the issuer of its certificate, so it cannot build an OCSP request.",
        "Deploy the full chain (leaf first, then intermediates).",
        "cert_deploy",
    ),
    Cause(
        "chain_misordered",
        "error",
        "The certificates are presented out of order.",
        "Deploy the chain in order: leaf, then each issuer in turn.",
        "cert_deploy",
    ),
    Cause(
        "chain_extra",
        "warning",
        "The chain carries unrelated or duplicate certificates, or the root.",
        "Deploy only the leaf and its intermediates.",
        "cert_deploy",
    ),
    Cause(
        "key_mismatch",
        "critical",
        "The private key does not belong to the certificate.",
        "Deploy the key that belongs to the certificate.",
        "cert_deploy",
    ),
    Cause(
        "resolver_missing",
        "error",
        "The server must resolve the responder's name at run time and has no resolver to do it with.",
        "Configure a resolver the server can use (nginx: resolver directive).",
        "stapling_config",
    ),
    Cause(
        "resolver_failing",
        "error",
        "The resolver the server is configured with does not answer for the responder's name (no answer, "
        "NXDOMAIN or SERVFAIL), so the server cannot look the responder up, although the node itself may.",
        "Point the server's resolver at a nameserver that resolves the responder (nginx: resolver directive).",
        "stapling_config",
    ),
    Cause(
        "responder_unreachable",
        "error",
        "The node cannot reach the OCSP responder (DNS, connect, timeout or proxy).",
        "Open the node's egress path to the responder (DNS, firewall, proxy).",
        None,
    ),
    Cause(
        "responder_error",
        "error",
        "The responder answers, but not with a usable OCSP response.",
        "Check the responder URL and the CA's status; retry later for tryLater.",
        None,
    ),
    Cause(
        "staple_missing",
        "error",
        "Stapling is configured and the certificate names a responder, yet no staple is served after warm-up.",
        "Fix the cause named beside it, then reload so the server fetches a fresh response.",
        "tls_reload",
    ),
    Cause(
        "staple_expired",
        "critical",
        "The served staple is past its nextUpdate: the cached response expired and refreshing fails.",
        "Fix the refresh path, then reload so the server fetches a fresh response.",
        "tls_reload",
    ),
    Cause(
        "staple_expiring",
        "warning",
        "The served staple's nextUpdate is within the warning window.",
        "Check that the server refreshes its staple (responder reachable, refresh job running).",
        "tls_reload",
    ),
    Cause(
        "staple_invalid",
        "critical",
        "The served staple fails validation: bad signature, unauthorized signer, or another certificate's status.",
        "Replace the stapled response (stale staple file, wrong issuer); reload.",
        "tls_reload",
    ),
    Cause(
        "cert_revoked",
        "critical",
        "The CA says the certificate is revoked: its OCSP responder, or its CRL where OCSP is gone (the evidence "
        "names the source).",
        "Replace the certificate.",
        None,
    ),
    Cause(
        "cert_status_unknown",
        "error",
        "The responder does not know the certificate.",
        "Check that the certificate and issuer match what the CA issued; ask the CA.",
        None,
    ),
    Cause(
        "crl_unreachable",
        "warning",
        "The certificate names no OCSP responder and the node cannot download its CRL (DNS, connect, timeout, proxy "
        "or an HTTP error; the evidence names the stage), so nothing here can tell whether it is revoked.",
        "Open the node's egress path to the CRL distribution point (DNS, firewall, proxy), or ask the CA why the URL "
        "fails.",
        None,
    ),
    Cause(
        "crl_stale",
        "warning",
        "The certificate names no OCSP responder and its CRL is past its nextUpdate (or not yet valid, or has no "
        "nextUpdate and is more than 10 days old) at the node's clock: the CA stopped publishing, or a cache between "
        "the node and the CA serves an old copy.",
        "Check the node's clock and any caching proxy on the way to the distribution point; ask the CA for a "
        "current CRL.",
        None,
    ),
    Cause(
        "crl_invalid",
        "warning",
        "The certificate names no OCSP responder and what its CRL distribution point serves is no CRL of the "
        "certificate's issuer: not a CRL, too large, issued by another CA, a signature that does not verify, or a "
        "CRL that does not cover the certificate (a delta CRL, an indirect one, one for CA certificates or some "
        "reasons only, another distribution point's shard).",
        "Check the distribution point URL and anything that rewrites HTTP on the way (an intercepting proxy); ask "
        "the CA when its CRL is signed by another key.",
        None,
    ),
    Cause(
        "must_staple_unmet",
        "critical",
        "A Must-Staple certificate is served without a valid staple: clients that honour it refuse the connection.",
        "Make stapling work for this site, or replace the certificate with one without Must-Staple.",
        "stapling_config",
    ),
    Cause(
        "stale_cert_path",
        "error",
        "The server serves a different certificate than its configured files hold (renewed but not reloaded, "
        "or a stale path).",
        "Point the configuration at the current files and reload.",
        "tls_reload",
    ),
    Cause(
        "stapling_cache_missing",
        "error",
        "Apache enables stapling without an SSLStaplingCache, so it cannot staple.",
        "Configure SSLStaplingCache (e.g. shmcb).",
        "stapling_config",
    ),
    Cause(
        "trusted_cert_missing",
        "error",
        "The server verifies staples but its trusted file lacks the issuer, so every response fails verification.",
        "Deploy the issuer chain as the trusted certificate file (nginx ssl_trusted_certificate).",
        "cert_deploy",
    ),
    Cause(
        "server_down",
        "critical",
        "The server that declares this site does not serve it: it is not running, or no TLS handshake to the "
        "site succeeds from the node itself.",
        "Start the server once its configuration passes its own test (the evidence quotes the server's own "
        "words); fix the cause named beside it first.",
        None,
    ),
    Cause(
        "config_test_failed",
        "error",
        "The server's configuration does not pass the server's own test: the next reload or restart fails, and a "
        "stopped server cannot start.",
        "Fix what the server's own test output names (quoted in the evidence), then reload.",
        None,
    ),
    Cause(
        "no_tls_site",
        "warning",
        "Discovery found no TLS site on this node: no nginx, Apache or HAProxy declares one, or none could be "
        "read. A mis-targeted inventory or a server outside the supported types looks like this.",
        "Check that the node belongs in the inventory and runs one of the supported servers; the evidence lists "
        "what discovery found.",
        None,
    ),
    Cause(
        "node_drift",
        "error",
        "Nodes serving the same hostname present different certificates or chains.",
        "Roll the same certificate and chain out to every node.",
        "cert_deploy",
    ),
    Cause(
        "cert_expiring",
        "warning",
        "The certificate expires within the warning window.",
        "Renew the certificate and roll it out.",
        None,
    ),
    Cause(
        "cert_expired",
        "critical",
        "The certificate has expired.",
        "Renew the certificate and roll it out.",
        None,
    ),
]

CATALOGUE: Dict[str, Cause] = {cause.code: cause for cause in _CAUSES}
CODES = tuple(CATALOGUE)


@dataclass(repr=False)
class Finding(Record):
    """One cause on one node, for one server, site and hostname (the last three may be None)."""

    code: str
    evidence: List[str]
    severity: Optional[str] = None
    server: Optional[str] = None
    site: Optional[str] = None
    hostname: Optional[str] = None
    remediation: Optional[str] = None
    details: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.code not in CATALOGUE:
            raise ValueError("unknown finding code %r" % self.code)
        cause = CATALOGUE[self.code]
        self.severity = self.severity or cause.severity
        if self.severity not in SEVERITIES:
            raise ValueError("unknown severity %r" % self.severity)
        self.remediation = self.remediation or cause.remedy

    def to_dict(self) -> Dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "server": self.server,
            "site": self.site,
            "hostname": self.hostname,
            "evidence": list(self.evidence),
            "remediation": self.remediation,
            "fixed_by": CATALOGUE[self.code].fixed_by,
            "details": dict(self.details),
        }


def worst_severity(findings) -> Optional[str]:
    """The highest severity among findings (dicts or Finding records), or None when there are none."""
    worst = None
    for finding in findings:
        severity = finding["severity"] if isinstance(finding, dict) else finding.severity
        if worst is None or SEVERITY_RANK[severity] > SEVERITY_RANK[worst]:
            worst = severity
    return worst


def at_or_above(findings, threshold: str) -> list:
    """The findings whose severity is ``threshold`` or worse."""
    limit = SEVERITY_RANK[threshold]
    return [f for f in findings if SEVERITY_RANK[f["severity"] if isinstance(f, dict) else f.severity] >= limit]
