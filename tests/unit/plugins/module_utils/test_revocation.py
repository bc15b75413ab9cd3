# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Revocation where OCSP is gone, end to end on one node: audit.gather() downloads the CRL from a real HTTP server on
loopback, the evidence describes each CRL once, the diagnosis names cert_revoked (source CRL) and the crl_* codes,
and the controller's validation bounds what a node says about CRLs."""

from __future__ import annotations

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from cryptography import x509 as cx509

from ansible_collections.tlsfleet.stapling.plugins.module_utils import audit, diagnosis, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import node_result as nr
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.fake_node import FakeNode


class CrlHandler(BaseHTTPRequestHandler):
    body = b""
    status = 200
    seen: ClassVar[list] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.seen.append(self.path)
        self.send_response(self.status)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture
def crl_url():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CrlHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    CrlHandler.seen, CrlHandler.status, CrlHandler.body = [], 200, b""
    yield "http://127.0.0.1:%d/int.crl" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def node(pki, tmp_path, monkeypatch, url, ocsp=False):
    """Two sites whose certificates name the same CRL; without an OCSP URL unless ``ocsp``."""
    kw = {"crl_urls": [url]}
    if not ocsp:
        kw["ocsp_urls"] = []
    fake = FakeNode(pki, tmp_path, monkeypatch, [["www.crl.test"], ["api.crl.test"]], staple=ocsp, leaf_kw=kw)
    monkeypatch.setattr(audit, "_now", lambda: datetime.datetime.now(datetime.timezone.utc))
    return fake


def gather(fake, **kw):
    ev = fake.gather(use_proxy=False, **kw)
    return ev, diagnosis.diagnose(ev.to_dict())


def by_code(findings, code):
    return [f for f in findings if f["code"] == code]


def test_a_revoked_serial_in_the_crl_is_cert_revoked_with_source_crl(pki, tmp_path, monkeypatch, crl_url):
    fake = node(pki, tmp_path, monkeypatch, crl_url)
    revoked = fake.leaves["www.crl.test"]
    CrlHandler.body = pki.crl(fake.inter, revoked=[revoked])
    ev, found = gather(fake)
    assert CrlHandler.seen == ["/int.crl"]  # one download for the two certificates naming it
    record = ev.crls[crl_url]
    assert set(record["certificates"]) == {x509.fingerprint(leaf.cert) for leaf in fake.leaves.values()}
    hits = by_code(found, "cert_revoked")
    assert [f["hostname"] for f in hits] == ["www.crl.test"]
    assert hits[0]["details"]["source"] == "crl" and "source: CRL" in hits[0]["evidence"][0]
    assert hits[0]["severity"] == "critical"
    assert x509.serial_hex(revoked.cert.serial_number) in hits[0]["evidence"][0]
    assert not [f for f in found if f["code"].startswith("crl_")]


def test_a_good_current_crl_says_nothing(pki, tmp_path, monkeypatch, crl_url):
    fake = node(pki, tmp_path, monkeypatch, crl_url)
    CrlHandler.body = pki.crl(fake.inter, revoked=[0x42])
    ev, found = gather(fake)
    assert ev.crls[crl_url]["valid"] and ev.crls[crl_url]["fresh"]
    assert not [f for f in found if f["code"] == "cert_revoked" or f["code"].startswith("crl_")]


