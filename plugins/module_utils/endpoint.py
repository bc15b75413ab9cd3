# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Judge what an endpoint served: its chain (chain.py) and its staple (ocsp.py), per protocol.

tls_probe.py only moves bytes. This layer turns each handshake into a JSON-safe report: the presented chain
described certificate by certificate, the chain verdicts, and the staple validated in full against the
leaf and its issuer (taken from what the server presented, else from a pool of certificates the caller
knows, such as the server's configured chain file). A staple that cannot be validated is never called good.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.tlsfleet.stapling.plugins.module_utils import chain, ocsp, tls_probe, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError


def _load_chain(handshake: tls_probe.Handshake) -> List[Any]:
    certs = []
    for index, der in enumerate(handshake.chain_der):
        certs.extend(x509.load_certificates(der, "certificate %d presented by the server" % (index + 1)))
    return certs


def leaf_of(handshake: tls_probe.Handshake):
    """The presented leaf certificate, or None when the handshake presented nothing usable."""
    if not handshake.chain_der:
        return None
    try:
        return x509.load_certificates(handshake.chain_der[0], "the presented leaf certificate")[0]
    except InputError:
        return None


def wants_staple(handshake: tls_probe.Handshake) -> bool:
    """Warm-up only makes sense when the leaf names a responder: otherwise no staple can ever come."""
    leaf = leaf_of(handshake)
    return leaf is not None and bool(x509.ocsp_urls(leaf))


def judge_handshake(
    handshake: tls_probe.Handshake,
    pool: Sequence[Any] = (),
    anchors: Sequence[Any] = (),
    at=None,
    skew_seconds: int = ocsp.DEFAULT_SKEW_SECONDS,
    _seen: Optional[Dict[Any, Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """The report for one handshake: summary, presented chain, chain verdicts, staple verdict.

    ``_seen`` lets judge_probe share the verdicts between protocols that presented the same chain and staple
    (the usual case: TLS 1.2 and 1.3 get the same certificates and the same cached response).
    """
    report: Dict[str, Any] = handshake.summary()
    report.update({"presented": [], "chain": None, "staple": None, "staple_error": None})
    if not handshake.ok:
        return report
    key = (tuple(handshake.chain_der or ()), handshake.staple)
    if _seen is not None and key in _seen:
        report.update(_seen[key])
        return report
    verdicts = _judge_material(handshake, pool, anchors, at, skew_seconds)
    if _seen is not None:
        _seen[key] = verdicts
    report.update(verdicts)
    return report


def _judge_material(handshake, pool, anchors, at, skew_seconds) -> Dict[str, Any]:
    """The verdicts on what a handshake presented and stapled (nothing protocol-specific)."""
    out: Dict[str, Any] = {}
    try:
        presented = _load_chain(handshake)
    except InputError as exc:
        out["chain_error"] = str(exc)
        return out
    if not presented:
        out["chain_error"] = "the server presented no certificate"
        return out
    out["presented"] = [x509.describe(cert).to_dict() for cert in presented]
    chain_report = chain.analyze_chain(presented, pool=pool, anchors=anchors, at=at)
    out["chain"] = chain_report.to_dict()
    if handshake.staple is None:
        return out
    issuer = chain_report.issuer_certificate
    if issuer is None:
        out["staple_error"] = (
            "the staple cannot be validated: the issuer of %s was neither presented nor found in the certificate "
            "pool" % chain_report.leaf.subject
        )
        return out
    try:
        verdict = ocsp.validate_response(
            handshake.staple, presented[0], issuer, at=at, skew_seconds=skew_seconds, source="the stapled response"
        )
    except InputError as exc:
        out["staple_error"] = str(exc)
        return out
    out["staple"] = verdict.to_dict()
    return out


def protocol_key(protocol: str) -> str:
    """``TLSv1.3`` -> ``tls1_3``: result keys must work with dots in Jinja and jmespath queries."""
    return protocol.lower().replace("v", "").replace(".", "_")


def judge_probe(
    probe: tls_probe.EndpointProbe,
    pool: Sequence[Any] = (),
    anchors: Sequence[Any] = (),
    at=None,
    skew_seconds: int = ocsp.DEFAULT_SKEW_SECONDS,
) -> Dict[str, Any]:
    """The report for one endpoint: every protocol's handshake judged, plus what is common to them."""
    endpoint = probe.endpoint
    protocols = {}
    at = at or x509.utc_now()  # one moment for every protocol, so their shared verdicts agree
    seen: Dict[Any, Dict[str, Any]] = {}
    for protocol, handshake in probe.handshakes.items():
        judged = judge_handshake(handshake, pool=pool, anchors=anchors, at=at, skew_seconds=skew_seconds, _seen=seen)
        judged["handshakes_made"] = probe.attempts.get(protocol, 1)
        protocols[protocol_key(protocol)] = judged
    reachable = any(p["ok"] for p in protocols.values())
    leaves = {p["presented"][0]["sha256"] for p in protocols.values() if p.get("presented")}
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "server_name": endpoint.server_name,
        "label": endpoint.label,
        "reachable": reachable,
        "warmup_used": probe.warmup_used,
        "leaf_sha256": sorted(leaves)[0] if len(leaves) == 1 else None,
        "same_leaf_for_all_protocols": len(leaves) <= 1,
        "protocols": protocols,
        "summary": summarize(protocols),
    }


def summarize(protocols: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """One line per endpoint for people and for jmespath queries: the worst of the protocols."""
    states: List[str] = []
    seconds_left: Optional[int] = None
    for report in protocols.values():
        states.append(staple_state(report))
        staple = report.get("staple") or {}
        left = staple.get("seconds_until_next_update")
        if left is not None and (seconds_left is None or left < seconds_left):
            seconds_left = left
    order = ["unreachable", "invalid", "expired", "revoked", "unknown", "none", "good"]
    worst = min(states, key=order.index) if states else "unreachable"
    return {"staple_state": worst, "staple_states": dict(zip(protocols, states)), "seconds_left": seconds_left}


def staple_state(report: Dict[str, Any]) -> str:
    """none / good / revoked / unknown / expired / invalid, or unreachable when the handshake failed."""
    if not report.get("ok"):
        return "unreachable"
    if not report.get("staple_present"):
        return "none"
    staple = report.get("staple")
    if staple is None:
        return "invalid"
    if staple.get("valid"):
        return {"good": "good", "revoked": "revoked"}.get(staple.get("cert_status"), "unknown")
    left = staple.get("seconds_until_next_update")
    only_time_failed = (
        staple.get("signature_valid") and staple.get("cert_id_matches") and staple.get("signer_authorized")
    )
    if only_time_failed and left is not None and left < 0:
        return "expired"
    return "invalid"
