# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Gather, on one node, everything the diagnosis needs: one call, one evidence document.

Order of work: discover the servers and their sites through the servers' own
dump commands; read the files each site references (certificate, key match, chain, trusted file, staple
file); then, concurrently, handshake to every site and hostname asking for a staple and probe every distinct
OCSP responder once (not once per site); finally read the servers' error logs since a point in time.

The whole audit has a time budget (Settings.time_budget): once it is spent no new work starts (no server
command, file read, handshake, probe or log read), work in flight is no longer waited for, and the evidence
holds what was done with one ``errors`` sentence naming what was cut short.

The evidence is an evidence.Evidence record (its dict form is JSON-safe, docs/evidence-schema.json) and never holds
key material: a key file is reduced to "matches the certificate".

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils import (
    chain,
    crl,
    dns_probe,
    evidence,
    ocsp,
    responder_probe,
    servers,
    tls_probe,
    x509,
)
from ansible_collections.tlsfleet.stapling.plugins.module_utils import endpoint as endpoint_judge
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record


@dataclass(repr=False)
class Settings(Record):
    """What one audit looks at and how long it may wait: node_audit's options, checked."""

    server_types: Optional[List[str]] = None
    extra_endpoints: List[Dict[str, Any]] = field(default_factory=list)
    since: Optional[datetime.datetime] = None
    handshake_timeout: float = 5.0
    responder_timeout: float = 5.0
    warmup_attempts: int = 4
    warmup_delay: float = 0.25
    protocols: Tuple[str, ...] = tls_probe.PROTOCOLS
    trust_anchor_paths: List[str] = field(default_factory=list)
    proxy: Optional[str] = None
    use_proxy: bool = True
    clock_skew: int = 300
    max_workers: int = 16
    command_timeout: float = 30.0
    # Certificates asked about by name when another certificate's answer cannot stand for theirs (per node).
    responder_certificate_limit: int = 32
    resolver_timeout: float = 2.0
    # Seconds the whole audit may take before it stops starting new work; 0 or None for no limit.
    time_budget: Optional[float] = 120.0
    # CRLs (crl.py): fetched for certificates without an OCSP URL, and for those whose responders all failed.
    crl_check: bool = True
    crl_max_bytes: int = crl.DEFAULT_MAX_BYTES


class TimeBudgetSpent(Exception):
    """Raised instead of running a server command once the audit's time budget is spent."""


