# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Preflight of a candidate certificate: what deploying it would do to each site of this node, judged before
anything changes.

``judge()`` is pure: it reads the node's audit evidence (evidence.py records, as audit.gather() made them on the
node), the candidate (leaf and chain, never a key), the certificates of the side files the servers read (trusted,
issuer and chain files, read by ``read_side_files``), the node's trust anchors and the responder's answer about
the candidate (responder_probe.check()), and returns one ``SitePreflight`` per site the candidate goes to
(coverage.destinations: the sites the rollout deploys it to). docs/preflight.md says what each check means and why.

Public keys are compared, never private ones: the configured key's public key is known from the configured
certificate when the audit found that the key file matches it (``Configured.key_matches``).

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.tlsfleet.stapling.plugins.module_utils import (
    chain,
    coverage,
    preflight_terms,
    public_pem,
    x509,
)
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import facts_of

# The verdicts, statuses and check names: one source with the controller's check of a node's answer.
READY, READY_AFTER_CHANGE, WILL_BREAK = (
    preflight_terms.READY,
    preflight_terms.READY_AFTER_CHANGE,
    preflight_terms.WILL_BREAK,
)
VERDICTS = preflight_terms.VERDICTS
NOT_APPLICABLE = preflight_terms.NOT_APPLICABLE
OK, WARNING, CHANGE, FAIL = preflight_terms.OK, preflight_terms.WARNING, preflight_terms.CHANGE, preflight_terms.FAIL
STATUSES = preflight_terms.STATUSES
CHECKS = preflight_terms.CHECKS

# The roles that make a named change (remediation's names: docs/remediation.md).
BY_CERT_DEPLOY = "cert_deploy"
BY_STAPLING_CONFIG = "stapling_config"

DEFAULT_WARNING_DAYS = 21


# --------------------------------------------------------------------------------------------------------------
# records


@dataclass(repr=False)
class Change(Record):
    """A change that makes the site ready, named as remediation would make it."""

    by: str
    action: str
    path: Optional[str] = None
    text: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(repr=False)
class Check(Record):
    """One check of one site: its status, what was observed, and the changes that resolve it (status CHANGE)."""

    name: str
    status: str = OK
    evidence: List[str] = field(default_factory=list)
    changes: List[Change] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "evidence": list(self.evidence),
            "changes": [change.to_dict() for change in self.changes],
        }


@dataclass(repr=False)
class SitePreflight(Record):
    """The verdict for one site (one certificate of one site) that the candidate's names cover."""

    key: str
    site: str
    server: str
    hostnames: List[str] = field(default_factory=list)
    verdict: str = READY
    reasons: List[str] = field(default_factory=list)
    changes: List[Change] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    checks: List[Check] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "key": self.key,
            "site": self.site,
            "server": self.server,
            "hostnames": list(self.hostnames),
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "changes": [change.to_dict() for change in self.changes],
            "warnings": list(self.warnings),
            "checks": [check.to_dict() for check in self.checks],
        }


@dataclass(repr=False)
class Candidate(Record):
    """The candidate as given: its leaf and the chain certificates (cryptography objects), described."""

    leaf: Any
    chain: List[Any]
    info: x509.CertInfo


def load_candidate(certificate: str, chain_pem: Optional[str] = None) -> Candidate:
    """The candidate from PEM text; InputError for private key material or anything that is not certificates."""
    for text, what in ((certificate, "certificate"), (chain_pem, "chain")):
        # The controller refused the same already (plugins/action/node_audit.py); checked again here for a task
        # that reached the node another way (a module run without the action plugin, e.g. ansible-test units).
        refused = public_pem.problem(text, what)
        if refused:
            raise InputError(refused)
    if not certificate or not certificate.strip():
        raise InputError("the preflight needs the candidate's certificate (PEM).")
    certs = x509.load_certificates(certificate.encode(), "preflight certificate")
    extra = x509.load_certificates(chain_pem.encode(), "preflight chain") if chain_pem and chain_pem.strip() else []
    leaf = certs[0]
    return Candidate(leaf=leaf, chain=[*certs[1:], *extra], info=x509.describe(leaf))


def candidate_issuer(candidate: Candidate, anchors: Sequence[Any] = (), at: Optional[datetime.datetime] = None):
    """The certificate that issued the candidate (from its chain or the anchors), or None: what an OCSP request
    about the candidate needs."""
    report = chain.analyze_chain([candidate.leaf, *candidate.chain], anchors=anchors, at=x509.to_utc(at))
    return report.issuer_certificate


