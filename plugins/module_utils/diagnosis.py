# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""From evidence to findings: a pure function, rule by rule, per site and hostname.

The evidence is what audit.gather() returns (an evidence.Evidence, or its dict form). Each rule reads it and
may add findings from the cause catalogue (findings.py). The rules name the root cause, not every symptom: a
staple that is missing because the node cannot reach its responder is reported as ``responder_unreachable``;
``staple_missing`` is left for a missing staple that no other evidence explains. A certificate without an OCSP
URL is not a stapling failure: stapling switched on for it is ``stapling_without_ocsp`` (switch it off for that
certificate), and only a Must-Staple one is ``no_ocsp_url`` with ``must_staple_unmet``.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import datetime
import ipaddress
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

from ansible_collections.tlsfleet.stapling.plugins.module_utils.evidence import (
    ChainVerdict,
    Evidence,
    Served,
    Site,
    Verdict,
    crls_for,
)
from ansible_collections.tlsfleet.stapling.plugins.module_utils.findings import Finding
from ansible_collections.tlsfleet.stapling.plugins.module_utils.ocsp import OcspVerdict
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import LABELS, facts_of

# Stages where the path to the responder broke. At the HTTP stage it depends: an error status or an answer far
# larger than any OCSP response means something at the responder's address answered (responder_error); a
# connection closed or reset without an answer is the path (responder_unreachable).
UNREACHABLE_STAGES = ("dns", "connect", "timeout", "proxy")
# Stages where the path broke before a request named any certificate: such a probe speaks for every certificate
# of its URL. Any later answer (or silence) is about the one certificate it asked for.
SHARED_STAGES = ("dns", "connect", "proxy")
# Words that mark the lines of a server's own configuration test worth quoting.
CONFIG_TEST_MARKERS = ("emerg", "alert", "error", "fail", "ah0", "invalid", "unable", "cannot", "can't")
# Read in place of a staple that was not sent: every field None or empty.
_NO_STAPLE = OcspVerdict(response_status=None)


def _responder_answered(check: Dict[str, Any]) -> bool:
    stage = check.get("failed_stage")
    if stage == "http":
        http = check.get("http") or {}
        return http.get("status") is not None or bool(http.get("truncated"))
    return stage not in UNREACHABLE_STAGES


@dataclass(repr=False)
class Thresholds(Record):
    """The limits a diagnosis judges against (node_audit's and fleet_report's options)."""

    staple_warning_seconds: int = 1800
    cert_warning_days: int = 21
    explicit_trust_anchors: bool = False
    no_site_severity: str = "warning"