class Budget:
    """The audit's overall time budget, and what was cut short when it ran out."""

    def __init__(self, seconds: Optional[float], started: float):
        self.seconds = seconds or 0
        self.deadline = started + seconds if seconds else None
        self.started = started
        self.cut: List[str] = []

    def left(self) -> Optional[float]:
        """Seconds left (None without a budget)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def spent(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def collect(self, futures: Dict[Any, Any]) -> Tuple[Dict[Any, Any], List[Any]]:
        """``(results, late)``: the results of the futures done within the budget, the keys of the others.

        A late future is cancelled when it has not started; one in flight ends by its own timeout, unwaited.
        """
        done = wait_futures(list(futures.values()), timeout=self.left())[0] if futures else set()
        results, late = {}, []
        for key, future in futures.items():
            if future in done:
                results[key] = future.result()
            else:
                future.cancel()
                late.append(key)
        return results, late

    def note(self, count: int, total: int, what: str, names: List[str]) -> None:
        """Record ``count`` of ``total`` things (e.g. "handshakes not finished") cut short, with a few names."""
        if count:
            shown = ", ".join(str(name) for name in names[:3]) + (", ..." if len(names) > 3 else "")
            self.cut.append("%d of %d %s (%s)" % (count, total, what, shown))

    def sentence(self) -> Optional[str]:
        if not self.cut:
            return None
        return "the audit's time budget of %g s ran out after %.1f s, so it returned what it had; cut short: %s." % (
            self.seconds,
            time.monotonic() - self.started,
            "; ".join(self.cut),
        )


@dataclass(repr=False)
class Unit(Record):
    """One certificate of one site of one server: what the configuration deploys and where it is served."""

    key: str
    server: servers.ServerInfo
    site: servers.SiteInfo
    certificate_file: Optional[str]
    key_file: Optional[str]
    stapling: Dict[str, Any]
    hostnames: List[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 443
    leaf: Any = None
    issuer: Any = None
    bundle: List[Any] = field(default_factory=list)
    configured: evidence.Configured = field(default_factory=evidence.Configured)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _load_anchors(paths: List[str], errors: List[str]) -> List[Any]:
    if not paths:
        return x509.system_trust_anchors()
    anchors = []
    for path in paths:
        try:
            anchors.extend(x509.load_certificates_from_path(path, "trust anchor file"))
        except InputError as exc:
            errors.append(str(exc))
    return anchors


def _endpoint_address(listen: List[Dict[str, Any]]) -> Tuple[str, int]:
    """Where to connect from the node itself: the first TLS listener, on loopback when it listens everywhere."""
    for entry in [item for item in listen if item.get("ssl")] + list(listen):
        address = str(entry.get("address") or "")
        host, _sep, port = address.rpartition(":")
        if not port.isdigit():
            host, port = "", address if address.isdigit() else ""
        if not port:
            continue
        host = host.strip("[]")
        if host in ("", "*", "0.0.0.0", "::"):  # noqa: S104 (a listener address read from config, not a bind)
            host = "127.0.0.1" if host != "::" else "::1"
        return host, int(port)
    return "127.0.0.1", 443


def _names_for(site: servers.SiteInfo, leaf) -> List[str]:
    """The hostnames to handshake with: the site's names, else the certificate's DNS names (HAProxy)."""
    names = [n for n in site.server_names if n and n not in ("_", "localhost") and "*" not in n and "~" not in n]
    if not names and leaf is not None:
        names = [n for n in x509.san_dns_names(leaf) if "*" not in n]
    return list(dict.fromkeys(names))


def _units(discovered: List[servers.ServerInfo]) -> List[Unit]:
    units = []
    for server in discovered:
        facts = servers.facts_of(server.type)
        for site in server.sites:
            pairs = facts.certificate_units(site) if facts is not None else []
            host, port = _endpoint_address(site.listen)
            for index, (cert_file, key_file, stapling) in enumerate(pairs):
                units.append(
                    Unit(
                        key="%s#%d" % (site.site_id, index),
                        server=server,
                        site=site,
                        certificate_file=cert_file,
                        key_file=key_file,
                        stapling=stapling,
                        host=host,
                        port=port,
                    )
                )
    return units


def _side_certificates(path: str, description: str, files_read: Dict[str, Any]) -> List[Any]:
    """The certificates of a file beside the certificate (chain, issuer, trusted file), read once per audit:
    ``files_read`` keeps path -> certificates, or the sentence saying why they could not be read (InputError)."""
    known = files_read.get(path)
    if known is None:
        try:
            known = x509.load_certificates_from_path(path, description)
        except InputError as exc:
            known = str(exc)
        files_read[path] = known
    if isinstance(known, str):
        raise InputError(known)
    return known


def _read_configured(
    unit: Unit,
    anchors: List[Any],
    skew: int,
    certificates: evidence.Certificates,
    files_read: Optional[Dict[str, Any]] = None,
) -> None:
    """Fill ``unit.configured`` from the files the configuration names (never reading key material out)."""
    files_read = {} if files_read is None else files_read
    info = evidence.Configured(certificate_file=unit.certificate_file, key_file=unit.key_file)
    unit.configured = info
    if not unit.certificate_file:
        info.errors.append("the certificate is loaded through variables; its file is only known per request.")
        return
    try:
        certs = x509.load_certificates_from_path(unit.certificate_file, "certificate file")
    except InputError as exc:
        info.errors.append(str(exc))
        return
    unit.leaf, unit.bundle = certs[0], certs[1:]
    # Files outside the certificate file that the server also reads its chain from.
    side_files = [(unit.site.chain_file, "chain file")]
    facts = servers.facts_of(unit.server.type)
    issuer_file = facts.staple_issuer_path(unit.stapling) if facts is not None else None
    if issuer_file:
        side_files.append((issuer_file, "%s issuer file" % facts.LABEL))
    extra_pool = []
    for path, description in side_files:
        if path:
            try:
                extra_pool.extend(_side_certificates(path, description, files_read))
            except InputError as exc:
                info.errors.append(str(exc))
    info.leaf = certificates.add(x509.describe(unit.leaf).to_dict())
    report = chain.analyze_chain([unit.leaf, *unit.bundle], pool=extra_pool, anchors=anchors)
    info.chain = evidence.ChainVerdict.from_report(report.to_dict(), certificates)
    unit.issuer = report.issuer_certificate
    info.key_matches = _key_matches(unit, info)
    info.trusted = _trusted_file(unit, files_read)
    info.staple_file = _staple_file(unit, skew)


def _key_matches(unit: Unit, info: evidence.Configured) -> Optional[bool]:
    if not unit.key_file:
        return None
    try:
        data = x509.read_input_file(unit.key_file, "private key file")
        public = x509.rsa_public_key_of_private_pem(data)  # an RSA key's public part, without loading it all
        if public is not None:
            return x509.public_key_matches(unit.leaf, public)
        key = x509.load_private_key(data, "private key file %s" % unit.key_file)
    except InputError as exc:
        info.errors.append(str(exc))
        return None
    return x509.public_key_matches(unit.leaf, key)


def _trusted_file(unit: Unit, files_read: Optional[Dict[str, Any]] = None) -> Optional[evidence.TrustedFile]:
    """nginx ssl_trusted_certificate (Apache SSLCACertificateFile): does it hold the leaf's issuer?"""
    path = unit.site.trusted_certificate
    if not path:
        return None
    result = evidence.TrustedFile(path=path)
    try:
        certs = _side_certificates(path, "trusted certificate file", {} if files_read is None else files_read)
    except InputError as exc:
        result.error = str(exc)
        return result
    result.count = len(certs)
    result.has_issuer = chain.find_issuer(unit.leaf, certs) is not None
    # OCSP_basic_verify() needs a trusted root: the trusted file must complete the chain up to a self-signed
    # certificate of its own (certificates the server sends are untrusted intermediates only).
    report = chain.analyze_chain([unit.leaf, *unit.bundle], pool=certs)
    result.anchors_issuer = bool(
        report.complete and report.path and report.path[-1].self_signed and report.path_sources[-1] == "pool"
    )
    if unit.issuer is None and result.has_issuer:
        unit.issuer = chain.find_issuer(unit.leaf, certs)
    return result