# --------------------------------------------------------------------------------------------------------------
# names


# The sites a candidate goes to, and the name rules, are coverage.py's: the rollout deploys to the same sites
# (plugins/plugin_utils/remediation.py). Kept under these names for the callers of the judge.
ascii_name = coverage.ascii_name
covers = coverage.covers


# --------------------------------------------------------------------------------------------------------------
# side files (the only I/O, kept out of judge())


def side_file_paths(evidence: Any) -> List[str]:
    """The trusted, issuer and chain files the sites' servers read (their certificates decide the issuer check)."""
    paths = []
    for site in evidence.sites:
        facts = facts_of(site.server)
        issuer_file = facts.staple_issuer_path(site.stapling) if facts is not None else None
        for path in (site.trusted_certificate, issuer_file, _chain_file(site)):
            if isinstance(path, str) and path and path not in paths:
                paths.append(path)
    return paths


def read_side_files(paths: Sequence[str], known: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """path -> list of certificates, or the sentence saying why it could not be read. A path in ``known`` (what
    the audit already read: audit.gather's ``side_files``) is taken from there, not read again."""
    out: Dict[str, Any] = {}
    for path in paths:
        if known is not None and path in known:
            out[path] = known[path]
            continue
        try:
            out[path] = x509.load_certificates_from_path(path, "side file")
        except InputError as exc:
            out[path] = str(exc)
    return out


def _chain_file(site: Any) -> Optional[str]:
    """A separate chain file (Apache SSLCertificateChainFile): for a server that reads its chain outside the
    certificate file, a file the site reads that is neither its certificate, key, trusted, issuer nor staple file,
    when the configured chain took the issuer from outside the certificate file."""
    facts = facts_of(site.server)
    configured = site.configured
    if facts is None or not facts.READS_CHAIN_ELSEWHERE:
        return None
    if configured.chain is None or configured.chain.issuer_found_in != chain.SOURCE_POOL:
        return None
    others = {
        configured.certificate_file,
        configured.key_file,
        site.trusted_certificate,
        facts.staple_issuer_path(site.stapling),
        facts.staple_file_path(site.stapling),
    }
    for path in site.files:
        if path not in others:
            return path
    return None


# --------------------------------------------------------------------------------------------------------------
# the judge


@dataclass(repr=False)
class _Context(Record):
    """What one candidate's checks share: the node's evidence, the chain deployed and the answers."""

    evidence: Any
    candidate: Candidate
    deployed: chain.ChainReport
    answers: Dict[str, Dict[str, Any]]
    side_files: Dict[str, Any]
    at: datetime.datetime
    warning_days: int
    explicit_anchors: bool = False


def judge(
    evidence: Any,
    candidate: Candidate,
    answer: Optional[Dict[str, Any]] = None,
    side_files: Optional[Dict[str, Any]] = None,
    anchors: Sequence[Any] = (),
    at: Optional[datetime.datetime] = None,
    warning_days: int = DEFAULT_WARNING_DAYS,
    explicit_anchors: bool = False,
    answers: Optional[Dict[str, Dict[str, Any]]] = None,
) -> List[SitePreflight]:
    """One verdict per site of ``evidence`` the candidate goes to (coverage.destinations; see the module docstring).

    ``answer`` is responder_probe.check()'s report about the candidate from this node, asked at the candidate's
    own OCSP URL (None when it was not asked: no OCSP URL, or the candidate's issuer is unknown); ``answers`` maps
    further URLs to their reports: the responders a configuration forces (``responder_urls``).
    """
    answers = dict(answers or {})
    if isinstance(answer, dict) and candidate.info.ocsp_urls:
        answers.setdefault(candidate.info.ocsp_urls[0], answer)
    at = x509.to_utc(at) or x509.utc_now()
    ctx = _Context(
        evidence=evidence,
        candidate=candidate,
        deployed=chain.analyze_chain([candidate.leaf, *candidate.chain], anchors=anchors, at=at),
        answers=answers,
        side_files=side_files or {},
        at=at,
        warning_days=warning_days,
        explicit_anchors=explicit_anchors,
    )
    results = []
    targets = coverage.destinations(evidence, candidate.info.san_dns, candidate.info.key_type)
    for site in evidence.sites:
        names = targets.get(site.key)
        if not names:
            continue
        result = SitePreflight(key=site.key, site=site.site, server=site.server, hostnames=names)
        result.checks = [
            _validity(ctx),
            _key_match(ctx, site),
            _chain(ctx),
            _issuer_file(ctx, site),
            _ocsp_url(ctx, site),
            _staple_file(ctx, site),
            _responder(ctx, site),
            _must_staple(ctx, site),
        ]
        _conclude(result)
        results.append(result)
    return results


def _forced(site: Any) -> Optional[str]:
    """The responder the site's configuration makes its server ask instead of the certificate's own (nginx
    ssl_stapling_responder, Apache SSLStaplingForceURL), while stapling is on; the servers' facts say which."""
    facts = facts_of(site.server)
    return facts.forced_responder(site.stapling) if facts is not None else None


def _responder_url(ctx: _Context, site: Any) -> Optional[str]:
    """The responder the site's server would ask about the candidate: a forced one, else the candidate's own."""
    urls = ctx.candidate.info.ocsp_urls
    return _forced(site) or (urls[0] if urls else None)


def responder_urls(evidence: Any, candidate: Candidate) -> List[str]:
    """Every responder the servers of the sites the candidate covers would ask about it, each once: the one a
    site's configuration forces, else the candidate's own OCSP URL (what node_audit asks before judging)."""
    urls: List[str] = []
    targets = coverage.destinations(evidence, candidate.info.san_dns, candidate.info.key_type)
    for site in evidence.sites:
        if site.key not in targets:
            continue
        url = _forced(site) or (candidate.info.ocsp_urls[0] if candidate.info.ocsp_urls else None)
        if url and url not in urls:
            urls.append(url)
    return urls


def summarize(results: Sequence[SitePreflight], candidate: Candidate) -> Dict[str, Any]:
    """The node's answer: the worst verdict of its sites, or ``not_applicable`` with a sentence saying so when the
    candidate's names cover no site of this node (nothing was judged; that is not ``ready``)."""
    if not results:
        names = ", ".join(candidate.info.san_dns[:5]) + (", ..." if len(candidate.info.san_dns) > 5 else "")
        return {
            "verdict": NOT_APPLICABLE,
            "sites": 0,
            "msg": "the candidate (%s) covers no site on this node: it applies to no site here, so nothing was judged"
            " (not a ready verdict)" % (names or "no DNS names"),
        }
    worst = max((result.verdict for result in results), key=VERDICTS.index)
    counts = {verdict: sum(1 for result in results if result.verdict == verdict) for verdict in VERDICTS}
    return {
        "verdict": worst,
        "sites": len(results),
        "msg": "%d site(s) covered: %s"
        % (len(results), ", ".join("%d %s" % (count, verdict) for verdict, count in counts.items() if count)),
    }


def _conclude(result: SitePreflight) -> None:
    for check in result.checks:
        if check.status == FAIL:
            result.reasons.extend("%s: %s" % (check.name, line) for line in check.evidence)
        elif check.status == CHANGE:
            result.changes.extend(check.changes)
        elif check.status == WARNING:
            result.warnings.extend("%s: %s" % (check.name, line) for line in check.evidence)
    if result.reasons:
        result.verdict = WILL_BREAK
    elif result.changes:
        result.verdict = READY_AFTER_CHANGE
    else:
        result.verdict = READY


def _stapling_on(site: Any) -> bool:
    facts = facts_of(site.server)
    if facts is None:
        return False
    return bool(facts.stapling_enabled(site.stapling, site.configured))


def _subject(cert: Any) -> str:
    return x509.name_string(cert.subject)


def _validity(ctx: _Context) -> Check:
    check = Check("validity")
    info = ctx.candidate.info
    begins, ends = x509.not_before(ctx.candidate.leaf), x509.not_after(ctx.candidate.leaf)
    when = x509.format_time(ctx.at)
    if begins > ctx.at:
        check.status = FAIL
        check.evidence.append(
            "the candidate is not valid before %s, after the planned time %s" % (info.not_before, when)
        )
    elif ends < ctx.at:  # valid through notAfter, that second included (RFC 5280 4.1.2.5)
        check.status = FAIL
        check.evidence.append("the candidate expired at %s, before the planned time %s" % (info.not_after, when))
    elif ends - ctx.at < datetime.timedelta(days=ctx.warning_days):
        check.status = WARNING
        check.evidence.append(
            "the candidate expires at %s, within %d days of the planned time %s"
            % (info.not_after, ctx.warning_days, when)
        )
    else:
        check.evidence.append("valid from %s to %s, at %s" % (info.not_before, info.not_after, when))
    for cert in ctx.deployed.ordered[1:]:
        if x509.not_after(cert) < ctx.at or x509.not_before(cert) > ctx.at:
            check.status = FAIL
            check.evidence.append("the chain certificate '%s' is not valid at %s" % (_subject(cert), when))
    return check


def _key_match(ctx: _Context, site: Any) -> Check:
    check = Check("key_match")
    configured = site.configured
    leaf = ctx.evidence.certificate(configured.leaf)
    wanted = ctx.candidate.info.public_key_sha256
    key_file = configured.key_file or configured.certificate_file
    if leaf is None or not leaf.public_key_sha256:
        check.status = FAIL
        check.evidence.append(
            "the configured certificate could not be read (%s), so its key cannot be compared"
            % ("; ".join(configured.errors) or "no certificate file")
        )
    elif configured.key_matches is not True:
        check.status = FAIL
        check.evidence.append(
            "the configured key %s %s, so the configured key's public key is unknown"
            % (
                key_file,
                "does not match the configured certificate" if configured.key_matches is False else "was not read",
            )
        )
    elif leaf.public_key_sha256 == wanted:
        check.evidence.append("the candidate's public key is the configured key's (SHA-256 %s)" % wanted)
    else:
        check.status = CHANGE
        check.evidence.append(
            "the candidate's public key (SHA-256 %s) is not the configured key's (%s)"
            % (wanted, leaf.public_key_sha256)
        )
        check.changes.append(
            Change(
                by=BY_CERT_DEPLOY,
                action="deploy_key",
                path=key_file,
                text="deploy the candidate's private key to %s together with the certificate" % key_file,
            )
        )
    return check


def _chain(ctx: _Context) -> Check:
    check = Check("chain")
    report = ctx.deployed
    sent = report.ordered or [ctx.candidate.leaf]
    names = " <- ".join("'%s'" % _subject(cert) for cert in sent)
    # As the diagnosis judges a served chain (diagnosis.py rule_chain): the leaf's issuer must come with the chain;
    # a missing root is a failure only against trust anchors the user named (the system bundle may lack a private
    # root that clients hold).
    missing = report.issuer_found_in != chain.SOURCE_PRESENTED or (
        ctx.explicit_anchors and report.anchored is False and report.missing_issuer
    )
    if not report.complete and not missing:
        check.evidence.append(
            "the chain ends below '%s', which is not among the node's trust anchors; clients must hold it"
            % report.missing_issuer
        )
    if missing:
        check.status = FAIL
        check.evidence.append(
            "the chain the server would send (%s) is incomplete: %s"
            % (names, "; ".join(report.problems) or "the issuer of '%s' is missing" % report.missing_issuer_of)
        )
        return check
    check.evidence.append(
        "the server would send %d certificate(s), in order, without the root: %s" % (len(sent), names)
    )
    if report.root_sent:
        check.evidence.append("the candidate's chain holds the root; a standard deployment leaves it out")
    if not report.order_ok:
        check.evidence.append("the candidate's chain is out of order; a standard deployment orders it")
    if report.extra:
        check.evidence.append(
            "%d certificate(s) of the candidate's chain are not on its path and are left out" % len(report.extra)
        )
    if report.complete and report.anchored is False:
        check.status = WARNING
        check.evidence.append("the chain does not end at one of the node's trust anchors")
    return check


def _issuer(ctx: _Context) -> Optional[Any]:
    return ctx.deployed.issuer_certificate


def _holds(ctx: _Context, path: str) -> Optional[bool]:
    certs = ctx.side_files.get(path)
    if not isinstance(certs, list):
        return None
    return chain.find_issuer(ctx.candidate.leaf, certs) is not None


def _issuer_file(ctx: _Context, site: Any) -> Check:
    """The files stapling verification reads the issuer from, which a certificate deployment does not rewrite: the
    trusted file a server verifies staples with (servers/<type>/facts.py verify_problem), the issuer file beside
    the certificate (staple_issuer_path), a separate chain file."""
    check = Check("issuer_file")
    issuer = _issuer(ctx)
    facts = facts_of(site.server)
    if issuer is None or facts is None:
        check.evidence.append("the candidate's issuer is unknown (see the chain check)")
        return check
    needed = "'%s'" % _subject(issuer)
    trusted = site.trusted_certificate
    if _stapling_on(site):
        if trusted and isinstance(ctx.side_files.get(trusted), list):
            problem = facts.verify_problem(
                site.stapling, {"path": trusted, "anchors_issuer": _anchors(ctx, trusted)}, needed
            )
            if problem:
                _stale(
                    check,
                    "the trusted file %s" % trusted,
                    trusted,
                    needed,
                    "add_trusted",
                    "add the candidate's issuer %s and its root to %s" % (needed, trusted),
                )
            elif facts.verify_problem(site.stapling, {"path": trusted, "anchors_issuer": False}, needed):
                check.evidence.append(
                    "the trusted file %s holds the candidate's issuer %s and its root" % (trusted, needed)
                )
        elif trusted:
            if facts.verify_problem(site.stapling, {"path": trusted, "anchors_issuer": False}, needed):
                check.status = WARNING
                check.evidence.append(
                    "the trusted file %s could not be read: %s" % (trusted, ctx.side_files.get(trusted, "not read"))
                )
        else:
            problem = facts.verify_problem(site.stapling, {}, needed)
            if problem:
                check.status = WARNING
                check.evidence.append("%s: the server rejects the staples it fetches, with any certificate" % problem)
    for path, what, action, text in (
        (
            facts.staple_issuer_path(site.stapling),
            "the %s issuer file" % facts.LABEL,
            "replace_issuer_file",
            "write the candidate's issuer %s to %s",
        ),
        (_chain_file(site), "the chain file", "replace_chain_file", "write the candidate's chain (issuer %s) to %s"),
    ):
        if not path:
            continue
        holds = _holds(ctx, path)
        if holds is None:
            _warn(check, "%s %s could not be read: %s" % (what, path, ctx.side_files.get(path, "not read")))
        elif holds:
            check.evidence.append("%s %s holds the candidate's issuer %s" % (what, path, needed))
        else:
            _stale(check, "%s %s" % (what, path), path, needed, action, text % (needed, path))
    if not check.evidence:
        check.evidence.append("no file on the node pins the issuer: the deployment carries the candidate's chain")
    return check


def _warn(check: Check, sentence: str) -> None:
    if check.status == OK:
        check.status = WARNING
    check.evidence.append(sentence)


def _stale(check: Check, what: str, path: str, needed: str, action: str, text: str) -> None:
    check.status = CHANGE
    check.evidence.append("%s does not hold the candidate's issuer %s: it would be stale" % (what, needed))
    check.changes.append(Change(by=BY_CERT_DEPLOY, action=action, path=path, text=text))


def _anchors(ctx: _Context, path: str) -> bool:
    """Whether the file completes the candidate's chain up to a self-signed certificate of its own (what
    OCSP_basic_verify needs, as audit.py's trusted-file check says)."""
    certs = ctx.side_files.get(path)
    if not isinstance(certs, list):
        return False
    report = chain.analyze_chain([ctx.candidate.leaf, *ctx.deployed.ordered[1:]], pool=certs)
    return bool(
        report.complete and report.path and report.path[-1].self_signed and report.path_sources[-1] == chain.SOURCE_POOL
    )


def _ocsp_url(ctx: _Context, site: Any) -> Check:
    check = Check("ocsp_url")
    urls = ctx.candidate.info.ocsp_urls
    facts = facts_of(site.server)
    forced = _forced(site)
    if forced:
        check.evidence.append(
            "%s; the configuration names the responder %s, which %s asks instead"
            % (
                "the candidate names the OCSP responder %s" % urls[0] if urls else "the candidate has no OCSP URL",
                forced,
                facts.LABEL,
            )
        )
        return check
    if urls:
        check.evidence.append("the candidate names the OCSP responder %s" % urls[0])
        return check
    # The same per-server judgement as the diagnosis' stapling_without_ocsp (one source: servers/<type>/facts.py),
    # applied ahead of time: an error there (HAProxy 2.8+ ocsp-update refusing the certificate) will break.
    name = (site.hostnames or [site.site])[0]
    problem = (
        facts.no_responder_problem(site.stapling, site.configured, site, name)
        if facts is not None and _stapling_on(site)
        else None
    )
    if not _stapling_on(site):
        check.evidence.append("the candidate has no OCSP URL; stapling is off for this site")
    elif problem is None:
        check.evidence.append("the candidate has no OCSP URL; %s serves it and staples nothing" % facts.LABEL)
    else:
        check.status = FAIL if problem[0] in ("error", "critical") else WARNING
        check.evidence.append(problem[1])
    return check


def _staple_file(ctx: _Context, site: Any) -> Check:
    check = Check("staple_file")
    staple = site.configured.staple_file
    if staple is None or not staple.exists:
        check.evidence.append("no static staple file")
        return check
    if ctx.candidate.info.sha256 == site.configured.leaf:
        check.evidence.append("the staple file %s belongs to this very certificate" % staple.path)
        return check
    check.status = CHANGE
    check.evidence.append(
        "the staple file %s holds a response for the configured certificate, not the candidate" % staple.path
    )
    if ctx.candidate.info.ocsp_urls:
        check.changes.append(
            Change(
                BY_STAPLING_CONFIG,
                "refresh_staple_file",
                staple.path,
                "refresh %s with a response for the candidate" % staple.path,
            )
        )
    else:
        check.changes.append(
            Change(
                BY_STAPLING_CONFIG,
                "remove_staple_file",
                staple.path,
                # A staple file the configuration names (nginx ssl_stapling_file) must exist for it to load.
                "remove %s: the candidate has no OCSP URL%s"
                % (
                    staple.path,
                    " (first the directive that names it, or the server will not load its configuration)"
                    if facts_of(site.server) is not None
                    and facts_of(site.server).STAPLING_REMEDY == "directives"
                    and facts_of(site.server).staple_file_path(site.stapling)
                    else "",
                ),
            )
        )
    return check


def _answer_good(answer: Optional[Dict[str, Any]]) -> bool:
    verdict = answer.get("ocsp") if isinstance(answer, dict) else None
    return bool(isinstance(verdict, dict) and verdict.get("good") and not answer.get("failed_stage"))


def _responder(ctx: _Context, site: Any) -> Check:
    check = Check("responder")
    wanted = _responder_url(ctx, site)
    answer = ctx.answers.get(wanted) if wanted else None
    if not wanted:
        check.evidence.append("no OCSP URL: no responder to ask")
        return check
    if not isinstance(answer, dict):
        check.status = WARNING
        check.evidence.append("the responder %s was not asked about the candidate (its issuer is unknown)" % wanted)
        return check
    url = answer.get("url") or wanted
    verdict = answer.get("ocsp") if isinstance(answer.get("ocsp"), dict) else {}
    serial = ctx.candidate.info.serial
    if _answer_good(answer):
        check.evidence.append("%s answered good for serial %s from this node" % (url, serial))
    elif verdict.get("cert_status") == "revoked":
        check.status = FAIL
        check.evidence.append("%s answered revoked for serial %s" % (url, serial))
    elif not answer.get("reachable"):
        check.status = WARNING
        check.evidence.append(
            "%s is not reachable from this node (%s stage: %s): the site would staple nothing"
            % (url, answer.get("failed_stage"), answer.get("error"))
        )
    else:
        check.status = WARNING
        check.evidence.append(
            "%s did not answer good for serial %s (%s)"
            % (url, serial, verdict.get("cert_status") or answer.get("error") or "no usable answer")
        )
    return check


def _must_staple(ctx: _Context, site: Any) -> Check:
    check = Check("must_staple")
    if not ctx.candidate.info.must_staple:
        check.evidence.append("the candidate does not require stapling")
        return check
    wanted = _responder_url(ctx, site)
    if not wanted:
        check.status = FAIL
        check.evidence.append("the candidate requires stapling (Must-Staple) but names no OCSP responder")
    elif not _answer_good(ctx.answers.get(wanted)):
        check.status = FAIL
        check.evidence.append(
            "the candidate requires stapling (Must-Staple) but its responder does not answer good from this node: "
            "clients that enforce Must-Staple would refuse the site"
        )
    elif not _stapling_on(site):
        check.status = CHANGE
        check.evidence.append("the candidate requires stapling (Must-Staple) and stapling is off for this site")
        check.changes.append(
            Change(BY_STAPLING_CONFIG, "enable_stapling", site.source, "turn stapling on for %s" % site.site)
        )
    else:
        check.evidence.append("the candidate requires stapling, which the site does and its responder answers")
    return check
