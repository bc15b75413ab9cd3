# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The evidence node_audit gathers, as typed records: produced by audit.gather(), read by diagnosis.py, and sent
to the controller (report, drift, remediation planner) in the dict form ``Evidence.to_dict()`` gives.

Compact by construction:

- every certificate is described once per node, in ``Evidence.certificates`` keyed by its SHA-256 fingerprint;
  everywhere else (the presented chain, a chain verdict's path, issuer and extras, the configured leaf) names it
  by that fingerprint;
- per hostname, the protocols that were served the same chain and staple share one ``Verdict``
  (``Served.verdicts``); each protocol's ``Handshake`` names its verdict by index;
- ``to_dict("compact")`` (node_audit's default) keeps what the diagnosis, the report, the drift check and the
  remediation planner read, and leaves out the rest (the ``*_COMPACT`` and ``*_DETAIL`` names below): per
  handshake the cipher, negotiated protocol, timings and byte counts; the chain verdicts' paths and sentences;
  the staple verdicts' signer and timestamps beyond nextUpdate; the stat of files other than the certificate
  file; a passing configuration test's output; the responder probes' timings; log lines the diagnosis would not
  quote. ``to_dict("full")`` keeps everything. The diagnosis of either dict form is the diagnosis of the records
  (tests/unit/plugins/module_utils/test_evidence.py holds it to that).

The dict form is described by docs/evidence-schema.json. ``VERSION`` changes whenever that shape does;
``Evidence.from_dict`` refuses any other version with one sentence.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils import crl, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.ocsp import OcspVerdict
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record
from ansible_collections.tlsfleet.stapling.plugins.module_utils.x509 import CertInfo

VERSION = 2
COMPACT = "compact"
FULL = "full"
DETAILS = (COMPACT, FULL)

# A certificate record is x509.CertInfo, a staple verdict is ocsp.OcspVerdict: the records the info modules
# return, so one certificate or response reads the same in every module's result.
Certificate = CertInfo


def _known(cls, data: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The entries of ``data`` that are fields of ``cls`` (a newer or older writer may add or drop some)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in (data or {}).items() if k in names}


def certificate_from_dict(data: Dict[str, Any]) -> Certificate:
    # sha1 is required by CertInfo, and evidence: compact leaves it out (see CERTIFICATE_DETAIL).
    info = CertInfo(**_known(CertInfo, dict({"sha1": None}, **data)))
    if "short_lived" not in data:  # evidence written before the field: read it from the validity window
        info.short_lived = short_lived_of(data)
    return info


def short_lived_of(record: Dict[str, Any]) -> bool:
    """Whether a certificate record (dict form) is short-lived, read from its validity window (``not_before``,
    ``not_after``; x509.is_short_lived). The record's own ``short_lived`` is not read: on the controller the record is
    a node's word, and a node must not make the report call a long-lived certificate short-lived. A record whose
    dates cannot be read is not short-lived."""
    if not isinstance(record, dict):
        return False
    try:
        return x509.is_short_lived(x509.parse_time(record["not_before"]), x509.parse_time(record["not_after"]))
    except (InputError, KeyError, TypeError, ValueError, IndexError, OverflowError):
        return False


def staple_from_dict(data: Optional[Dict[str, Any]]) -> Optional[OcspVerdict]:
    if data is None:
        return None
    return OcspVerdict(**_known(OcspVerdict, dict({"response_status": None}, **data)))


# The fields of a staple verdict (ocsp.OcspVerdict) that evidence: compact keeps: what the diagnosis reads.
STAPLE_COMPACT = (
    "response_status",
    "cert_status",
    "revocation_time",
    "next_update",
    "seconds_until_next_update",
    "signature_valid",
    "signer_authorized",
    "cert_id_matches",
    "valid",
    "good",
    "problems",
)
# The fields of a chain verdict that evidence: compact keeps.
CHAIN_COMPACT = (
    "order_ok",
    "complete",
    "anchored",
    "missing_issuer",
    "missing_issuer_of",
    "issuer_found_in",
    "extra",
    "duplicates",
    "root_sent",
    "presented_count",
)
# What evidence: compact keeps of the stat of the certificate file (the only file whose stat the diagnosis reads).
FILE_COMPACT = ("exists", "mtime", "error")
# What evidence: compact keeps of a responder check (the rest: addresses, per-stage timings, the proxy).
RESPONDER_COMPACT = ("url", "reachable", "failed_stage", "error", "certificate_sha256", "http", "ocsp")
HTTP_COMPACT = ("status", "truncated", "content_type")
# What evidence: compact keeps of a CRL check (crl.py), keyed by distribution point URL: each CRL once per node.
CRL_COMPACT = crl.COMPACT
# What evidence: compact keeps of a log event, and how many of the newest events per server, code and site hint:
# the diagnosis quotes at most the newest 3 of the events it selects by those three fields.
LOG_EVENT_COMPACT = ("server", "code", "site_hint", "file", "line_no", "message", "time")
LOG_EVENTS_PER_KIND = 3
# What evidence: compact leaves out of a certificate record (identifiers besides sha256 that nothing reads; key_type
# stays: coverage.destinations tells an RSA from an ECDSA certificate of one site by it) and of
# a server record (the stat of every configuration file, build details).
CERTIFICATE_DETAIL = (
    "sha1",
    "subject_key_id",
    "authority_key_id",
    "ca_issuers_urls",
    "signature_algorithm",
    "is_ca",
)
SERVER_DETAIL = ("config_files", "details", "master_cmdline", "version_tuple")


def _staple_dict(verdict: Optional[OcspVerdict], detail: str) -> Optional[Dict[str, Any]]:
    if verdict is None:
        return None
    out = verdict.to_dict()
    return out if detail == FULL else {name: out[name] for name in STAPLE_COMPACT}


class Certificates(dict):
    """fingerprint -> Certificate: the node's certificates, each described once."""

    def add(self, info: Optional[Dict[str, Any]]) -> Optional[str]:
        """Record a certificate given as ``CertInfo.to_dict()``; returns its fingerprint (None for None)."""
        if not info:
            return None
        fp = info["sha256"]
        if fp not in self:
            self[fp] = certificate_from_dict(info)
        return fp


# --------------------------------------------------------------------------------------------------------------
# chains, verdicts, handshakes, what one hostname served


@dataclass(repr=False)
class ChainVerdict(Record):
    """chain.ChainReport with every certificate named by fingerprint."""

    leaf: Optional[str] = None
    order_ok: Optional[bool] = None
    complete: Optional[bool] = None
    presented_complete: Optional[bool] = None
    anchored: Optional[bool] = None
    missing_issuer: Optional[str] = None
    missing_issuer_of: Optional[str] = None
    issuer: Optional[str] = None
    issuer_found_in: Optional[str] = None
    extra: List[str] = field(default_factory=list)
    duplicates: List[str] = field(default_factory=list)
    root_sent: bool = False
    path: List[str] = field(default_factory=list)
    path_sources: List[str] = field(default_factory=list)
    path_validated: Optional[bool] = None
    path_validation_error: Optional[str] = None
    presented_count: int = 0
    problems: List[str] = field(default_factory=list)

    @classmethod
    def from_report(cls, report: Optional[Dict[str, Any]], certificates: Certificates) -> Optional[ChainVerdict]:
        """From ``ChainReport.to_dict()`` (certificates described inline), recording them in ``certificates``."""
        if not report:
            return None
        return cls(
            leaf=certificates.add(report.get("leaf")),
            order_ok=report.get("order_ok"),
            complete=report.get("complete"),
            presented_complete=report.get("presented_complete"),
            anchored=report.get("anchored"),
            missing_issuer=report.get("missing_issuer"),
            missing_issuer_of=report.get("missing_issuer_of"),
            issuer=certificates.add(report.get("issuer")),
            issuer_found_in=report.get("issuer_found_in"),
            extra=[certificates.add(c) for c in report.get("extra") or []],
            duplicates=[certificates.add(c) for c in report.get("duplicates") or []],
            root_sent=bool(report.get("root_sent")),
            path=[certificates.add(c) for c in report.get("path") or []],
            path_sources=list(report.get("path_sources") or []),
            path_validated=report.get("path_validated"),
            path_validation_error=report.get("path_validation_error"),
            presented_count=int(report.get("presented_count") or 0),
            problems=list(report.get("problems") or []),
        )

    def to_dict(self, detail: str = COMPACT) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        return out if detail == FULL else {name: out[name] for name in CHAIN_COMPACT}

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]) -> Optional[ChainVerdict]:
        return None if data is None else cls(**_known(cls, data))