def _staple_file(unit: Unit, skew: int) -> Optional[evidence.StapleFile]:
    """A staple the server reads from disk (HAProxy .ocsp, nginx ssl_stapling_file), validated in full."""
    facts = servers.facts_of(unit.server.type)
    path = facts.staple_file_path(unit.stapling) if facts is not None else None
    if not path:
        return None
    result = evidence.StapleFile(path=path, exists=os.path.exists(path))
    if not result.exists:
        return result
    try:
        stat = os.stat(path)
        result.mtime = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.timezone.utc).isoformat()
        if unit.issuer is None:
            result.error = "the issuer of the certificate is not available to validate the staple file."
            return result
        result.verdict = ocsp.validate_response(
            x509.read_input_file(path, "staple file"), unit.leaf, unit.issuer, skew_seconds=skew, source=path
        )
    except (InputError, OSError) as exc:
        result.error = str(exc)
    return result


def gather(settings: Settings, run, which=None, side_files: Optional[Dict[str, Any]] = None) -> evidence.Evidence:
    """Everything the diagnosis needs from this node, as one evidence record (``to_dict()`` for its JSON form).

    ``run(argv, timeout) -> (rc, stdout, stderr)`` runs the servers' dump commands (servers.process_runner).
    ``side_files``, when given, receives what the audit read of the files beside the certificates (chain, issuer
    and trusted files: path -> certificates, or the sentence saying why not), each read once, for a caller that
    needs them again (the preflight).
    """
    started = time.monotonic()
    budget = Budget(settings.time_budget, started)
    which = which or servers.default_which
    errors: List[str] = []
    skipped_commands: List[str] = []

    def run_in_budget(argv: List[str], timeout: float):
        # A command already running keeps its own timeout (cut shorter, a slow config test would read as failed).
        if budget.spent():
            skipped_commands.append(" ".join(argv))
            raise TimeBudgetSpent("not run, the audit's time budget of %g s was spent" % budget.seconds)
        return run(argv, timeout)

    discovered = servers.discover(run_in_budget, which, types=settings.server_types, timeout=settings.command_timeout)
    if skipped_commands:
        budget.cut.append(
            "%d server command(s) not run (%s)" % (len(skipped_commands), ", ".join(skipped_commands[:3]))
        )
    anchors = _load_anchors(settings.trust_anchor_paths, errors)
    files_read: Dict[str, Any] = {} if side_files is None else side_files
    units = _units(discovered)
    certificates = evidence.Certificates()
    # One pool for the responder checks and the handshakes. A responder check starts as soon as the first
    # certificate naming its URL is read, so a responder that hangs (up to responder_timeout) overlaps with reading
    # the files, the handshakes and the judging instead of adding to them.
    pool = ThreadPoolExecutor(max_workers=max(2, settings.max_workers))
    try:
        responder_futures: Dict[str, Any] = {}
        asked_with: Dict[str, str] = {}  # url -> fingerprint of the certificate the first probe asked about
        resolver_futures: Dict[Tuple[str, int, str], Any] = {}
        unread: List[str] = []
        for unit in units:
            if budget.spent():
                unit.configured = evidence.Configured(
                    certificate_file=unit.certificate_file,
                    key_file=unit.key_file,
                    errors=["the files of this site were not read: the audit's time budget was spent."],
                )
                unit.hostnames = _names_for(unit.site, None)
                unread.append(unit.key)
                continue
            _read_configured(unit, anchors, settings.clock_skew, certificates, files_read)
            unit.hostnames = _names_for(unit.site, unit.leaf)
            for url, (cert, issuer) in _responder_jobs([unit]).items():
                if url not in responder_futures:
                    asked_with[url] = x509.fingerprint(cert)
                    responder_futures[url] = pool.submit(_check_responder, url, cert, issuer, settings)
            for job in _resolver_jobs(unit):
                if job not in resolver_futures:
                    resolver_futures[job] = pool.submit(
                        dns_probe.query, job[0], job[2], port=job[1], timeout=settings.resolver_timeout
                    )
        budget.note(len(unread), len(units), "site certificates not read", unread)
        timings: Dict[str, int] = {"discover_and_files_ms": int((time.monotonic() - started) * 1000)}
        # CRLs of certificates without an OCSP URL: fetched while the handshakes run.
        crl_jobs = _crl_jobs([u for u in units if u.leaf is not None and not x509.ocsp_urls(u.leaf)], settings)
        crl_bodies: Dict[str, bytes] = {}  # url -> the CRL read, for certificates found to need it later
        crl_futures = {} if budget.spent() else _submit_crl_jobs(pool, crl_jobs, settings, crl_bodies)

        phase = time.monotonic()
        endpoints = _endpoints(units, settings)
        probe_futures = {}
        if not budget.spent():
            probe_futures = {
                key: pool.submit(_probe_in_budget, target, settings, budget.deadline)
                for key, target in endpoints.items()
            }
        probes, late = budget.collect(probe_futures)
        # A probe that ran past the deadline skipped its warm-ups: its missing staple would be believed wrongly.
        late.extend(key for key, probe in probes.items() if probe is None)
        late.extend(key for key in endpoints if key not in probe_futures)
        probes = {key: probe for key, probe in probes.items() if probe is not None}
        budget.note(len(late), len(endpoints), "handshakes not finished", [_endpoint_name(key) for key in late])
        timings["handshakes_ms"] = int((time.monotonic() - phase) * 1000)

        # Sites with several certificates (RSA + ECDSA) share their endpoints: judge each endpoint once per pool.
        phase = time.monotonic()
        judged: Dict[Tuple[Any, ...], evidence.Served] = {}
        sites: List[evidence.Site] = []
        for unit in units:
            pool_certs = [c for c in [*unit.bundle, unit.issuer] if c is not None]
            pool_key = tuple(sorted(x509.fingerprint(c) for c in pool_certs))
            served = {}
            for name in unit.hostnames or [None]:
                probe = probes.get((unit.host, unit.port, name))
                if probe is None:
                    continue
                key = (unit.host, unit.port, name, pool_key)
                if key not in judged:
                    judged[key] = evidence.Served.from_report(
                        endpoint_judge.judge_probe(
                            probe, pool=pool_certs, anchors=anchors, skew_seconds=settings.clock_skew
                        ),
                        certificates,
                    )
                served[name or ""] = judged[key]
            sites.append(_site_evidence(unit, served))
        timings["judging_ms"] = int((time.monotonic() - phase) * 1000)
        phase = time.monotonic()
        checks, late = budget.collect(responder_futures)
        budget.note(len(late), len(responder_futures), "responder probes not finished", late)
        for url, check in checks.items():
            check["certificate_sha256"] = asked_with.get(url)
        # A responder's answer is about one certificate. Ask again, with the certificate in question, wherever a
        # hostname's diagnosis depends on its own status and the first answer was about another certificate.
        per_certificate = _per_certificate_jobs(units, sites, checks, asked_with, settings.responder_certificate_limit)
        certificate_futures = {}
        if not budget.spent():
            certificate_futures = {
                job: pool.submit(_check_responder, job[1], cert, issuer, settings)
                for job, (cert, issuer) in per_certificate.items()
            }
        certificate_results, late = budget.collect(certificate_futures)
        late.extend(job for job in per_certificate if job not in certificate_futures)
        budget.note(
            len(late), len(per_certificate), "per-certificate responder probes not finished", [url for _fp, url in late]
        )
        certificate_checks: Dict[str, Dict[str, Any]] = {}
        for (fp, url), result in certificate_results.items():
            certificate_checks.setdefault(fp, {})[url] = dict(result, certificate_sha256=fp)
        # CRLs of certificates whose every responder failed: the CRL is then what says whether they are revoked.
        failing = _crl_jobs([u for u in units if _responders_failed(u, checks, certificate_checks)], settings)
        more = {url: job for url, job in failing.items() if url not in crl_jobs}
        if more and not budget.spent():
            crl_futures.update(_submit_crl_jobs(pool, more, settings, crl_bodies))
        crl_checks, late = budget.collect(crl_futures)
        budget.note(len(late), len(crl_futures), "CRL downloads not finished", late)
        _judge_again(crl_checks, crl_bodies, crl_jobs, failing, skew_seconds=settings.clock_skew)
        resolver_checks, late = budget.collect(resolver_futures)
        budget.note(len(late), len(resolver_futures), "resolver queries not finished", [job[2] for job in late])
        for unit, site in zip(units, sites):
            site.resolver_checks = [resolver_checks[job] for job in _resolver_jobs(unit) if job in resolver_checks]
        timings["responders_wait_ms"] = int((time.monotonic() - phase) * 1000)
    finally:
        # Past the budget, work in flight is not waited for; each piece ends by its own timeout.
        pool.shutdown(wait=not budget.spent())
    extra = []
    for target in _extra_endpoints(settings):
        probe = probes.get((target.host, target.port, target.server_name))
        if probe is not None:
            extra.append(
                evidence.Served.from_report(
                    endpoint_judge.judge_probe(probe, anchors=anchors, skew_seconds=settings.clock_skew), certificates
                )
            )

    phase = time.monotonic()
    since = settings.since or (_now() - datetime.timedelta(hours=1))
    log_events = []
    unread_logs = []
    for server in discovered:
        if budget.spent():
            unread_logs.append(server.type)
            continue
        log_events.extend(event.to_dict() for event in servers.log_events(server, since))
    budget.note(len(unread_logs), len(discovered), "servers' error logs not read", unread_logs)
    timings["logs_ms"] = int((time.monotonic() - phase) * 1000)
    timings["total_ms"] = int((time.monotonic() - started) * 1000)
    cut_short = budget.sentence()
    if cut_short:
        errors.append(cut_short)
    return evidence.Evidence(
        node={"hostname": socket.gethostname(), "checked_at": _now().strftime("%Y-%m-%dT%H:%M:%SZ")},
        servers=[_server_summary(server) for server in discovered],
        certificates=certificates,
        sites=sites,
        extra_endpoints=extra,
        responders=checks,
        certificate_responders=certificate_checks,
        crls=crl_checks,
        log_events=log_events,
        logs_since=since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        trust_anchors=len(anchors),
        errors=errors,
        timings=timings,
    )