def _parse_time(text: Optional[str]) -> Optional[datetime.datetime]:
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _Hostname:
    """What one hostname of one site shows, with helpers the rules share."""

    def __init__(self, site: Site, hostname: str, served: Optional[Served], evidence: Evidence, limits, site_leaves):
        self.site = site
        self.hostname = hostname or None
        self.served = served or Served()
        self.evidence = evidence
        self.limits = limits
        self.findings: List[Finding] = []
        self.configured = site.configured
        self.stapling = site.stapling or {}
        self.server = site.server
        self.facts = facts_of(self.server)  # what the server type's configuration means; None when unknown
        # The verdicts of the protocols whose handshake presented a certificate, in protocol order.
        self.protocols = {p: hs for p, hs in self.served.protocols.items() if hs.ok}
        reports = [v for v in map(self.served.verdict_of, self.protocols) if v is not None and v.presented]
        self.reports = reports
        self.served_leaf = evidence.certificate(reports[0].presented[0]) if reports else None
        self.configured_leaf = evidence.certificate(self.configured.leaf)
        self.leaf = self.served_leaf or self.configured_leaf
        self.site_leaves = site_leaves  # fingerprints of every certificate the site's configuration deploys
        self.now = _parse_time(evidence.node.get("checked_at")) or datetime.datetime.now(datetime.timezone.utc)

    def add(self, code: str, *evidence: str, severity: Optional[str] = None, **details) -> None:
        self.findings.append(
            Finding(
                code,
                [e for e in evidence if e],
                severity=severity,
                server=self.server,
                site=self.site.site,
                hostname=self.hostname,
                details=details,
            )
        )

    def subject(self, fingerprint: str) -> str:
        cert = self.evidence.certificate(fingerprint)
        return cert.subject if cert is not None else "?"

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)

    def name(self) -> str:
        return self.hostname or "%s:%s" % (self.site.endpoint.host, self.site.endpoint.port)

    def log_lines(self, *codes: str) -> List[str]:
        """Log events of this server with one of ``codes``, as evidence lines (newest last, at most 3)."""
        lines = []
        for event in self.evidence.log_events:
            if event.get("server") != self.server or (codes and event.get("code") not in codes):
                continue
            hint = event.get("site_hint") or ""
            if hint and self.hostname and self.hostname not in hint and not self._hint_is_own_file(hint):
                continue
            lines.append("%s:%s: %s" % (event.get("file"), event.get("line_no"), event.get("message")))
        return ["log " + line for line in lines[-3:]]

    def _hint_is_own_file(self, hint: str) -> bool:
        files = [self.configured.certificate_file, self.stapling.get("ssl_stapling_file")]
        return any(f and (f in hint or hint in f) for f in files)

    def responders(self) -> List[Dict[str, Any]]:
        """The responder checks that speak for this certificate: answers about it, or a URL's probe whose path
        broke before any certificate was named. Another certificate's answer never stands for this one."""
        fp = self.leaf.sha256 if self.leaf else None
        own = self.evidence.certificate_responders.get(fp) or {}
        checks = self.evidence.responders
        out = []
        for url in self.leaf.ocsp_urls if self.leaf else []:
            check = own.get(url) or checks.get(url)
            if check is not None and _speaks_for(check, fp):
                out.append(check)
        return out

    def unasked(self) -> List[str]:
        """Responder URLs of this certificate that were probed, but only about another certificate."""
        asked = {check.get("url") for check in self.responders()}
        checks = self.evidence.responders
        return [u for u in (self.leaf.ocsp_urls if self.leaf else []) if u in checks and u not in asked]

    def server_record(self) -> Dict[str, Any]:
        for record in self.evidence.servers:
            if isinstance(record, dict) and record.get("type") == self.server:
                return record
        return {}


def _speaks_for(check: Dict[str, Any], fp: Optional[str]) -> bool:
    asked = check.get("certificate_sha256")
    return asked is None or asked == fp or check.get("failed_stage") in SHARED_STAGES


def config_test_lines(record: Dict[str, Any], limit: int = 3) -> List[str]:
    """The lines of a server's own configuration test that say what is wrong (its words, trimmed)."""
    lines = [line.strip() for line in str(record.get("config_test_output") or "").splitlines() if line.strip()]
    marked = [line for line in lines if any(word in line.lower() for word in CONFIG_TEST_MARKERS)]
    return [line[:300] for line in (marked or lines[-2:])[:limit]]


# --------------------------------------------------------------------------------------------------------
# rules; each returns True when the hostname's diagnosis is complete (later rules would only add noise)


def rule_serving(h: _Hostname) -> bool:
    """A site nothing serves: its server is down, or no handshake to it succeeds from the node itself.

    Whatever else is found from the configuration is still reported: the server being down is never the only
    thing a node says when its configuration names a cause too.
    """
    protocols = h.served.protocols
    if not protocols or h.reports:
        return False
    record = h.server_record()
    running = h.site.server_running if h.site.server_running is not None else record.get("running")
    where = "%s:%s" % (h.site.endpoint.host, h.site.endpoint.port)
    errors = list(dict.fromkeys(str(r.error or "no handshake") for r in protocols.values()))
    if running is False:
        first = "%s is not running on this node, so nothing serves %s (%s)" % (h.server, h.name(), where)
    else:
        first = "%s runs%s, but no TLS handshake to %s at %s succeeds from the node itself" % (
            h.server,
            " (pid %s)" % record["master_pid"] if record.get("master_pid") else "",
            h.name(),
            where,
        )
    evidence = [first, *("from the node: %s" % e for e in errors[:2])]
    if record.get("config_test_ok") is False:
        evidence.extend("%s's configuration test says: %s" % (h.server, line) for line in config_test_lines(record))
    h.add("server_down", *evidence, running=running)
    return False