@dataclass(repr=False)
class Verdict(Record):
    """What one or more protocols of one hostname were served: the presented chain, its verdict, the staple's."""

    protocols: List[str] = field(default_factory=list)
    presented: List[str] = field(default_factory=list)  # fingerprints, leaf first
    chain: Optional[ChainVerdict] = None
    chain_error: Optional[str] = None
    staple: Optional[OcspVerdict] = None
    staple_error: Optional[str] = None

    def to_dict(self, detail: str = COMPACT) -> Dict[str, Any]:
        return {
            "protocols": list(self.protocols),
            "presented": list(self.presented),
            "chain": self.chain.to_dict(detail) if self.chain is not None else None,
            "chain_error": self.chain_error,
            "staple": _staple_dict(self.staple, detail),
            "staple_error": self.staple_error,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> Verdict:
        return cls(
            protocols=list(data.get("protocols") or []),
            presented=list(data.get("presented") or []),
            chain=ChainVerdict.from_dict(data.get("chain")),
            chain_error=data.get("chain_error"),
            staple=staple_from_dict(data.get("staple")),
            staple_error=data.get("staple_error"),
        )


# Per-handshake fields kept only with evidence: full (nothing downstream reads them).
HANDSHAKE_DETAIL = ("protocol_requested", "protocol", "cipher", "staple_bytes", "chain_length", "elapsed_ms")


@dataclass(repr=False)
class Handshake(Record):
    """One protocol's handshake (after warm-up) and the index of its verdict in ``Served.verdicts``."""

    ok: bool = False
    error: Optional[str] = None
    error_stage: Optional[str] = None
    staple_present: bool = False
    handshakes_made: int = 1
    verdict: Optional[int] = None  # None when the handshake failed
    protocol_requested: Optional[str] = None
    protocol: Optional[str] = None
    cipher: Optional[str] = None
    staple_bytes: int = 0
    chain_length: int = 0
    elapsed_ms: Optional[int] = None

    def to_dict(self, detail: str = COMPACT) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        if detail != FULL:
            for name in HANDSHAKE_DETAIL:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> Handshake:
        return cls(**_known(cls, data))


@dataclass(repr=False)
class StapleSummary(Record):
    """The worst staple state over the protocols, each protocol's, and the fewest seconds to a nextUpdate."""

    staple_state: str = "unreachable"
    staple_states: Dict[str, str] = field(default_factory=dict)
    seconds_left: Optional[int] = None


@dataclass(repr=False)
class Served(Record):
    """What one endpoint (a site's hostname, or an extra endpoint) served, per protocol."""

    reachable: bool = False
    leaf_sha256: Optional[str] = None
    same_leaf_for_all_protocols: bool = True
    warmup_used: bool = False
    summary: StapleSummary = field(default_factory=StapleSummary)
    protocols: Dict[str, Handshake] = field(default_factory=dict)
    verdicts: List[Verdict] = field(default_factory=list)
    # Where it was probed: always for an extra endpoint, else with evidence: full only.
    host: Optional[str] = None
    port: Optional[int] = None
    server_name: Optional[str] = None
    label: Optional[str] = None

    @classmethod
    def from_report(cls, report: Dict[str, Any], certificates: Certificates) -> Served:
        """From endpoint.judge_probe()'s report (tls_endpoint_info's shape): protocols that were served the same
        chain and staple share one verdict, certificates go to ``certificates``."""
        served = cls(
            reachable=bool(report.get("reachable")),
            leaf_sha256=report.get("leaf_sha256"),
            same_leaf_for_all_protocols=bool(report.get("same_leaf_for_all_protocols", True)),
            warmup_used=bool(report.get("warmup_used")),
            summary=StapleSummary(**_known(StapleSummary, report.get("summary"))),
            host=report.get("host"),
            port=report.get("port"),
            server_name=report.get("server_name"),
            label=report.get("label"),
        )
        by_material: Dict[Any, int] = {}
        for key, judged in (report.get("protocols") or {}).items():
            handshake = Handshake(**_known(Handshake, judged))
            served.protocols[key] = handshake
            if not judged.get("ok"):
                continue
            presented = [certificates.add(c) for c in judged.get("presented") or []]
            staple = judged.get("staple")
            material = (
                tuple(presented),
                (staple or {}).get("response_sha256"),
                (staple or {}).get("checked_at"),
                judged.get("staple_error"),
                judged.get("chain_error"),
            )
            index = by_material.get(material)
            if index is None:
                index = by_material[material] = len(served.verdicts)
                served.verdicts.append(
                    Verdict(
                        presented=presented,
                        chain=ChainVerdict.from_report(judged.get("chain"), certificates),
                        chain_error=judged.get("chain_error"),
                        staple=staple_from_dict(staple),
                        staple_error=judged.get("staple_error"),
                    )
                )
            served.verdicts[index].protocols.append(key)
            handshake.verdict = index
        return served

    def verdict_of(self, protocol: str) -> Optional[Verdict]:
        handshake = self.protocols.get(protocol)
        if handshake is None or handshake.verdict is None or not 0 <= handshake.verdict < len(self.verdicts):
            return None
        return self.verdicts[handshake.verdict]

    def to_dict(self, detail: str = COMPACT, where: bool = False) -> Dict[str, Any]:
        out = {
            "reachable": self.reachable,
            "leaf_sha256": self.leaf_sha256,
            "same_leaf_for_all_protocols": self.same_leaf_for_all_protocols,
            "warmup_used": self.warmup_used,
            "summary": dataclasses.asdict(self.summary),
            "protocols": {key: handshake.to_dict(detail) for key, handshake in self.protocols.items()},
            "verdicts": [verdict.to_dict(detail) for verdict in self.verdicts],
        }
        if where or detail == FULL:
            out.update(host=self.host, port=self.port, server_name=self.server_name, label=self.label)
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> Served:
        return cls(
            reachable=bool(data.get("reachable")),
            leaf_sha256=data.get("leaf_sha256"),
            same_leaf_for_all_protocols=bool(data.get("same_leaf_for_all_protocols", True)),
            warmup_used=bool(data.get("warmup_used")),
            summary=StapleSummary(**_known(StapleSummary, data.get("summary"))),
            protocols={k: Handshake.from_dict(v) for k, v in (data.get("protocols") or {}).items()},
            verdicts=[Verdict.from_dict(v) for v in data.get("verdicts") or []],
            host=data.get("host"),
            port=data.get("port"),
            server_name=data.get("server_name"),
            label=data.get("label"),
        )


# --------------------------------------------------------------------------------------------------------------
# what a site's configuration deploys


@dataclass(repr=False)
class TrustedFile(Record):
    """nginx ssl_trusted_certificate / Apache SSLCACertificateFile: does it hold (and anchor) the leaf's issuer?"""

    path: str
    has_issuer: bool = False
    anchors_issuer: bool = False
    count: Optional[int] = None
    error: Optional[str] = None


@dataclass(repr=False)
class StapleFile(Record):
    """A staple the server reads from disk (HAProxy .ocsp, nginx ssl_stapling_file), validated in full."""

    path: str
    exists: bool = False
    mtime: Optional[str] = None
    verdict: Optional[OcspVerdict] = None
    error: Optional[str] = None


@dataclass(repr=False)
class Configured(Record):
    """The files the site's configuration names, as read on the node (never any key material)."""

    certificate_file: Optional[str] = None
    key_file: Optional[str] = None
    errors: List[str] = field(default_factory=list)
    leaf: Optional[str] = None  # fingerprint
    chain: Optional[ChainVerdict] = None
    key_matches: Optional[bool] = None
    trusted: Optional[TrustedFile] = None
    staple_file: Optional[StapleFile] = None

    def to_dict(self, detail: str = COMPACT) -> Dict[str, Any]:
        return {
            "certificate_file": self.certificate_file,
            "key_file": self.key_file,
            "errors": list(self.errors),
            "leaf": self.leaf,
            "chain": self.chain.to_dict(detail) if self.chain is not None else None,
            "key_matches": self.key_matches,
            "trusted": dataclasses.asdict(self.trusted) if self.trusted is not None else None,
            "staple_file": _staple_file_dict(self.staple_file, detail),
        }

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]) -> Configured:
        data = data or {}
        trusted = data.get("trusted")
        staple_file = data.get("staple_file")
        return cls(
            certificate_file=data.get("certificate_file"),
            key_file=data.get("key_file"),
            errors=list(data.get("errors") or []),
            leaf=data.get("leaf"),
            chain=ChainVerdict.from_dict(data.get("chain")),
            key_matches=data.get("key_matches"),
            trusted=TrustedFile(**_known(TrustedFile, trusted)) if trusted is not None else None,
            staple_file=(
                StapleFile(
                    **dict(_known(StapleFile, staple_file), verdict=staple_from_dict(staple_file.get("verdict")))
                )
                if staple_file is not None
                else None
            ),
        )


