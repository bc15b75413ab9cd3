# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Forged, replayed and tampered staples are never called good (issue #8, part 6).

Each case is a staple an attacker on the path, a broken or malicious responder, or a careless operator could
put in front of a client. sslyze checks only the signature and ssl_exporter checks nothing; here every case
goes through three layers and each must refuse it for the right reason:

1. ``ocsp.validate_response`` with the leaf and its real issuer: not ``good``, and a problem sentence that
   names why;
2. the handshake path: OpenSSL ``s_server -status_file`` staples the bytes and ``tls_endpoint_info`` (run
   in-process) judges them: ``summary.staple_state`` is ``invalid`` or ``expired``;
3. the diagnosis, from node_audit-shaped evidence built around that module result: ``staple_invalid`` or
   ``staple_expired``, never a clean bill of health.

Two control cases keep the suite honest: the genuine staple is good through all three layers, and an authentic
two-status response that says our certificate is revoked is reported as revoked (valid, not good).
"""

from __future__ import annotations

import datetime
import shutil
from typing import Any, Callable, Dict, NamedTuple

import pytest
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.tlsfleet.stapling.plugins.module_utils import (
    diagnosis,
    endpoint,
    evidence,
    ocsp,
    tls_probe,
    x509,
)
from ansible_collections.tlsfleet.stapling.tests.unit.pki import Issued, Pki, make_key

HOST = "www.example.test"
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


class Forgery(NamedTuple):
    staple: bytes
    why: str  # a fragment of the problem sentence that names the reason
    state: str  # summary.staple_state
    finding: str  # the diagnosis code


@pytest.fixture
def world(pki: Pki) -> Dict[str, Any]:
    root, (inter,), leaf = pki.chain(kind="ec", depth=1)
    return {"pki": pki, "root": root, "inter": inter, "leaf": leaf}


def _gentime(value: datetime.datetime) -> bytes:
    return value.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ").encode("ascii")


def _flip(der: bytes, marker: bytes, offset: int, new: int) -> bytes:
    """``der`` with the byte at ``offset`` inside the single occurrence of ``marker`` set to ``new``."""
    assert der.count(marker) == 1, "the marker must identify one place in the response"
    position = der.index(marker) + offset
    return der[:position] + bytes([new]) + der[position + 1 :]


def _inside_tbs(der: bytes, original: bytes) -> None:
    """The flipped byte lies inside tbsResponseData, and the signature is untouched (a real tamper)."""
    before = x509_ocsp.load_der_ocsp_response(original)
    after = x509_ocsp.load_der_ocsp_response(der)
    assert before.signature == after.signature
    assert before.tbs_response_bytes != after.tbs_response_bytes
    assert len(before.tbs_response_bytes) == len(after.tbs_response_bytes)


def impostor_with_ca_name(pki: Pki, ca: Issued) -> Issued:
    """A self-signed certificate carrying the CA's exact subject, with a key the CA never saw."""
    return pki._build(ca.cert.subject, make_key("ec"), None, ca=True)


def f_unrelated_key_named_as_ca(w) -> Forgery:
    pki, inter, leaf = w["pki"], w["inter"], w["leaf"]
    impostor = impostor_with_ca_name(pki, inter)
    staple = pki.ocsp_response(leaf, inter, signer=impostor, responder_by="name")
    return Forgery(staple, "does not verify with the public key of the issuer", "invalid", "staple_invalid")


def f_unrelated_key_by_key_hash(w) -> Forgery:
    pki, inter, leaf = w["pki"], w["inter"], w["leaf"]
    impostor = impostor_with_ca_name(pki, inter)
    staple = pki.ocsp_response(leaf, inter, signer=impostor, responder_by="hash")
    return Forgery(
        staple, "it was not issued by '%s'" % x509.name_string(inter.cert.subject), "invalid", "staple_invalid"
    )