def rule_certificate_validity(h: _Hostname) -> bool:
    if h.leaf is None:
        return False
    not_after = _parse_time(h.leaf.not_after)
    if not_after is None:
        return False
    window = datetime.timedelta(days=h.limits.cert_warning_days)
    not_before = _parse_time(h.leaf.not_before)
    if h.leaf.short_lived and not_before is not None:
        # A short-lived certificate lives less than the usual window: it is late once a third of its life is left
        # (ACME clients renew at two thirds), not from the day it was issued.
        window = min(window, (not_after - not_before) / 3)
    if not_after < h.now:
        h.add("cert_expired", "%s serves %s, expired on %s" % (h.name(), h.leaf.subject, h.leaf.not_after))
    elif not_after - h.now < window:
        left = not_after - h.now
        remaining = "%s; short-lived" % _duration(left.total_seconds()) if h.leaf.short_lived else "%d days" % left.days
        h.add(
            "cert_expiring",
            "%s serves %s, which expires on %s (%s)"
            % (
                h.name(),
                h.leaf.subject,
                h.leaf.not_after,
                remaining,
            ),
        )
    return False


def rule_stale_certificate(h: _Hostname) -> bool:
    """The server serves another certificate than its configured files hold (renewed, not reloaded)."""
    if h.served_leaf is None or h.configured_leaf is None:
        return False
    configured = set(h.site_leaves or [h.configured_leaf.sha256])
    if h.served_leaf.sha256 in configured:
        return False
    cert_file = h.configured.certificate_file
    file_stat = h.site.files.get(cert_file) or {}
    h.add(
        "stale_cert_path",
        "%s serves serial %s (valid from %s), but %s holds serial %s (valid from %s)"
        % (
            h.name(),
            h.served_leaf.serial,
            h.served_leaf.not_before,
            cert_file,
            h.configured_leaf.serial,
            h.configured_leaf.not_before,
        ),
        "%s was modified at %s; the server's master process started at %s"
        % (cert_file, file_stat.get("mtime"), h.site.server_started_at),
        served_sha256=h.served_leaf.sha256,
        configured_sha256=h.configured_leaf.sha256,
    )
    return False


def rule_key(h: _Hostname) -> bool:
    if h.configured.key_matches is False:
        h.add(
            "key_mismatch",
            "the private key in %s does not belong to the certificate in %s (%s)"
            % (h.configured.key_file, h.configured.certificate_file, h.configured_leaf.subject),
        )
    return False


def _stapling_switched_on(h: _Hostname) -> bool:
    if h.facts is None:
        return True
    return h.facts.stapling_enabled(h.stapling, h.configured)