def _staple_file_dict(staple_file: Optional[StapleFile], detail: str) -> Optional[Dict[str, Any]]:
    if staple_file is None:
        return None
    out = {f.name: getattr(staple_file, f.name) for f in dataclasses.fields(staple_file)}
    out["verdict"] = _staple_dict(staple_file.verdict, detail)
    return out


@dataclass(repr=False)
class Endpoint(Record):
    """The address and port a site's handshakes went to (the site's listener on this node)."""

    host: str = "127.0.0.1"
    port: int = 443


@dataclass(repr=False)
class Site(Record):
    """One certificate of one site of one server: its configuration, its files, and what each hostname served.

    ``stapling`` holds the server's own stapling facts for the site (servers/<type>), as discovery reports them.
    """

    key: str
    server: str
    site: str
    source: Optional[str] = None
    server_version: Optional[str] = None
    server_running: Optional[bool] = None
    server_started_at: Optional[str] = None
    stapling_capable: Optional[bool] = None
    stapling_capable_reason: Optional[str] = None
    server_names: List[str] = field(default_factory=list)
    hostnames: List[str] = field(default_factory=list)
    endpoint: Endpoint = field(default_factory=Endpoint)
    stapling: Dict[str, Any] = field(default_factory=dict)
    trusted_certificate: Optional[str] = None
    files: Dict[str, Any] = field(default_factory=dict)
    configured: Configured = field(default_factory=Configured)
    served: Dict[str, Served] = field(default_factory=dict)
    resolver_checks: List[Dict[str, Any]] = field(default_factory=list)

    def to_dict(self, detail: str = COMPACT) -> Dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        files = dict(self.files)
        if detail != FULL:
            # The server's stapling capability is in its own record (Evidence.servers); of the files, the diagnosis
            # reads when the certificate file changed.
            del out["stapling_capable"], out["stapling_capable_reason"]
            files = {
                path: {k: v for k, v in stat.items() if k in FILE_COMPACT} if isinstance(stat, dict) else stat
                for path, stat in files.items()
                if path == self.configured.certificate_file
            }
        out.update(
            server_names=list(self.server_names),
            hostnames=list(self.hostnames),
            endpoint=dataclasses.asdict(self.endpoint),
            stapling=dict(self.stapling),
            files=files,
            configured=self.configured.to_dict(detail),
            served={name: served.to_dict(detail) for name, served in self.served.items()},
            resolver_checks=list(self.resolver_checks),
        )
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> Site:
        values = _known(cls, data)
        values.update(
            endpoint=Endpoint(**_known(Endpoint, data.get("endpoint"))),
            configured=Configured.from_dict(data.get("configured")),
            served={name: Served.from_dict(s) for name, s in (data.get("served") or {}).items()},
            server_names=list(data.get("server_names") or []),
            hostnames=list(data.get("hostnames") or []),
            stapling=dict(data.get("stapling") or {}),
            files=dict(data.get("files") or {}),
            resolver_checks=list(data.get("resolver_checks") or []),
        )
        return cls(**values)