def f_delegated_without_ocsp_eku(w) -> Forgery:
    pki, inter, leaf = w["pki"], w["inter"], w["leaf"]
    signer = pki.ocsp_signer(inter, cn="tlsfleet Web Server Not Responder", eku=False)
    staple = pki.ocsp_response(leaf, inter, signer=signer)
    return Forgery(staple, "lacks the OCSP Signing extended key usage", "invalid", "staple_invalid")


def f_delegated_by_another_ca(w) -> Forgery:
    pki, root, inter, leaf = w["pki"], w["root"], w["inter"], w["leaf"]
    other = pki.intermediate(root, cn="tlsfleet Other CA")
    signer = pki.ocsp_signer(other, cn="tlsfleet Other CA OCSP")
    staple = pki.ocsp_response(leaf, inter, signer=signer)
    return Forgery(staple, "it was not issued by", "invalid", "staple_invalid")


def f_delegated_by_another_ca_with_the_same_name(w) -> Forgery:
    """The signer's issuer *name* matches ours; only the signature on the signer certificate tells them apart."""
    pki, root, inter, leaf = w["pki"], w["root"], w["inter"], w["leaf"]
    twin = pki.intermediate(root, cn=inter.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    assert twin.cert.subject == inter.cert.subject
    signer = pki.ocsp_signer(twin, cn="tlsfleet Twin OCSP", aki=False)
    assert signer.cert.issuer == inter.cert.subject
    staple = pki.ocsp_response(leaf, inter, signer=signer)
    return Forgery(staple, "it was not issued by", "invalid", "staple_invalid")


def f_right_ca_other_serial(w) -> Forgery:
    pki, inter = w["pki"], w["inter"]
    sibling = pki.leaf(inter, cn="other.example.test")
    staple = pki.ocsp_response(sibling, inter)
    return Forgery(
        staple,
        "the response is for serial %s" % x509.serial_hex(sibling.cert.serial_number),
        "invalid",
        "staple_invalid",
    )


def f_replayed_after_next_update(w) -> Forgery:
    pki, inter, leaf = w["pki"], w["inter"], w["leaf"]
    staple = pki.ocsp_response(leaf, inter, this_update=pki.now - 10 * DAY, next_update=pki.now - 3 * DAY)
    return Forgery(staple, "the response expired", "expired", "staple_expired")


def f_replayed_and_forged(w) -> Forgery:
    """Expired *and* forged: reported invalid, not merely expired (a refresh would not fix it)."""
    pki, inter, leaf = w["pki"], w["inter"], w["leaf"]
    staple = pki.ocsp_response(
        leaf, inter, signing_key=pki.root(cn="Evil").key, this_update=pki.now - 10 * DAY, next_update=pki.now - 3 * DAY
    )
    return Forgery(staple, "does not verify", "invalid", "staple_invalid")


def f_this_update_in_the_future(w) -> Forgery:
    pki, inter, leaf = w["pki"], w["inter"], w["leaf"]
    staple = pki.ocsp_response(leaf, inter, this_update=pki.now + 2 * HOUR, next_update=pki.now + 5 * DAY)
    return Forgery(staple, "the response is not valid yet", "invalid", "staple_invalid")


def f_right_serial_other_issuer_key(w) -> Forgery:
    """Signed by our CA, our serial, our issuer name, but the key hash of another key (e.g. before a re-key)."""
    pki, root, inter, leaf = w["pki"], w["root"], w["inter"], w["leaf"]
    rekeyed = pki.intermediate(root, cn=inter.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    staple = pki.ocsp_response(leaf, rekeyed, signer=inter, include_certs=[])
    return Forgery(staple, "names a different issuer", "invalid", "staple_invalid")


def f_tampered_next_update(w) -> Forgery:
    """A genuine response whose nextUpdate was pushed ten years out by changing one digit."""
    pki, inter, leaf = w["pki"], w["inter"], w["leaf"]
    this_update, next_update = pki.now - HOUR, pki.now + 3 * DAY
    original = pki.ocsp_response(leaf, inter, this_update=this_update, next_update=next_update)
    marker = b"\xa0\x11\x18\x0f" + _gentime(next_update)
    decade = original[original.index(marker) + 6]
    staple = _flip(original, marker, 6, ord("0") + (decade - ord("0") + 1) % 10)
    _inside_tbs(staple, original)
    return Forgery(staple, "does not verify with the public key of the issuer", "invalid", "staple_invalid")


def f_tampered_unknown_to_good(w) -> Forgery:
    """A genuine 'unknown' answer turned into 'good' by flipping one bit of the certStatus tag."""
    pki, inter, leaf = w["pki"], w["inter"], w["leaf"]
    this_update = pki.now - HOUR
    original = pki.ocsp_response(leaf, inter, status="unknown", this_update=this_update)
    staple = _flip(original, b"\x82\x00\x18\x0f" + _gentime(this_update), 0, 0x80)
    _inside_tbs(staple, original)
    assert x509_ocsp.load_der_ocsp_response(staple).certificate_status == x509_ocsp.OCSPCertStatus.GOOD
    return Forgery(staple, "does not verify with the public key of the issuer", "invalid", "staple_invalid")


def f_expired_responder_certificate(w) -> Forgery:
    pki, inter, leaf = w["pki"], w["inter"], w["leaf"]
    signer = pki.ocsp_signer(inter, not_before=pki.now - 40 * DAY, not_after=pki.now - 2 * DAY)
    staple = pki.ocsp_response(leaf, inter, signer=signer)
    return Forgery(staple, "is not valid at", "invalid", "staple_invalid")


def f_two_statuses_none_ours(w) -> Forgery:
    pki, inter = w["pki"], w["inter"]
    first, second = pki.leaf(inter, cn="a.example.test"), pki.leaf(inter, cn="b.example.test")
    staple = pki.ocsp_multi_response([(first, "good"), (second, "good")], inter)
    return Forgery(staple, "none of the 2 certificate statuses", "invalid", "staple_invalid")


FORGERIES: Dict[str, Callable[[Dict[str, Any]], Forgery]] = {
    "unrelated key, responder ID is the CA's name": f_unrelated_key_named_as_ca,
    "unrelated key, self-signed cert with the CA's name": f_unrelated_key_by_key_hash,
    "delegated signer without id-kp-OCSPSigning": f_delegated_without_ocsp_eku,
    "delegated signer with the EKU from another CA": f_delegated_by_another_ca,
    "delegated signer from another CA with our CA's name": f_delegated_by_another_ca_with_the_same_name,
    "right CA, another serial": f_right_ca_other_serial,
    "replayed after nextUpdate": f_replayed_after_next_update,
    "replayed after nextUpdate and forged": f_replayed_and_forged,
    "thisUpdate beyond the clock skew": f_this_update_in_the_future,
    "right serial, another issuer key hash": f_right_serial_other_issuer_key,
    "tampered nextUpdate": f_tampered_next_update,
    "tampered certStatus unknown to good": f_tampered_unknown_to_good,
    "expired responder certificate": f_expired_responder_certificate,
    "two statuses, none ours": f_two_statuses_none_ours,
}

# ---------------------------------------------------------------------------------------------------------
# layer 1: the library


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_validate_response_never_calls_a_forgery_good(world, name):
    forged = FORGERIES[name](world)
    verdict = ocsp.validate_response(forged.staple, world["leaf"].cert, world["inter"].cert, source="the staple")
    assert verdict.response_status == "successful"
    assert not verdict.good
    assert not verdict.valid
    assert any(forged.why in problem for problem in verdict.problems), verdict.problems
    # each problem is a sentence for people, never a Python repr
    assert all(problem.endswith(".") and "Traceback" not in problem for problem in verdict.problems)


def test_controls_genuine_staple_is_good(world):
    """If this failed, every test above could pass for the wrong reason."""
    pki, inter, leaf = world["pki"], world["inter"], world["leaf"]
    for signer in (inter, pki.ocsp_signer(inter)):
        verdict = ocsp.validate_response(pki.ocsp_response(leaf, inter, signer=signer), leaf.cert, inter.cert)
        assert verdict.good and verdict.problems == []


def test_the_flip_helpers_alone_leave_a_valid_response(world):
    """The tamper cases fail because bytes changed, not because the markers broke the response."""
    pki, inter, leaf = world["pki"], world["inter"], world["leaf"]
    this_update = pki.now - HOUR
    genuine = pki.ocsp_response(leaf, inter, status="unknown", this_update=this_update)
    same = _flip(genuine, b"\x82\x00\x18\x0f" + _gentime(this_update), 0, 0x82)
    assert same == genuine
    verdict = ocsp.validate_response(same, leaf.cert, inter.cert)
    assert verdict.valid and verdict.cert_status == "unknown"


def test_two_statuses_one_good_for_another_serial_one_revoked_for_ours(world):
    """An authentic response is read for *our* serial: revoked wins over the other certificate's good."""
    pki, inter, leaf = world["pki"], world["inter"], world["leaf"]
    other = pki.leaf(inter, cn="other.example.test")
    staple = pki.ocsp_multi_response([(other, "good"), (leaf, "revoked")], inter)
    verdict = ocsp.validate_response(staple, leaf.cert, inter.cert)
    assert verdict.single_responses == 2
    assert verdict.valid and not verdict.good
    assert verdict.cert_status == "revoked"
    assert any("revoked since" in p for p in verdict.problems)
    report = endpoint.judge_handshake(_handshake(world, staple))
    assert endpoint.staple_state(report) == "revoked"


def test_a_signer_authorized_by_another_ca_does_not_become_the_issuer(world):
    """The delegated-signer checks read the signer certificate, not what it claims (name, EKU)."""
    forged = f_delegated_by_another_ca_with_the_same_name(world)
    verdict = ocsp.validate_response(forged.staple, world["leaf"].cert, world["inter"].cert)
    assert verdict.signature_valid  # the response is well signed by its (unauthorized) signer
    assert verdict.signer_authorized is False and verdict.signer == ocsp.SIGNER_UNKNOWN
    assert ExtendedKeyUsageOID.OCSP_SIGNING in x509.extended_key_usages(
        x509_ocsp.load_der_ocsp_response(forged.staple).certificates[0]
    )


# ---------------------------------------------------------------------------------------------------------
# layer 2 without a server: endpoint.judge_handshake / summarize


def _handshake(world, staple, protocol="TLSv1.3"):
    return tls_probe.Handshake(
        protocol_requested=protocol,
        ok=True,
        protocol=protocol,
        chain_der=[world["leaf"].der, world["inter"].der],
        staple=staple,
    )


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_endpoint_summary_never_says_good(world, name):
    forged = FORGERIES[name](world)
    probe = tls_probe.EndpointProbe(endpoint=tls_probe.Endpoint("127.0.0.1", 443, HOST))
    probe.handshakes = {
        "TLSv1.3": _handshake(world, forged.staple),
        "TLSv1.2": _handshake(world, forged.staple, "TLSv1.2"),
    }
    judged = endpoint.judge_probe(probe, anchors=[world["root"].cert])
    assert judged["summary"]["staple_state"] == forged.state
    assert set(judged["summary"]["staple_states"].values()) == {forged.state}


# ---------------------------------------------------------------------------------------------------------
# layer 2 and 3 through a real handshake: s_server staples it, tls_endpoint_info judges it, diagnosis names it


def _evidence(world, served: Dict[str, Any]) -> evidence.Evidence:
    """node_audit's evidence around what tls_endpoint_info reported for HOST, built through its records."""
    leaf = world["leaf"]
    url = x509.ocsp_urls(leaf.cert)[0]
    certificates = evidence.Certificates()
    site = evidence.Site(
        key="nginx:/etc/nginx/site.conf:1#0",
        server="nginx",
        server_version="1.22.1",
        site="nginx:/etc/nginx/site.conf:1",
        source="/etc/nginx/site.conf:1",
        hostnames=[HOST],
        endpoint=evidence.Endpoint(host="127.0.0.1", port=served["port"]),
        stapling={"ssl_stapling": True, "ssl_stapling_verify": False, "resolver": ["198.18.0.2"]},
        configured=evidence.Configured(
            certificate_file="/etc/tls/www.pem",
            key_file="/etc/tls/www.key",
            leaf=certificates.add(x509.describe(leaf.cert).to_dict()),
            key_matches=True,
        ),
        served={HOST: evidence.Served.from_report(served, certificates)},
    )
    return evidence.Evidence(
        node={"checked_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
        certificates=certificates,
        sites=[site],
        responders={url: {"url": url, "reachable": True, "failed_stage": None, "ocsp": None}},
    )


def _serve_and_probe(world, staple: bytes, tmp_path, capsys, monkeypatch) -> Dict[str, Any]:
    pytest.importorskip("OpenSSL")
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    from ansible_collections.tlsfleet.stapling.plugins.modules import tls_endpoint_info
    from ansible_collections.tlsfleet.stapling.tests.unit import modrun, tlsserver

    site = tlsserver.write_site(tmp_path, world["leaf"], world["inter"], staple)
    (tmp_path / "root.pem").write_bytes(world["root"].pem)
    servers = tlsserver.SServer(site)
    try:
        port = servers.start("-status_file", str(tmp_path / "staple.der"))
        args = {"port": port, "server_names": [HOST], "trust_anchor_paths": [str(tmp_path / "root.pem")]}
        result, raw = modrun.run_module(tls_endpoint_info.main, args, capsys, monkeypatch)
    finally:
        servers.stop()
    assert not result.get("failed"), result.get("msg")
    assert "Traceback" not in raw
    (served,) = result["endpoints"]
    assert served["reachable"] is True
    return served


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_served_forgery_is_flagged_by_the_module_and_the_diagnosis(world, name, tmp_path, capsys, monkeypatch):
    forged = FORGERIES[name](world)
    served = _serve_and_probe(world, forged.staple, tmp_path, capsys, monkeypatch)
    assert served["summary"]["staple_state"] == forged.state
    for key in ("tls1_3", "tls1_2"):
        report = served["protocols"][key]
        assert report["staple_present"] is True
        assert report["chain"]["anchored"] is True  # the chain is fine: only the staple is at fault
        staple = report["staple"]
        assert staple is not None and staple["good"] is False and staple["valid"] is False
        assert any(forged.why in problem for problem in staple["problems"]), staple["problems"]

    findings = diagnosis.diagnose(_evidence(world, served))
    found = {f["code"]: f for f in findings}
    assert forged.finding in found, findings
    assert not {"staple_missing", "cert_revoked"} & set(found)
    evidence_text = " ".join(found[forged.finding]["evidence"])
    if forged.finding == "staple_invalid":
        assert forged.why in evidence_text  # the finding carries the reason, not just the verdict


def test_served_genuine_staple_is_good_everywhere(world, tmp_path, capsys, monkeypatch):
    """Control for the test above: same server, same module, same diagnosis, a genuine staple."""
    staple = world["pki"].ocsp_response(world["leaf"], world["inter"])
    served = _serve_and_probe(world, staple, tmp_path, capsys, monkeypatch)
    assert served["summary"]["staple_state"] == "good"
    assert diagnosis.diagnose(_evidence(world, served)) == []


def test_served_two_statuses_with_ours_revoked_is_revoked(world, tmp_path, capsys, monkeypatch):
    pki, inter, leaf = world["pki"], world["inter"], world["leaf"]
    other = pki.leaf(inter, cn="other.example.test")
    staple = pki.ocsp_multi_response([(other, "good"), (leaf, "revoked")], inter)
    served = _serve_and_probe(world, staple, tmp_path, capsys, monkeypatch)
    assert served["summary"]["staple_state"] == "revoked"
    codes = [f["code"] for f in diagnosis.diagnose(_evidence(world, served))]
    assert codes == ["cert_revoked"]