def _probe_in_budget(target: tls_probe.Endpoint, settings: Settings, deadline: Optional[float]):
    """The endpoint's probe, or None when it ran past the deadline (it stopped its warm-ups there)."""
    probe = tls_probe.probe_endpoint(
        target,
        protocols=settings.protocols,
        timeout=settings.handshake_timeout,
        warmup_attempts=settings.warmup_attempts,
        warmup_delay=settings.warmup_delay,
        wants_staple=endpoint_judge.wants_staple,
        deadline=deadline,
    )
    if deadline is not None and time.monotonic() >= deadline:
        return None
    return probe


def _endpoint_name(key: Tuple[str, int, Optional[str]]) -> str:
    host, port, name = key
    return "%s:%s%s" % (host, port, " " + name if name else "")


def _extra_endpoints(settings: Settings) -> List[tls_probe.Endpoint]:
    return [
        tls_probe.Endpoint(item.get("host") or "127.0.0.1", int(item.get("port") or 443), item.get("server_name"))
        for item in settings.extra_endpoints
    ]


def _endpoints(units: List[Unit], settings: Settings) -> Dict[Tuple[str, int, Optional[str]], tls_probe.Endpoint]:
    """Every (host, port, SNI) to handshake with, each once however many sites share it."""
    wanted: Dict[Tuple[str, int, Optional[str]], tls_probe.Endpoint] = {}
    for unit in units:
        for name in unit.hostnames or [None]:
            wanted.setdefault((unit.host, unit.port, name), tls_probe.Endpoint(unit.host, unit.port, name))
    for target in _extra_endpoints(settings):
        wanted.setdefault((target.host, target.port, target.server_name), target)
    return wanted