# --------------------------------------------------------------------------------------------------------------
# the node


@dataclass(repr=False)
class Evidence(Record):
    """Everything node_audit gathered on one node.

    ``servers`` (tls_server_info's server records, sites as ids), ``responders`` (per URL) and
    ``certificate_responders`` (per fingerprint and URL: ocsp_responder_check's records), ``log_events``
    (tls_server_info's) and a site's ``resolver_checks`` are the records of those modules, kept as they are.
    """

    node: Dict[str, Any] = field(default_factory=dict)
    servers: List[Dict[str, Any]] = field(default_factory=list)
    certificates: Certificates = field(default_factory=Certificates)
    sites: List[Site] = field(default_factory=list)
    extra_endpoints: List[Served] = field(default_factory=list)
    responders: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    certificate_responders: Dict[str, Dict[str, Dict[str, Any]]] = field(default_factory=dict)
    crls: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    log_events: List[Dict[str, Any]] = field(default_factory=list)
    logs_since: Optional[str] = None
    trust_anchors: int = 0
    errors: List[str] = field(default_factory=list)
    timings: Dict[str, int] = field(default_factory=dict)

    def certificate(self, fingerprint: Optional[str]) -> Optional[Certificate]:
        return self.certificates.get(fingerprint) if fingerprint else None

    def to_dict(self, detail: str = COMPACT) -> Dict[str, Any]:
        if detail not in DETAILS:
            raise InputError("evidence must be one of %s, not %r." % (", ".join(DETAILS), detail))
        sites = [site.to_dict(detail) for site in self.sites]
        extra = [served.to_dict(detail, where=True) for served in self.extra_endpoints]
        servers = list(self.servers)
        certificates = {fp: cert.to_dict() for fp, cert in sorted(self.certificates.items())}
        responders = dict(self.responders)
        certificate_responders = dict(self.certificate_responders)
        crls = dict(self.crls)
        if detail != FULL:
            crls = {url: _crl_dict(check) for url, check in self.crls.items()}
            servers = [_server_dict(record) for record in servers]
            # Only the certificates the compact form names (a chain's path, which names the roots, is full only).
            named = _named_certificates(sites, extra)
            certificates = {
                fp: {k: v for k, v in cert.items() if k not in CERTIFICATE_DETAIL}
                for fp, cert in certificates.items()
                if fp in named
            }
            responders = {url: _responder_dict(check) for url, check in self.responders.items()}
            certificate_responders = {
                fp: {url: _responder_dict(check) for url, check in checks.items()}
                for fp, checks in self.certificate_responders.items()
            }
        out = {
            "version": VERSION,
            "detail": detail,
            "node": dict(self.node),
            "servers": servers,
            "certificates": certificates,
            "sites": sites,
            "extra_endpoints": extra,
            "responders": responders,
            "certificate_responders": certificate_responders,
            "log_events": list(self.log_events) if detail == FULL else _log_events_compact(self.log_events),
            "logs_since": self.logs_since,
            "trust_anchors": self.trust_anchors,
            "errors": list(self.errors),
            "timings": dict(self.timings),
        }
        if crls:  # only on nodes that fetched a CRL (an optional key: evidence without it reads the same)
            out["crls"] = crls
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> Evidence:
        """The typed evidence from its dict form; InputError when it is not a dict of this VERSION."""
        if not isinstance(data, dict):
            raise InputError("the evidence is %s, not a dict." % type(data).__name__)
        if data.get("version") != VERSION:
            raise InputError(
                "the evidence is of version %r; this collection reads version %d (node_audit of the same "
                "collection version writes it)." % (data.get("version"), VERSION)
            )
        certificates = Certificates()
        for fp, info in (data.get("certificates") or {}).items():
            certificates[fp] = certificate_from_dict(info)
        return cls(
            node=dict(data.get("node") or {}),
            servers=list(data.get("servers") or []),
            certificates=certificates,
            sites=[Site.from_dict(s) for s in data.get("sites") or []],
            extra_endpoints=[Served.from_dict(s) for s in data.get("extra_endpoints") or []],
            responders=dict(data.get("responders") or {}),
            certificate_responders=dict(data.get("certificate_responders") or {}),
            crls=dict(data.get("crls") or {}),
            log_events=list(data.get("log_events") or []),
            logs_since=data.get("logs_since"),
            trust_anchors=int(data.get("trust_anchors") or 0),
            errors=list(data.get("errors") or []),
            timings=dict(data.get("timings") or {}),
        )