def rule_no_ocsp_url(h: _Hostname) -> bool:
    """A certificate that names no OCSP responder: stapling can only be switched off for it.

    Stapling switched on for it is ``stapling_without_ocsp`` (the server type says how bad: a warning at every
    reload, a staple file nothing refreshes, or HAProxy before 3.2 with ocsp-update on refusing to load it). A
    Must-Staple certificate without a responder is ``no_ocsp_url`` beside ``must_staple_unmet`` instead: only a
    new certificate helps, so the two never both stand for one certificate. A short-lived certificate (7 days or
    less) needs no revocation: without a responder and with stapling off, it is as it should be.
    """
    if h.leaf is None or h.leaf.ocsp_urls:
        return False
    short = " (short-lived: it needs no revocation check)" if h.leaf.short_lived else ""
    if h.leaf.must_staple:
        # What the server does with it still matters when that is worse than the missing staple: HAProxy before 3.2
        # with ocsp-update on refuses the certificate, so its whole configuration no longer loads (found in review).
        refusal = (
            h.facts.no_responder_problem(h.stapling, h.configured, h.site, h.name())
            if h.facts is not None and _stapling_switched_on(h)
            else None
        )
        h.add(
            "no_ocsp_url",
            "%s is Must-Staple but names no OCSP responder (no AIA OCSP URL): no server can staple it" % h.leaf.subject,
            *([refusal[1]] if refusal is not None and refusal[0] in ("error", "critical") else []),
        )
        h.add(
            "must_staple_unmet",
            "%s is Must-Staple but names no OCSP responder: clients that honour Must-Staple refuse it" % h.leaf.subject,
        )
        return True
    if not _stapling_switched_on(h):
        return True  # stapling is off for a certificate that cannot be stapled: as it should be
    problem = h.facts.no_responder_problem(h.stapling, h.configured, h.site, h.name()) if h.facts else None
    if h.facts is not None and problem is None:
        return False  # the server names a responder for it itself (nginx ssl_stapling_responder, SSLStaplingForceURL)
    severity, text, log_codes = problem or ("warning", "stapling is switched on for %s" % h.name(), ())
    h.add(
        "stapling_without_ocsp",
        "%s names no OCSP responder (no AIA OCSP URL)%s: there is nothing to staple" % (h.leaf.subject, short),
        text,
        *h.log_lines(*log_codes),
        severity=severity,
    )
    # A server-wide stapling setting that is missing still matters (Apache will not start without its cache while
    # any vhost says SSLUseStapling on); whether this certificate can be stapled does not.
    other = h.facts.stapling_problem(h.stapling, h.configured, h.site, h.name()) if h.facts else None
    if other is not None and other[0] not in ("stapling_disabled", "stapling_unsupported"):
        h.add(other[0], other[1], *(h.log_lines(*other[2]) if other[2] else ()))
    return True


def rule_stapling_configured(h: _Hostname) -> bool:
    """Is stapling switched on, and can this server do it for this certificate as deployed?"""
    if h.facts is None:
        return False
    problem = h.facts.stapling_problem(h.stapling, h.configured, h.site, h.name())
    if problem is None:
        return False
    code, text, log_codes = problem
    h.add(code, text, *(h.log_lines(*log_codes) if log_codes else ()))
    return True


def rule_staple_file(h: _Hostname) -> bool:
    """A staple read from disk (HAProxy .ocsp, nginx ssl_stapling_file): the server serves what it holds."""
    staple_file = h.configured.staple_file
    verdict = staple_file.verdict if staple_file else None
    if not staple_file or not staple_file.exists or verdict is None:
        return False
    where = "the staple file %s" % staple_file.path
    stale = next((f for f in h.findings if f.code == "stale_cert_path"), None)
    if stale is not None and verdict.response_status == "successful" and not verdict.cert_id_matches:
        # The running server loaded the certificate and its staple file together; both predate the files on
        # disk. Part of the same stale deployment: the staple file must be renewed with the certificate.
        stale.evidence.append(
            "%s belongs to the served certificate, not to the one on disk: renew it with the certificate" % where
        )
        return False
    if verdict.response_status != "successful":
        h.add("responder_error", "%s holds a '%s' response" % (where, verdict.response_status))
    elif verdict.valid:
        if verdict.cert_status == "revoked":
            h.add("cert_revoked", "%s (OCSP) says revoked since %s" % (where, verdict.revocation_time), source="ocsp")
        elif verdict.cert_status == "unknown":
            h.add("cert_status_unknown", "%s says the certificate is unknown" % where)
        return False
    elif _only_expired(verdict):
        h.add(
            "staple_expired",
            "%s expired: nextUpdate %s" % (where, verdict.next_update),
            *h.log_lines("staple_expired"),
        )
    else:
        h.add("staple_invalid", "%s fails validation: %s" % (where, "; ".join(verdict.problems or [])))
    return True


def _only_expired(verdict) -> bool:
    left = verdict.seconds_until_next_update
    return bool(
        verdict.signature_valid
        and verdict.signer_authorized
        and verdict.cert_id_matches
        and left is not None
        and left < 0
    )