@pytest.mark.parametrize(
    ("setup", "code", "stage"),
    [
        ("404", "crl_unreachable", "http"),
        ("stale", "crl_stale", None),
        ("no_next_update", "crl_stale", None),
        ("delta", "crl_invalid", None),
        ("wrong_signer", "crl_invalid", None),
        ("html", "crl_invalid", None),
    ],
)
def test_an_unusable_crl_gets_its_code_as_a_warning(pki, tmp_path, monkeypatch, crl_url, setup, code, stage):
    fake = node(pki, tmp_path, monkeypatch, crl_url)
    now = pki.now
    if setup == "404":
        CrlHandler.status = 404
    elif setup == "stale":
        CrlHandler.body = pki.crl(
            fake.inter, this_update=now - datetime.timedelta(days=8), next_update=now - datetime.timedelta(days=1)
        )
    elif setup == "no_next_update":
        CrlHandler.body = pki.crl_without_next_update(fake.inter, now - datetime.timedelta(days=30))
    elif setup == "delta":
        CrlHandler.body = pki.crl(fake.inter, extensions=[(cx509.DeltaCRLIndicator(3), True)])
    elif setup == "wrong_signer":
        CrlHandler.body = pki.crl(fake.inter, signing_key=pki.root(cn="Rogue").key)
    else:
        CrlHandler.body = b"<html>moved</html>"
    _ev, found = gather(fake)
    hits = by_code(found, code)
    assert sorted(f["hostname"] for f in hits) == ["api.crl.test", "www.crl.test"]
    assert {f["severity"] for f in hits} == {"warning"}
    assert hits[0]["details"].get("stage") == stage
    assert crl_url in hits[0]["evidence"][0]
    assert not by_code(found, "cert_revoked")
    if setup == "no_next_update":
        assert "nextUpdate absent" in hits[0]["evidence"][0] and "no nextUpdate" in hits[0]["evidence"][1]
    if setup == "delta":
        assert "the CRL is a delta CRL" in hits[0]["evidence"][1]


def test_a_closed_port_is_crl_unreachable_at_connect(pki, tmp_path, monkeypatch, closed_port):
    url = "http://127.0.0.1:%d/int.crl" % closed_port
    fake = node(pki, tmp_path, monkeypatch, url)
    _ev, found = gather(fake, responder_timeout=2)
    hits = by_code(found, "crl_unreachable")
    assert hits and hits[0]["details"]["stage"] == "connect"


def test_with_a_working_responder_the_crl_is_not_fetched(pki, tmp_path, monkeypatch, crl_url):
    fake = node(pki, tmp_path, monkeypatch, crl_url, ocsp=True)
    CrlHandler.body = pki.crl(fake.inter, revoked=list(fake.leaves.values()))
    ev, found = gather(fake)
    assert CrlHandler.seen == [] and ev.crls == {}
    assert "crls" not in ev.to_dict()  # an optional key: nodes without CRLs send what they always sent
    assert not by_code(found, "cert_revoked")


def test_when_every_responder_fails_the_crl_says_revoked(pki, tmp_path, monkeypatch, crl_url):
    fake = node(pki, tmp_path, monkeypatch, crl_url, ocsp=True)
    fake.staple = False
    failing = {"reachable": False, "failed_stage": "connect", "error": "connection refused", "ocsp": None}
    monkeypatch.setattr(audit, "_check_responder", lambda url, cert, issuer, settings: dict(failing, url=url))
    CrlHandler.body = pki.crl(fake.inter, revoked=[fake.leaves["api.crl.test"]])
    _ev, found = gather(fake)
    assert CrlHandler.seen == ["/int.crl"]
    assert [f["hostname"] for f in by_code(found, "cert_revoked")] == ["api.crl.test"]
    assert by_code(found, "responder_unreachable")
    # with OCSP named, the CRL is a fallback for revocation only: its own trouble is no finding
    CrlHandler.status, CrlHandler.seen = 404, []
    _ev, found = gather(fake)
    assert CrlHandler.seen == ["/int.crl"] and not [f for f in found if f["code"].startswith("crl_")]