def _responder_dict(check: Any) -> Any:
    """A responder check as evidence: compact keeps it: its outcome, the HTTP status, the answer's verdict reduced
    as a staple's is."""
    if not isinstance(check, dict):
        return check
    out = {k: v for k, v in check.items() if k in RESPONDER_COMPACT}
    if isinstance(out.get("http"), dict):
        out["http"] = {k: v for k, v in out["http"].items() if k in HTTP_COMPACT}
    if isinstance(out.get("ocsp"), dict):
        out["ocsp"] = {k: v for k, v in out["ocsp"].items() if k in STAPLE_COMPACT}
    return out


def _crl_dict(check: Any) -> Any:
    """A CRL check as evidence: compact keeps its outcome, times, problems and the lookups; not its timings."""
    if not isinstance(check, dict):
        return check
    out = {k: v for k, v in check.items() if k in CRL_COMPACT}
    if isinstance(out.get("http"), dict):
        out["http"] = {k: v for k, v in out["http"].items() if k in HTTP_COMPACT}
    return out


def crls_for(evidence: Evidence, fingerprint: Optional[str]) -> List[Dict[str, Any]]:
    """The CRL checks that looked ``fingerprint`` up (or would have, had the CRL been read), in URL order."""
    if not fingerprint:
        return []
    return [
        check
        for _url, check in sorted(evidence.crls.items())
        if isinstance(check, dict)
        and isinstance(check.get("certificates"), dict)
        and fingerprint in check["certificates"]
    ]