def rule_chain(h: _Hostname) -> bool:
    if not h.reports:
        return _rule_configured_chain(h)
    report = h.reports[0].chain or ChainVerdict()
    if report.issuer_found_in != "presented" or (
        h.limits.explicit_trust_anchors and report.anchored is False and report.missing_issuer
    ):
        h.add(
            "chain_incomplete",
            "%s presents %d certificate(s) without the issuer '%s' of '%s'"
            % (
                h.name(),
                report.presented_count,
                report.missing_issuer or h.leaf.issuer,
                report.missing_issuer_of or h.leaf.subject,
            ),
            *h.log_lines("chain_incomplete"),
        )
    if report.order_ok is False:
        h.add(
            "chain_misordered",
            "%s presents its certificates out of order: %s"
            % (h.name(), " | ".join(h.subject(fp) for fp in h.reports[0].presented)),
        )
    extras = [h.subject(fp) for fp in report.extra] + [h.subject(fp) for fp in report.duplicates]
    if extras or report.root_sent:
        h.add(
            "chain_extra",
            "%s presents certificates that are not needed: %s"
            % (h.name(), ", ".join(extras) or "the self-signed root"),
        )
    return False


def _rule_configured_chain(h: _Hostname) -> bool:
    """Nothing is served: judge the chain the configuration gives the server (often why it will not start)."""
    report = h.configured.chain
    if not h.has("server_down") or not report or h.configured_leaf is None:
        return False
    if report.issuer_found_in in ("presented", "pool") or h.configured_leaf.self_signed:
        return False
    h.add(
        "chain_incomplete",
        "%s holds %d certificate(s) without the issuer '%s' of '%s'%s"
        % (
            h.configured.certificate_file,
            report.presented_count or 1,
            report.missing_issuer or h.configured_leaf.issuer,
            report.missing_issuer_of or h.configured_leaf.subject,
            ", and no other file the server reads holds it" if h.facts is None or h.facts.READS_CHAIN_ELSEWHERE else "",
        ),
        *h.log_lines("chain_incomplete"),
    )
    return False


def rule_staple(h: _Hostname) -> bool:
    """Judge what was stapled; a missing staple is explained by the rules after this one."""
    if not h.reports:
        return True
    states = h.served.summary.staple_states
    by_protocol = {p: h.served.verdict_of(p) or Verdict() for p in h.protocols}
    for protocol, report in by_protocol.items():
        state = states.get(protocol)
        staple = report.staple or _NO_STAPLE
        if state == "good":
            left = staple.seconds_until_next_update
            if left is not None and left < h.limits.staple_warning_seconds and not h.has("staple_expiring"):
                h.add(
                    "staple_expiring",
                    "%s staples a response whose nextUpdate %s is %d s away (%s)"
                    % (h.name(), staple.next_update, left, protocol),
                )
        elif state == "expired" and not h.has("staple_expired"):
            h.add(
                "staple_expired",
                "%s staples a response that expired at %s (%s)" % (h.name(), staple.next_update, protocol),
                *h.log_lines("staple_expired"),
            )
        elif state == "revoked" and not h.has("cert_revoked"):
            h.add(
                "cert_revoked",
                "%s staples a valid OCSP response saying revoked since %s" % (h.name(), staple.revocation_time),
                source="ocsp",
            )
        elif state == "unknown" and not h.has("cert_status_unknown"):
            h.add("cert_status_unknown", "%s staples a valid response saying the certificate is unknown" % h.name())
        elif state == "invalid":
            if report.staple and staple.response_status not in (None, "successful"):
                _explain_responder(
                    h,
                    "%s staples an unsuccessful '%s' response (%s)" % (h.name(), staple.response_status, protocol),
                )
            elif not h.has("staple_invalid"):
                why = "; ".join(staple.problems or []) or report.staple_error or "cannot be validated"
                h.add(
                    "staple_invalid",
                    "%s staples a response that fails validation (%s): %s" % (h.name(), protocol, why),
                    *h.log_lines("staple_invalid"),
                )
    return not any(states.get(p) == "none" for p in by_protocol)