def test_a_crl_fetched_for_a_certificate_without_ocsp_also_judges_one_whose_responders_fail(
    pki, tmp_path, monkeypatch, crl_url
):
    """Both certificates name one CRL: it is fetched for the one without an OCSP URL before the responders answer;
    when the other's responders all fail, the same CRL (its body kept, not fetched again) says it is revoked."""
    fake = FakeNode(
        pki,
        tmp_path,
        monkeypatch,
        [["www.crl.test"], ["api.crl.test"]],
        staple=False,
        leaf_kw=[{"crl_urls": [crl_url], "ocsp_urls": []}, {"crl_urls": [crl_url]}],
    )
    monkeypatch.setattr(audit, "_now", lambda: datetime.datetime.now(datetime.timezone.utc))
    failing = {"reachable": False, "failed_stage": "connect", "error": "connection refused", "ocsp": None}
    monkeypatch.setattr(audit, "_check_responder", lambda url, cert, issuer, settings: dict(failing, url=url))
    CrlHandler.body = pki.crl(fake.inter, revoked=[fake.leaves["api.crl.test"]])
    ev, found = gather(fake)
    assert CrlHandler.seen == ["/int.crl"]
    assert set(ev.crls[crl_url]["certificates"]) == {x509.fingerprint(leaf.cert) for leaf in fake.leaves.values()}
    assert [f["hostname"] for f in by_code(found, "cert_revoked")] == ["api.crl.test"]


def test_crl_check_off_fetches_nothing(pki, tmp_path, monkeypatch, crl_url):
    fake = node(pki, tmp_path, monkeypatch, crl_url)
    CrlHandler.body = pki.crl(fake.inter, revoked=list(fake.leaves.values()))
    ev, found = gather(fake, crl_check=False)
    assert CrlHandler.seen == [] and ev.crls == {} and not by_code(found, "cert_revoked")


def test_compact_evidence_keeps_what_the_diagnosis_reads(pki, tmp_path, monkeypatch, crl_url):
    fake = node(pki, tmp_path, monkeypatch, crl_url)
    CrlHandler.body = pki.crl(fake.inter, revoked=[fake.leaves["www.crl.test"]])
    ev, found = gather(fake)
    compact = json.loads(json.dumps(ev.to_dict()))
    record = compact["crls"][crl_url]
    assert "total_ms" not in record and "dns" not in record and "addresses" not in record
    assert "total_ms" in ev.to_dict("full")["crls"][crl_url]
    assert diagnosis.diagnose(compact) == found
    assert diagnosis.diagnose(records.Evidence.from_dict(compact)) == found


# ------------------------------------------------------------------------------------------------------------
# the controller's check of what a node says about CRLs


def result_with(crls):
    return {"findings": [], "evidence": {"version": records.VERSION, "crls": crls}}


GOOD_RECORD = {
    "url": "http://crl.example.test/1.crl",
    "reachable": True,
    "failed_stage": None,
    "error": None,
    "valid": True,
    "fresh": True,
    "this_update": "2026-12-01T00:00:00Z",
    "next_update": "2026-12-08T00:00:00Z",
    "seconds_until_next_update": 500000,
    "revoked_count": 3,
    "problems": [],
    "certificates": {"ab" * 32: {"serial": "0abc", "revoked": True, "revocation_time": None, "reason": "superseded"}},
}