def _responder_jobs(units: List[Unit]) -> Dict[str, Tuple[Any, Any]]:
    """One (certificate, issuer) per distinct responder URL: the probe tests the path, not every certificate."""
    jobs: Dict[str, Tuple[Any, Any]] = {}
    for unit in units:
        if unit.leaf is None or unit.issuer is None:
            continue
        for url in x509.ocsp_urls(unit.leaf):
            jobs.setdefault(url, (unit.leaf, unit.issuer))
    return jobs


# Stages where the path broke before any request about a certificate was sent: the answer is the same whatever
# certificate is asked about, so one probe per URL stands for all of them.
SHARED_STAGES = ("dns", "connect", "proxy")


def _per_certificate_jobs(
    units: List[Unit], sites: List[evidence.Site], checks: Dict[str, Any], asked_with: Dict[str, str], limit: int
) -> Dict[Tuple[str, str], Tuple[Any, Any]]:
    """(fingerprint, url) -> (certificate, issuer) for every certificate whose own answer the diagnosis needs.

    Needed when a hostname of the certificate is served without a good staple on some protocol (its status may
    explain why), or when the URL's first probe failed after the request was sent (the failure may be about the
    other certificate). Not needed when the path broke before any request (SHARED_STAGES). At most ``limit``.
    """
    jobs: Dict[Tuple[str, str], Tuple[Any, Any]] = {}
    for unit, site in zip(units, sites):
        if unit.leaf is None or unit.issuer is None:
            continue
        fp = x509.fingerprint(unit.leaf)
        not_good = any(
            state not in ("good", "unreachable")  # nothing served: the responder explains nothing
            for served in site.served.values()
            for state in served.summary.staple_states.values()
        )
        for url in x509.ocsp_urls(unit.leaf):
            check = checks.get(url) or {}
            if asked_with.get(url) == fp or check.get("failed_stage") in SHARED_STAGES:
                continue
            if not (not_good or check.get("failed_stage")):
                continue
            if (fp, url) not in jobs and len(jobs) < limit:
                jobs[(fp, url)] = (unit.leaf, unit.issuer)
    return jobs