def _explain_responder(h: _Hostname, symptom: str) -> bool:
    """Name the responder-side cause of a missing or unsuccessful staple; False when the responder is fine."""
    for check in h.responders():
        if check.get("failed_stage") and not _responder_answered(check):
            if not h.has("responder_unreachable"):
                h.add(
                    "responder_unreachable",
                    symptom,
                    "from this node: %s" % check.get("error"),
                    *h.log_lines("responder_unreachable"),
                    stage=check.get("failed_stage"),
                )
            return True
        if check.get("failed_stage"):  # ocsp or http: it answered, with nothing usable
            if not h.has("responder_error"):
                h.add(
                    "responder_error",
                    symptom,
                    "the responder answers: %s" % check.get("error"),
                    *h.log_lines("responder_error"),
                )
            return True
    if "unsuccessful" in symptom and not h.has("responder_error"):
        h.add("responder_error", symptom, *h.log_lines("responder_error"))
        return True
    return False


def rule_missing_staple(h: _Hostname) -> bool:
    """No staple after warm-up although stapling is on and the leaf names a responder: find out why."""
    made = max(hs.handshakes_made for p, hs in h.protocols.items() if (h.served.verdict_of(p) or Verdict()).presented)
    symptom = "%s sends no staple after %d handshakes" % (h.name(), made)
    if h.has("chain_incomplete"):
        return True
    verify = h.facts.verify_problem(h.stapling, h.configured.trusted, h.leaf.issuer) if h.facts else None
    if verify:
        h.add("trusted_cert_missing", symptom, verify, *h.log_lines("trusted_cert_missing", "staple_invalid"))
        return True
    if _explain_resolver(h, symptom):
        return True
    if _explain_responder(h, symptom):
        return True
    hosts = [urllib.parse.urlsplit(u).hostname or "" for u in h.leaf.ocsp_urls]
    if h.facts is not None and any(host and not _is_ip(host) for host in hosts):
        resolver = h.facts.resolver_problem(h.stapling, hosts)
        if resolver:
            h.add("resolver_missing", symptom, resolver, *h.log_lines("resolver_missing"))
            return True
    for check in h.responders():
        status = (check.get("ocsp") or {}).get("cert_status")
        if status == "revoked" and not h.has("cert_revoked"):
            h.add(
                "cert_revoked",
                symptom,
                "the OCSP responder says revoked since %s" % check["ocsp"].get("revocation_time"),
                source="ocsp",
            )
            return True
        if status == "unknown" and not h.has("cert_status_unknown"):
            h.add("cert_status_unknown", symptom, "the responder says the certificate is unknown")
            return True
    unasked = h.unasked()
    h.add(
        "staple_missing",
        symptom,
        "the responder %s was asked about another certificate only (the per-node limit of certificates asked "
        "about was reached), so this certificate's own status is not known" % ", ".join(unasked)
        if unasked
        else "the responder answers this node correctly, so the server's own fetch failed or has not happened yet",
        *h.log_lines(),
    )
    return True


def _failing_resolvers(h: _Hostname) -> List[Dict[str, Any]]:
    """The server's own resolver checks for a responder name none of its addresses resolves (empty: fine).

    Only when the node itself resolves the responder: when its own lookup fails too, the node's DNS path is the
    cause (responder_unreachable at the dns stage), not the server's choice of resolver.
    """
    if any(check.get("failed_stage") == "dns" for check in h.responders()):
        return []
    by_name: Dict[str, List[Dict[str, Any]]] = {}
    for check in h.site.resolver_checks:
        if isinstance(check, dict) and check.get("outcome") != "not_checked":
            by_name.setdefault(str(check.get("name")), []).append(check)
    for checks in by_name.values():
        if checks and all(check.get("outcome") != "ok" for check in checks):
            return checks
    return []


def _explain_resolver(h: _Hostname, symptom: str) -> bool:
    failing = _failing_resolvers(h)
    if not failing:
        return False
    h.add(
        "resolver_failing",
        symptom,
        *("%s's resolver, asked from this node: %s" % (h.server, c.get("error") or c.get("outcome")) for c in failing),
        *h.log_lines("resolver_missing", "responder_unreachable"),
        outcome=failing[0].get("outcome"),
    )
    return True