def test_a_plain_crl_record_passes_the_controllers_check():
    clean, problem = nr.validate_node_result("n", result_with({GOOD_RECORD["url"]: GOOD_RECORD}))
    assert problem is None and clean["evidence"]["crls"][GOOD_RECORD["url"]] == GOOD_RECORD


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failed_stage", "teleport"),
        ("failed_stage", "crl\n"),
        ("valid", "yes"),
        ("revoked_count", -1),
        ("seconds_until_next_update", 10**12),
        ("this_update", "yesterday"),
        ("this_update", "2026-02-30T00:00:00Z"),
        ("next_update", "2026-12-08T25:00:00Z"),
        ("problems", ["x"] * 65),
        ("problems", ["x" * 5000]),
        ("certificates", ["not", "a", "table"]),
        ("url", "x" * 5000),
        ("seconds_until_next_update", float("nan")),
    ],
)
def test_a_lying_crl_record_is_left_out_and_the_rest_of_the_node_kept(field, value):
    """One odd CRL record costs that record, not the node: the rest is kept and evidence.errors names the field."""
    record = dict(GOOD_RECORD, **{field: value})
    other = dict(GOOD_RECORD, url="http://crl.example.test/2.crl")
    clean, problem = nr.validate_node_result("n", result_with({"http://bad/1.crl": record, other["url"]: other}))
    assert problem is None
    assert clean["evidence"]["crls"] == {other["url"]: other}
    (note,) = clean["evidence"]["errors"]
    assert note.startswith("the controller left out evidence.crls['http://bad/1.crl']: ")
    assert "evidence.crls['http://bad/1.crl'].%s" % field in note


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"revoked": "no"}, "revoked"),
        ({"serial": "<script>"}, "serial"),
        ({"serial": "1" * 81}, "serial"),
        ({"reason": "Key Compromise; rm -rf"}, "reason"),
        ({"revocation_time": "9999-12-32T00:00:00Z"}, "revocation_time"),
    ],
)
def test_a_lying_certificate_entry_is_left_out_alone(entry, field):
    """One odd entry of a CRL's certificate table costs that entry only; the CRL record and its other entries stay."""
    good = GOOD_RECORD["certificates"]["ab" * 32]
    record = dict(GOOD_RECORD, certificates={"ab" * 32: good, "12" * 32: dict(good, **entry)})
    errors = ["an error of the node's own"]
    result = result_with({GOOD_RECORD["url"]: record})
    result["evidence"]["errors"] = errors
    clean, problem = nr.validate_node_result("n", result)
    assert problem is None
    assert clean["evidence"]["crls"][GOOD_RECORD["url"]] == dict(GOOD_RECORD, certificates={"ab" * 32: good})
    where = "evidence.crls['%s'].certificates['%s']" % (GOOD_RECORD["url"], "12" * 32)
    assert clean["evidence"]["errors"][0] == "an error of the node's own"
    assert clean["evidence"]["errors"][1].startswith("the controller left out %s: %s.%s " % (where, where, field))
    assert errors == ["an error of the node's own"] and len(record["certificates"]) == 2  # the input is unchanged


@pytest.mark.parametrize(
    "serial",
    [
        "01",
        "-01",  # negative: not RFC 5280, but real CAs issued them
        "00" + "ff" * 19,  # 20 octets, the RFC 5280 limit
        "7f" * 40,  # 40 octets: non-conforming, seen in the wild
        "-" + "7f" * 40,
    ],
)
def test_real_world_serials_are_accepted(serial):
    record = dict(GOOD_RECORD, certificates={"ab" * 32: {"serial": serial, "revoked": False}})
    clean, problem = nr.validate_node_result("n", result_with({GOOD_RECORD["url"]: record}))
    assert problem is None and clean["evidence"]["crls"][GOOD_RECORD["url"]] == record
    assert not clean["evidence"].get("errors")


def test_a_crl_that_never_expires_is_accepted():
    """nextUpdate 99991231235959Z (RFC 5280's "no expiry" value) and its seconds until then are real values."""
    until = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)
    seconds = int((until - datetime.datetime.now(datetime.timezone.utc)).total_seconds())
    record = dict(GOOD_RECORD, next_update="9999-12-31T23:59:59Z", seconds_until_next_update=seconds)
    record["certificates"] = {"ab" * 32: {"serial": "0abc", "revoked": True, "revocation_time": "0001-01-01T00:00:00Z"}}
    clean, problem = nr.validate_node_result("n", result_with({GOOD_RECORD["url"]: record}))
    assert problem is None and clean["evidence"]["crls"][GOOD_RECORD["url"]] == record
    assert not clean["evidence"].get("errors")