def _resolver_jobs(unit: Unit) -> List[Tuple[str, int, str]]:
    """(address, port, responder host) for each address of a server's own resolver and each responder name.

    Only for servers that resolve the responder themselves at run time (a ``resolver`` in the stapling facts).
    """
    facts = servers.facts_of(unit.server.type)
    addresses = facts.resolver_addresses(unit.stapling) if facts is not None else []
    if unit.leaf is None or not addresses:
        return []
    names = []
    for url in x509.ocsp_urls(unit.leaf):
        host = urllib.parse.urlsplit(url).hostname or ""
        if host and not responder_probe.is_address(host):
            names.append(host)
    return [(address, port, name) for name in dict.fromkeys(names) for address, port in addresses][:8]


def _crl_jobs(units: List[Unit], settings: Settings) -> Dict[str, Tuple[Any, List[Any]]]:
    """url -> (issuer, certificates): each CRL distribution point once, with every certificate it is asked about.

    A certificate is looked up in a CRL only when its issuer (the one the audit found for it) is the issuer the
    CRL is validated against: the first certificate naming the URL sets it. Issuers are the same when their
    subject and public key are (x509.same_subject_and_key): a cross-signed copy of an intermediate is another
    certificate of the same CA, whose CRL it signs with the same key.
    """
    jobs: Dict[str, Tuple[Any, List[Any]]] = {}
    if not settings.crl_check:
        return jobs
    for unit in units:
        if unit.leaf is None or unit.issuer is None:
            continue
        for url in crl.http_urls(unit.leaf):
            issuer, certs = jobs.setdefault(url, (unit.issuer, []))
            if x509.same_subject_and_key(issuer, unit.issuer) and all(
                x509.fingerprint(c) != x509.fingerprint(unit.leaf) for c in certs
            ):
                certs.append(unit.leaf)
    return jobs