def rule_must_staple(h: _Hostname) -> bool:
    if not (h.leaf and h.leaf.must_staple):
        return False
    states = h.served.summary.staple_states
    bad = {p: s for p, s in states.items() if s != "good"}
    if bad or not states:
        h.add(
            "must_staple_unmet",
            "%s is Must-Staple and is served without a good staple (%s)"
            % (h.name(), ", ".join("%s: %s" % item for item in sorted(bad.items())) or "no handshake"),
        )
    return False


def rule_responder_at_risk(h: _Hostname) -> None:
    """A good staple now, but this node cannot refresh it: name the responder problem before the staple runs out.

    Servers keep serving a cached response until its nextUpdate, so a responder outage (or an egress block) shows
    up hours later as a missing staple. Reported as a warning while every protocol still gets a good staple.
    """
    if h.has("responder_unreachable") or h.has("responder_error") or h.has("resolver_failing"):
        return
    states = h.served.summary.staple_states
    if not states or any(state != "good" for state in states.values()):
        return
    lefts = [
        ((h.served.verdict_of(p) or Verdict()).staple or _NO_STAPLE).seconds_until_next_update for p in h.protocols
    ]
    lefts = [left for left in lefts if left is not None]
    until = "for about %s" % _duration(min(lefts)) if lefts else "until its nextUpdate"
    failing = _failing_resolvers(h)
    if failing:
        h.add(
            "resolver_failing",
            "%s staples a good response, valid %s; %s's own resolver cannot look the responder up, so the server "
            "will staple nothing once it expires" % (h.name(), until, h.server),
            *("asked from this node: %s" % (c.get("error") or c.get("outcome")) for c in failing),
            severity="warning",
        )
        return
    for check in h.responders():
        stage = check.get("failed_stage")
        if not stage:
            continue
        code = "responder_error" if _responder_answered(check) else "responder_unreachable"
        h.add(
            code,
            "%s staples a good response, valid %s; this node cannot fetch a new one, so the server will staple "
            "nothing once it expires" % (h.name(), until),
            "from this node: %s" % check.get("error"),
            severity="warning",
            stage=stage,
        )
        return


# Stages of a CRL download where the path broke (crl.PATH_STAGES); ``crl`` is a body that is no usable CRL.
CRL_PATH_STAGES = ("dns", "connect", "timeout", "proxy", "http")