def test_a_staple_valid_until_9999_is_accepted():
    summary = {"staple_state": "good", "seconds_left": 250_000_000_000}
    result = {
        "findings": [],
        "evidence": {"version": records.VERSION, "sites": [{"served": {"a.test": {"summary": summary}}}]},
    }
    clean, problem = nr.validate_node_result("n", result)
    assert problem is None and clean == result


def test_a_global_limit_inside_a_record_still_refuses_the_node(monkeypatch):
    """Leaving a record out is for an odd record, not for a node that exceeds the limits of the whole result."""
    monkeypatch.setattr(nr, "MAX_TEXT", 1000)
    record = dict(GOOD_RECORD, problems=["x" * 900, "y" * 900])
    clean, problem = nr.validate_node_result("n", result_with({GOOD_RECORD["url"]: record}))
    assert clean is None and "more than 1000 characters of text" in problem


def test_too_many_crls_are_refused():
    many = {"http://c/%d" % i: {} for i in range(nr.MAX_SITES + 1)}
    clean, problem = nr.validate_node_result("n", result_with(many))
    assert clean is None and "crls" in problem


def test_a_cross_signed_copy_of_the_issuer_shares_the_crl(pki):
    """Issuers match by subject and public key, not by certificate: a cross-signed copy of the intermediate (same
    name, same key, another certificate) is the same CRL issuer, so its certificates are looked up too."""
    from types import SimpleNamespace

    root, other_root = pki.root(), pki.root(cn="Other Root")
    inter = pki.intermediate(root)
    cross = pki._build(inter.cert.subject, inter.key, other_root, ca=True)
    assert cross.cert != inter.cert and x509.fingerprint(cross.cert) != x509.fingerprint(inter.cert)
    url = "http://crl.example.test/int.crl"
    leaves = [pki.leaf(inter, cn="%s.example.test" % name, ocsp_urls=[], crl_urls=[url]) for name in ("a", "b")]
    stranger = pki.intermediate(root)  # same name, another key: not the same issuer
    third = pki.leaf(stranger, cn="c.example.test", ocsp_urls=[], crl_urls=[url])
    units = [
        SimpleNamespace(leaf=leaves[0].cert, issuer=inter.cert),
        SimpleNamespace(leaf=leaves[1].cert, issuer=cross.cert),
        SimpleNamespace(leaf=third.cert, issuer=stranger.cert),
    ]
    jobs = audit._crl_jobs(units, audit.Settings())
    issuer, certs = jobs[url]
    assert issuer is inter.cert
    assert certs == [leaves[0].cert, leaves[1].cert]


def test_many_lying_records_cost_a_bounded_note_and_too_many_refuse_the_node():
    """Each record left out is named up to MAX_NOTES, one line counts the rest, and evidence.errors stays within
    its limit; past MAX_DROPPED records left out the node is refused (review: a node flooding bad entries)."""
    good = GOOD_RECORD["certificates"]["ab" * 32]
    bad = {"%064x" % n: dict(good, serial="Z") for n in range(nr.MAX_NOTES + 5)}
    record = dict(GOOD_RECORD, certificates={"ab" * 32: good, **bad})
    result = result_with({GOOD_RECORD["url"]: record})
    result["evidence"]["errors"] = ["own"] * nr.MAX_ITEMS
    clean, problem = nr.validate_node_result("n", result)
    assert problem is None
    errors = clean["evidence"]["errors"]
    assert len(errors) == nr.MAX_ITEMS
    assert errors[-1] == "the controller left out 5 more records that break the schema"
    assert sum(1 for e in errors if e.startswith("the controller left out evidence.crls")) == nr.MAX_NOTES
    flood = {"%064x" % n: dict(good, serial="Z") for n in range(nr.MAX_DROPPED + 1)}
    result = result_with({GOOD_RECORD["url"]: dict(GOOD_RECORD, certificates=flood)})
    clean, problem = nr.validate_node_result("n", result)
    assert clean is None and "serial" in problem