def _server_dict(record: Any) -> Any:
    """A server record as evidence: compact keeps it; the output of a configuration test only when it failed (what
    the diagnosis quotes; Apache's lists every included file)."""
    if not isinstance(record, dict):
        return record
    out = {k: v for k, v in record.items() if k not in SERVER_DETAIL}
    if out.get("config_test_ok") is not False:
        out.pop("config_test_output", None)
    return out


def _log_events_compact(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The newest LOG_EVENTS_PER_KIND events per server, code and site hint, in their order, with the fields the
    diagnosis reads (it quotes the newest 3 of a selection made by those fields, so it quotes the same lines)."""
    kept, seen = [], {}
    for event in reversed(events):
        if not isinstance(event, dict):
            kept.append(event)
            continue
        kind = (event.get("server"), event.get("code"), event.get("site_hint"))
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= LOG_EVENTS_PER_KIND:
            kept.append({k: v for k, v in event.items() if k in LOG_EVENT_COMPACT})
    return kept[::-1]


def _named_certificates(sites: List[Dict[str, Any]], extra: List[Dict[str, Any]]) -> set:
    """The fingerprints the dict forms of ``sites`` and ``extra`` (endpoints) name."""
    named = set()

    def chain(verdict):
        if verdict:
            named.update(fp for key in ("leaf", "issuer") if verdict.get(key) for fp in [verdict[key]])
            for key in ("extra", "duplicates", "path"):
                named.update(verdict.get(key) or ())

    served_records = list(extra)
    for site in sites:
        named.add(site["configured"]["leaf"])
        chain(site["configured"]["chain"])
        served_records.extend(site["served"].values())
    for served in served_records:
        for verdict in served["verdicts"]:
            named.update(verdict["presented"])
            chain(verdict["chain"])
    named.discard(None)
    return named


# --------------------------------------------------------------------------------------------------------------
# reading the dict form (the controller: report, drift, remediation), never trusting it to be complete


def certificate_of(evidence: Dict[str, Any], fingerprint) -> Dict[str, Any]:
    """The certificate record for ``fingerprint`` in evidence in dict form ({} when absent)."""
    table = evidence.get("certificates") if isinstance(evidence, dict) else None
    if not isinstance(table, dict) or not isinstance(fingerprint, str):
        return {}
    found = table.get(fingerprint)
    return found if isinstance(found, dict) else {}


def configured_leaf(evidence: Dict[str, Any], site: Dict[str, Any]) -> Dict[str, Any]:
    """The certificate record of the leaf a site's configuration deploys ({} when it was not read)."""
    configured = site.get("configured") if isinstance(site, dict) else None
    return certificate_of(evidence, configured.get("leaf")) if isinstance(configured, dict) else {}


def presented_fingerprints(served: Dict[str, Any], protocol: str) -> List[str]:
    """The fingerprints a hostname presented with ``protocol`` (leaf first; [] when nothing), dict form."""
    handshake = (served.get("protocols") or {}).get(protocol) if isinstance(served, dict) else None
    verdicts = served.get("verdicts") if isinstance(served, dict) else None
    if not isinstance(handshake, dict) or not isinstance(verdicts, list):
        return []
    index = handshake.get("verdict")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(verdicts):
        return []
    verdict = verdicts[index]
    presented = verdict.get("presented") if isinstance(verdict, dict) else None
    return [fp for fp in presented or [] if isinstance(fp, str)] if isinstance(presented, list) else []