def _submit_crl_jobs(
    pool, jobs: Dict[str, Tuple[Any, List[Any]]], settings: Settings, bodies: Dict[str, bytes]
) -> Dict[str, Any]:
    return {
        url: pool.submit(
            crl.check,
            url,
            issuer,
            certs,
            max_bytes=settings.crl_max_bytes,
            bodies=bodies,
            **_fetch_options(settings),
        )
        for url, (issuer, certs) in jobs.items()
    }


def _judge_again(
    records: Dict[str, Any],
    bodies: Dict[str, bytes],
    fetched: Dict[str, Tuple[Any, List[Any]]],
    wanted: Dict[str, Tuple[Any, List[Any]]],
    skew_seconds: int = 300,
) -> None:
    """Certificates whose responders all failed, naming a CRL already fetched for certificates without an OCSP
    URL: judged against that download (same issuer by subject and key, as _crl_jobs matches), added to its record."""
    for url, (issuer, certs) in wanted.items():
        record, body = records.get(url), bodies.get(url)
        if url not in fetched or record is None or body is None:
            continue
        if not x509.same_subject_and_key(fetched[url][0], issuer):
            continue
        known = record.get("certificates") or {}
        new = [cert for cert in certs if x509.fingerprint(cert) not in known]
        if not new:
            continue
        verdict = crl.judge(body, fetched[url][0], new, skew_seconds=skew_seconds, url=url)
        record["certificates"] = dict(known, **(verdict.get("certificates") or {}))


def _responders_failed(unit: Unit, checks: Dict[str, Any], certificate_checks: Dict[str, Dict[str, Any]]) -> bool:
    """True when the certificate names responders and every probe that speaks for it failed."""
    if unit.leaf is None:
        return False
    urls = x509.ocsp_urls(unit.leaf)
    own = certificate_checks.get(x509.fingerprint(unit.leaf)) or {}
    found = [own.get(url) or checks.get(url) for url in urls]
    return bool(urls) and all(isinstance(c, dict) and c.get("failed_stage") for c in found)


def _check_responder(url, cert, issuer, settings: Settings) -> Dict[str, Any]:
    return responder_probe.check(url, cert, issuer, **_fetch_options(settings))


def _fetch_options(settings: Settings) -> Dict[str, Any]:
    """The options every outbound fetch from the node takes (responder probes and CRLs alike)."""
    return {
        "timeout": settings.responder_timeout,
        "proxy": settings.proxy,
        "use_env_proxy": settings.use_proxy,
        "skew_seconds": settings.clock_skew,
    }


def _server_summary(server: servers.ServerInfo) -> Dict[str, Any]:
    data = server.to_dict()
    data["sites"] = [site.site_id for site in server.sites]
    return data


def _site_evidence(unit: Unit, served: Dict[str, evidence.Served]) -> evidence.Site:
    return evidence.Site(
        key=unit.key,
        server=unit.server.type,
        server_version=unit.server.version,
        server_running=unit.server.running,
        server_started_at=unit.server.master_started_at,
        stapling_capable=unit.server.stapling_capable,
        stapling_capable_reason=unit.server.stapling_capable_reason,
        site=unit.site.site_id,
        source=unit.site.source,
        server_names=list(unit.site.server_names),
        hostnames=list(unit.hostnames),
        endpoint=evidence.Endpoint(host=unit.host, port=unit.port),
        stapling=unit.stapling,
        trusted_certificate=unit.site.trusted_certificate,
        files=unit.site.files,
        configured=unit.configured,
        served=served,
    )