def rule_crl(h: _Hostname) -> None:
    """Revocation from the CRL, where the node fetched one (docs/revocation.md).

    A valid CRL (the issuer's, signature verified) listing the certificate is ``cert_revoked`` with source crl,
    whether or not the certificate names a responder (revocation does not expire, so a stale CRL still counts).
    Otherwise the CRL only speaks for a certificate without an OCSP URL, which has no other revocation signal:
    ``crl_unreachable`` (the path, with its stage), ``crl_invalid`` (no usable CRL of the issuer) or ``crl_stale``
    when none of its CRLs is usable and current. A short-lived certificate needs no revocation check.
    """
    if h.leaf is None:
        return
    checks = crls_for(h.evidence, h.leaf.sha256)
    for check in checks:
        entry = (check.get("certificates") or {}).get(h.leaf.sha256) or {}
        if check.get("valid") is True and entry.get("revoked") is True:
            if not h.has("cert_revoked"):
                h.add(
                    "cert_revoked",
                    "the CRL at %s (source: CRL, signed by the issuer, thisUpdate %s) lists serial %s of %s as revoked "
                    "since %s%s"
                    % (
                        check.get("url"),
                        check.get("this_update"),
                        entry.get("serial") or h.leaf.serial,
                        h.leaf.subject,
                        entry.get("revocation_time"),
                        " (reason: %s)" % entry["reason"] if entry.get("reason") else "",
                    ),
                    source="crl",
                    url=check.get("url"),
                )
            return
    if not checks or h.leaf.ocsp_urls or h.leaf.short_lived:
        return
    if any(check.get("valid") is True and check.get("fresh") is True for check in checks):
        return
    check = checks[0]
    stage = check.get("failed_stage")
    where = "%s names no OCSP responder; its CRL %s" % (h.leaf.subject, check.get("url"))
    if stage in CRL_PATH_STAGES:
        h.add(
            "crl_unreachable",
            "%s cannot be fetched from this node (%s stage)" % (where, stage),
            "from this node: %s" % check.get("error"),
            stage=stage,
            url=check.get("url"),
        )
    elif stage is not None or check.get("valid") is not True:
        h.add(
            "crl_invalid",
            "%s is not a usable CRL of its issuer" % where,
            "from this node: %s" % (check.get("error") or "; ".join(check.get("problems") or []) or "not valid"),
            url=check.get("url"),
        )
    elif check.get("fresh") is False:
        h.add(
            "crl_stale",
            "%s is signed by the issuer but not current: thisUpdate %s, nextUpdate %s"
            % (where, check.get("this_update"), check.get("next_update") or "absent"),
            *[str(p) for p in (check.get("problems") or [])[:2]],
            url=check.get("url"),
        )


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 86400:
        return "%.1f days" % (seconds / 86400)
    if seconds >= 3600:
        return "%.1f hours" % (seconds / 3600)
    return "%d minutes" % (seconds // 60)


RULES = (
    rule_serving,
    rule_certificate_validity,
    rule_stale_certificate,
    rule_key,
    rule_no_ocsp_url,
    rule_stapling_configured,
    rule_staple_file,
    rule_chain,
    rule_staple,
    rule_missing_staple,
)


def diagnose_hostname(site: Site, hostname, served, evidence: Evidence, limits: Thresholds, site_leaves=()):
    h = _Hostname(site, hostname, served, evidence, limits, list(site_leaves))
    for rule in RULES:
        if rule(h):
            break
    rule_must_staple(h)
    rule_responder_at_risk(h)
    rule_crl(h)
    return h.findings


def diagnose(evidence: Union[Evidence, Dict[str, Any]], limits: Optional[Thresholds] = None) -> List[Dict[str, Any]]:
    """Every finding for the node, deduplicated; sites with several certificates are diagnosed per certificate."""
    if not isinstance(evidence, Evidence):
        evidence = Evidence.from_dict(evidence)
    limits = limits or Thresholds()
    findings: List[Dict[str, Any]] = [f.to_dict() for f in diagnose_node(evidence, limits)]
    by_site: Dict[str, List[str]] = {}
    for site in evidence.sites:
        if evidence.certificate(site.configured.leaf) is not None:
            by_site.setdefault(site.site, []).append(site.configured.leaf)
    seen = set()
    for site in evidence.sites:
        for hostname in site.hostnames or [""]:
            served = site.served.get(hostname)
            for finding in diagnose_hostname(site, hostname, served, evidence, limits, by_site.get(site.site, [])):
                key = (finding.code, finding.server, finding.site, finding.hostname)
                if key not in seen:
                    seen.add(key)
                    findings.append(finding.to_dict())
    return findings


def diagnose_node(evidence: Evidence, limits: Thresholds) -> List[Finding]:
    """Findings about the node and its servers rather than one hostname: no site at all, a failing config test."""
    out: List[Finding] = []
    records = [r for r in evidence.servers if isinstance(r, dict)]
    if not evidence.sites:
        found = [
            "%s%s: %s, %d TLS site(s)%s"
            % (
                r.get("type"),
                " " + str(r["version"]) if r.get("version") else "",
                "running" if r.get("running") else "not running",
                len(r.get("sites") or []),
                "; " + "; ".join(str(e) for e in (r.get("errors") or [])[:2]) if r.get("errors") else "",
            )
            for r in records
        ]
        out.append(
            Finding(
                "no_tls_site",
                ["discovery found no TLS site on this node"]
                + (
                    ["servers found: " + " | ".join(found)]
                    if found
                    else ["no %s or %s found" % (", ".join(LABELS[:-1]), LABELS[-1])]
                ),
                severity=limits.no_site_severity,
            )
        )
    for record in records:
        if record.get("config_test_ok") is False:
            lines = config_test_lines(record)
            out.append(
                Finding(
                    "config_test_failed",
                    ["%s's own configuration test fails%s" % (record.get("type"), ":" if lines else "")]
                    + ["  " + line for line in lines],
                    server=record.get("type"),
                    details={"running": bool(record.get("running"))},
                )
            )
    return out
