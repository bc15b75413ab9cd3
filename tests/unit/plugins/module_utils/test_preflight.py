# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight judge (plugins/module_utils/preflight.py) over constructed evidence: each check and each verdict."""

from __future__ import annotations

import datetime
import json

import pytest
import yaml

from ansible_collections.tlsfleet.stapling.plugins.doc_fragments.options import ModuleDocFragment
from ansible_collections.tlsfleet.stapling.plugins.module_utils import argspec, preflight, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import node_result
from ansible_collections.tlsfleet.stapling.tests.unit.pki import _name

URL = "http://ocsp.example.test/"
TRUSTED = "/etc/ssl/trusted.pem"
ISSUER_FILE = "/etc/haproxy/site.pem.issuer"
CHAIN_FILE = "/etc/apache2/chain.pem"


class World:
    """A root, an intermediate, a deployed leaf (www.example.test, shop.example.test) and its renewal."""

    def __init__(self, pki):
        self.pki = pki
        self.root, (self.inter,), self.old = pki.chain(dns=["www.example.test", "shop.example.test"], ocsp_urls=[URL])

    def renewal(self, parent=None, key=None, **kw):
        """A leaf for the same names, with the deployed key unless ``key`` is given."""
        kw.setdefault("dns", ["www.example.test", "shop.example.test"])
        kw.setdefault("ocsp_urls", [URL])
        return self.pki._build(_name("www.example.test"), key or self.old.key, parent or self.inter, ca=False, **kw)

    def candidate(self, leaf=None, chain=None, **kw):
        leaf = leaf or self.renewal(**kw)
        chain = [self.inter] if chain is None else chain
        return preflight.load_candidate(leaf.pem.decode(), "".join(c.pem.decode() for c in chain))

    def evidence(self, server="nginx", stapling=None, configured=None, trusted=None, hostnames=None, files=None):
        certificates = records.Certificates()
        leaf_fp = certificates.add(x509.describe(self.old.cert).to_dict())
        cert_file = "/etc/ssl/site.pem"
        values = dict(certificate_file=cert_file, key_file="/etc/ssl/site.key", leaf=leaf_fp, key_matches=True)
        values.update(configured or {})
        site = records.Site(
            key="%s:/etc/site.conf:1#0" % server,
            server=server,
            site="%s:/etc/site.conf:1" % server,
            source="/etc/site.conf:1",
            hostnames=hostnames or ["www.example.test", "shop.example.test"],
            stapling=stapling if stapling is not None else {"ssl_stapling": True},
            trusted_certificate=trusted,
            files=files or {cert_file: {"exists": True}},
            configured=records.Configured(**values),
        )
        return records.Evidence(certificates=certificates, sites=[site])

    def good(self, candidate):
        return {"url": URL, "reachable": True, "failed_stage": None, "ocsp": {"good": True, "cert_status": "good"}}


@pytest.fixture
def world(pki):
    return World(pki)


def judge(world, candidate, evidence=None, answer="good", side_files=None, anchors=None, **kw):
    if answer == "good":
        answer = world.good(candidate)
    (result,) = preflight.judge(
        evidence or world.evidence(), candidate, answer, side_files or {}, anchors=anchors or [world.root.cert], **kw
    )
    return result


def check(result, name):
    return next(item for item in result.checks if item.name == name)


def test_a_plain_renewal_is_ready_with_every_check_ok(world):
    result = judge(world, world.candidate())
    assert result.verdict == preflight.READY, result.to_dict()
    assert [c.name for c in result.checks] == list(preflight.CHECKS)
    assert all(c.status == preflight.OK for c in result.checks), result.to_dict()
    assert result.hostnames == ["www.example.test", "shop.example.test"]
    assert "2 certificate(s)" in check(result, "chain").evidence[0]
    out = result.to_dict()
    assert json.loads(json.dumps(out)) == out


def test_only_covered_sites_are_judged_with_rfc6125_wildcards(world):
    other = world.renewal(dns=["*.example.test"])
    candidate = world.candidate(leaf=other)
    ev = world.evidence(hostnames=["www.example.test", "shop.example.test"])
    assert judge(world, candidate, ev).hostnames == ["www.example.test", "shop.example.test"]
    # A site the candidate covers in part goes without it (the rollout deploys nothing there: coverage.py).
    ev = world.evidence(hostnames=["www.example.test", "a.b.example.test", "example.test"])
    assert preflight.judge(ev, candidate) == []
    assert preflight.judge(world.evidence(hostnames=["www.other.test"]), world.candidate(dns=["x.test"])) == []
    # Several certificates of one site: test_coverage.py.
    assert preflight.covers("*.Example.test", "WWW.example.test.")
    assert not preflight.covers("*.example.test", "example.test")
    assert not preflight.covers("w*.example.test", "www.example.test")
    assert not preflight.covers("*.*.test", "a.b.test")
    assert not preflight.covers("*.test", "example.test")  # a wildcard needs two labels after it


def test_a_new_key_is_ready_after_deploying_it(world):
    candidate = world.candidate(key=world.pki.leaf(world.inter).key)
    result = judge(world, candidate)
    assert result.verdict == preflight.READY_AFTER_CHANGE
    (change,) = result.changes
    assert (change.by, change.action, change.path) == ("cert_deploy", "deploy_key", "/etc/ssl/site.key")


@pytest.mark.parametrize("key_matches", [False, None])
def test_an_unknown_configured_key_will_break(world, key_matches):
    result = judge(world, world.candidate(), world.evidence(configured={"key_matches": key_matches}))
    assert result.verdict == preflight.WILL_BREAK and result.reasons[0].startswith("key_match: ")


def test_no_private_key_material_enters_the_result_or_the_candidate(world):
    with pytest.raises(InputError, match="private key"):
        preflight.load_candidate(world.renewal().pem.decode() + world.old.key_pem().decode())
    with pytest.raises(InputError, match="private key"):
        preflight.load_candidate(world.renewal().pem.decode(), world.old.key_pem().decode())
    text = json.dumps(judge(world, world.candidate()).to_dict())
    assert "PRIVATE" not in text


def test_an_incomplete_chain_will_break_and_a_root_is_left_out(world):
    broken = judge(world, world.candidate(chain=[]))
    assert broken.verdict == preflight.WILL_BREAK and any(r.startswith("chain: ") for r in broken.reasons)
    # a root the node does not hold: a failure only against trust anchors the user named
    elsewhere = world.pki.root(cn="Another Root")
    assert judge(world, world.candidate(), anchors=[elsewhere.cert]).verdict == preflight.READY
    assert judge(world, world.candidate(), anchors=[elsewhere.cert], explicit_anchors=True).verdict == "will_break"
    with_root = judge(world, world.candidate(chain=[world.root, world.inter]))
    assert with_root.verdict == preflight.READY
    assert any("leaves it out" in line for line in check(with_root, "chain").evidence)


def test_nginx_trusted_file_goes_stale_with_a_new_hierarchy(world):
    new_root = world.pki.root(cn="tlsfleet Test Root 2026")
    new_inter = world.pki.intermediate(new_root, cn="tlsfleet Test Intermediate 2026")
    candidate = world.candidate(leaf=world.renewal(parent=new_inter), chain=[new_inter])
    stapling = {"ssl_stapling": True, "ssl_stapling_verify": True}
    ev = world.evidence(stapling=stapling, trusted=TRUSTED)
    side = {TRUSTED: [world.inter.cert, world.root.cert]}
    anchors = [world.root.cert, new_root.cert]
    result = judge(world, candidate, ev, side_files=side, anchors=anchors)
    assert result.verdict == preflight.READY_AFTER_CHANGE, result.to_dict()
    (change,) = result.changes
    assert (change.by, change.action, change.path) == ("cert_deploy", "add_trusted", TRUSTED)
    # the file with the new hierarchy is fine; the old renewal is fine with the old file
    fixed = {TRUSTED: [new_inter.cert, new_root.cert]}
    assert judge(world, candidate, ev, side_files=fixed, anchors=anchors).verdict == "ready"
    assert judge(world, world.candidate(), ev, side_files=side).verdict == "ready"
    # a new intermediate under the same root: the root in the file still anchors the chain nginx sends
    same_root = world.pki.intermediate(world.root, cn="tlsfleet Test Intermediate 2")
    sibling = world.candidate(leaf=world.renewal(parent=same_root), chain=[same_root])
    assert judge(world, sibling, ev, side_files=side).verdict == "ready"
    # a file holding the old intermediate only (no root) never anchored anything: stale for the candidate
    assert judge(world, sibling, ev, side_files={TRUSTED: [world.inter.cert]}).verdict == "ready_after_change"
    unreadable = judge(world, world.candidate(), ev, side_files={TRUSTED: "cannot read"})
    assert check(unreadable, "issuer_file").status == preflight.WARNING
    # without verification the file does not matter
    off = world.evidence(stapling={"ssl_stapling": True}, trusted=TRUSTED)
    assert judge(world, candidate, off, side_files=side, anchors=anchors).verdict == "ready"
    none = judge(world, world.candidate(), world.evidence(stapling=stapling))
    assert check(none, "issuer_file").status == preflight.WARNING


def test_haproxy_issuer_file_and_apache_chain_file_go_stale(world):
    new_inter = world.pki.intermediate(world.root, cn="tlsfleet Test Intermediate 2")
    candidate = world.candidate(leaf=world.renewal(parent=new_inter), chain=[new_inter])
    haproxy = world.evidence(
        server="haproxy", stapling={"ocsp_update": "off", "issuer_file": ISSUER_FILE, "issuer_exists": True}
    )
    result = judge(world, candidate, haproxy, side_files={ISSUER_FILE: [world.inter.cert]})
    assert [c.action for c in result.changes] == ["replace_issuer_file"]
    chain_verdict = records.ChainVerdict(issuer_found_in="pool", complete=True)
    apache = world.evidence(
        server="apache",
        stapling={"SSLUseStapling": True, "SSLStaplingCache": "shmcb:x"},
        configured={"chain": chain_verdict},
        files={"/etc/ssl/site.pem": {}, "/etc/ssl/site.key": {}, CHAIN_FILE: {}},
    )
    assert preflight.side_file_paths(apache) == [CHAIN_FILE]
    result = judge(world, candidate, apache, side_files={CHAIN_FILE: [world.inter.cert]})
    assert [(c.action, c.path) for c in result.changes] == [("replace_chain_file", CHAIN_FILE)]


def test_no_ocsp_url_per_server(world):
    candidate = world.candidate(ocsp_urls=[])
    nginx = judge(world, candidate, answer=None)
    assert nginx.verdict == preflight.READY and check(nginx, "ocsp_url").status == preflight.WARNING
    assert nginx.warnings and "every reload" in nginx.warnings[0]
    update = {"ocsp_update": "on", "ocsp_update_supported": True}
    haproxy = judge(world, candidate, world.evidence(server="haproxy", stapling=update), answer=None)
    assert haproxy.verdict == preflight.WILL_BREAK and "refuses to load" in haproxy.reasons[0]
    old_haproxy = dict(update, ocsp_update_supported=False)
    assert judge(world, candidate, world.evidence(server="haproxy", stapling=old_haproxy), answer=None).verdict == (
        preflight.READY
    )
    apache = world.evidence(server="apache", stapling={"SSLUseStapling": True, "SSLStaplingCache": "shmcb:x"})
    judged = judge(world, candidate, apache, answer=None)
    # mod_ssl serves the site and logs AH02218 at every reload: the diagnosis' warning, the same verdict as nginx
    assert judged.verdict == preflight.READY and check(judged, "ocsp_url").status == preflight.WARNING
    assert "AH02218" in judged.warnings[0]
    forced = dict(apache.sites[0].stapling, SSLStaplingForceURL="http://ocsp.example.test")
    assert check(
        judge(world, candidate, world.evidence(server="apache", stapling=forced), answer=None), "ocsp_url"
    ).status == (preflight.OK)


def test_a_static_staple_file_of_the_old_certificate_needs_refreshing_or_removing(world):
    staple = records.StapleFile(path="/etc/haproxy/site.pem.ocsp", exists=True)
    ev = world.evidence(server="haproxy", stapling={"ocsp_update": "off"}, configured={"staple_file": staple})
    refresh = judge(world, world.candidate(), ev)
    assert [(c.by, c.action) for c in refresh.changes] == [("stapling_config", "refresh_staple_file")]
    remove = judge(world, world.candidate(ocsp_urls=[]), ev, answer=None)
    assert remove.verdict == preflight.READY_AFTER_CHANGE
    assert [c.action for c in remove.changes] == ["remove_staple_file"]


def test_the_responder_from_the_node(world):
    unreachable = {"url": URL, "reachable": False, "failed_stage": "connect", "error": "timed out", "ocsp": None}
    result = judge(world, world.candidate(), answer=unreachable)
    assert result.verdict == preflight.READY and check(result, "responder").status == preflight.WARNING
    revoked = {"url": URL, "reachable": True, "failed_stage": None, "ocsp": {"good": False, "cert_status": "revoked"}}
    assert judge(world, world.candidate(), answer=revoked).verdict == preflight.WILL_BREAK
    assert check(judge(world, world.candidate(), answer=None), "responder").status == preflight.WARNING


def test_must_staple_needs_a_responder_that_answers(world):
    candidate = world.candidate(must_staple=True)
    blocked = {"url": URL, "reachable": False, "failed_stage": "connect", "error": "refused", "ocsp": None}
    result = judge(world, candidate, answer=blocked)
    assert result.verdict == preflight.WILL_BREAK and any(r.startswith("must_staple: ") for r in result.reasons)
    assert judge(world, candidate).verdict == preflight.READY
    off = judge(world, candidate, world.evidence(stapling={"ssl_stapling": False}))
    assert [c.action for c in off.changes] == ["enable_stapling"]
    no_url = judge(world, world.candidate(must_staple=True, ocsp_urls=[]), answer=None)
    assert no_url.verdict == preflight.WILL_BREAK


def test_validity_window_at_the_planned_time(world):
    now = world.pki.now
    later = world.candidate(not_before=now + datetime.timedelta(days=2))
    assert judge(world, later).verdict == preflight.WILL_BREAK
    assert judge(world, later, at=now + datetime.timedelta(days=3)).verdict == preflight.READY
    short = world.candidate(not_after=now + datetime.timedelta(days=5))
    result = judge(world, short)
    assert result.verdict == preflight.READY and check(result, "validity").status == preflight.WARNING
    assert judge(world, short, at=now + datetime.timedelta(days=6)).verdict == preflight.WILL_BREAK


def test_the_argspec_and_its_fragment_agree():
    documented = yaml.safe_load(ModuleDocFragment.PREFLIGHT)["options"]["preflight"]
    spec = argspec.PREFLIGHT["preflight"]
    assert documented["type"] == spec["type"]
    assert spec["options"]["certificate"]["no_log"] and spec["options"]["chain"]["no_log"]
    assert sorted(documented["suboptions"]) == sorted(spec["options"])
    for name, definition in spec["options"].items():
        assert documented["suboptions"][name]["type"] == definition["type"]
        assert bool(documented["suboptions"][name].get("required")) == bool(definition.get("required"))


def test_the_controller_schema_names_exactly_the_judges_values():
    site = node_result.SCHEMA["properties"]["preflight"]["items"]["properties"]
    assert site["verdict"]["pattern"] == "^(%s)$" % "|".join(preflight.VERDICTS)
    item = site["checks"]["items"]["properties"]
    assert item["name"]["pattern"] == "^(%s)$" % "|".join(preflight.CHECKS)
    assert item["status"]["pattern"] == "^(%s)$" % "|".join(preflight.STATUSES)
    # one source: the controller takes the names from the module the judge takes them from, not from a copy
    assert node_result.preflight_terms.CHECKS is preflight.CHECKS
    assert node_result.preflight_terms.VERDICTS is preflight.VERDICTS
    assert not [name for name in vars(node_result) if name.startswith("_PREFLIGHT_CHECK")]


def test_a_certificate_is_valid_through_its_not_after_second(world):
    """RFC 5280 4.1.2.5: the validity period runs from notBefore through notAfter, both included."""
    ends = world.pki.now.replace(microsecond=0) + datetime.timedelta(days=40)
    inter = world.pki.intermediate(world.root, cn="tlsfleet Short Intermediate", not_after=ends)
    candidate = world.candidate(leaf=world.renewal(parent=inter, not_after=ends), chain=[inter])
    at_the_end = judge(world, candidate, at=ends)
    assert check(at_the_end, "validity").status == preflight.WARNING, at_the_end.to_dict()
    assert at_the_end.verdict != preflight.WILL_BREAK
    after = judge(world, candidate, at=ends + datetime.timedelta(seconds=1))
    assert check(after, "validity").status == preflight.FAIL
    assert any("chain certificate" in line for line in check(after, "validity").evidence)


def test_side_files_are_the_ones_each_server_type_reads(world):
    """The issuer file comes from the server facts (staple_issuer_path), not from a key of the stapling dict: an
    HAProxy .issuer path that does not exist is not read, and no other type has an issuer file at all."""
    present = {"ocsp_update": "off", "issuer_file": ISSUER_FILE, "issuer_exists": True}
    assert preflight.side_file_paths(world.evidence(server="haproxy", stapling=present)) == [ISSUER_FILE]
    absent = dict(present, issuer_exists=False)
    assert preflight.side_file_paths(world.evidence(server="haproxy", stapling=absent)) == []
    stray = {"ssl_stapling": True, "issuer_file": ISSUER_FILE}
    assert preflight.side_file_paths(world.evidence(server="nginx", stapling=stray, trusted=TRUSTED)) == [TRUSTED]


def test_internationalised_names_match_as_a_labels(world):
    """A certificate holds A-labels (xn--); a configuration may name the site in U-labels, or the other way round."""
    assert preflight.covers("xn--bcher-kva.example.test", "bücher.example.test")
    assert preflight.covers("bücher.example.test", "XN--BCHER-KVA.example.test.")
    assert preflight.covers("*.xn--mnchen-3ya.example", "www.münchen.example")
    assert preflight.covers("*.münchen.example", "www.xn--mnchen-3ya.example")
    assert preflight.covers("xn--bcher-kva.example.test", "Bücher.example.test")
    assert not preflight.covers("xn--bcher-kva.example.test", "bucher.example.test")
    assert not preflight.covers("*.xn--mnchen-3ya.example", "xn--mnchen-3ya.example")
    candidate = world.candidate(dns=["xn--bcher-kva.example.test"])
    ev = world.evidence(hostnames=["bücher.example.test"])
    configured = world.pki._build(
        _name("xn--bcher-kva.example.test"), world.old.key, world.inter, ca=False, dns=["xn--bcher-kva.example.test"]
    )
    ev.certificates = records.Certificates()
    ev.sites[0].configured.leaf = ev.certificates.add(x509.describe(configured.cert).to_dict())
    assert judge(world, candidate, ev).hostnames == ["bücher.example.test"]


def test_wildcards_need_two_labels_after_them_and_no_public_suffix_list_is_shipped():
    """The rule OpenSSL's X509_check_host applies: the wildcard is the whole left-most label, at least two labels
    follow it, and it stands for exactly one label. Without a public suffix list, *.co.uk cannot be told apart from
    *.example.com: it covers shop.co.uk (docs/preflight.md says so)."""
    assert preflight.covers("*.co.uk", "shop.co.uk")
    assert not preflight.covers("*.co.uk", "co.uk")
    assert not preflight.covers("*.co.uk", "www.shop.co.uk")
    assert not preflight.covers("*.uk", "co.uk")
    assert not preflight.covers("*", "localhost")
    assert not preflight.covers("*.", "example.")
    assert not preflight.covers("*..example", "a..example")


FORCED = "http://forced-ocsp.example.test/"


@pytest.mark.parametrize(
    ("server", "stapling"),
    [
        ("nginx", {"ssl_stapling": True, "ssl_stapling_responder": FORCED}),
        ("apache", {"SSLUseStapling": True, "SSLStaplingCache": "shmcb:x", "SSLStaplingForceURL": FORCED}),
    ],
)
def test_a_forced_responder_is_the_one_judged(world, server, stapling):
    """nginx ssl_stapling_responder and Apache SSLStaplingForceURL replace the certificate's own responder: the
    server asks the forced one, so the responder, ocsp_url and must_staple checks judge that one."""
    ev = world.evidence(server=server, stapling=stapling)
    assert preflight.responder_urls(ev, world.candidate()) == [FORCED]
    good = {"url": FORCED, "reachable": True, "failed_stage": None, "ocsp": {"good": True, "cert_status": "good"}}
    down = {"url": URL, "reachable": False, "failed_stage": "connect", "error": "timed out", "ocsp": None}
    # the certificate's own responder is down, the forced one answers: ready, and the evidence names the forced one
    result = preflight.judge(ev, world.candidate(), down, {}, anchors=[world.root.cert], answers={FORCED: good})[0]
    assert check(result, "responder").status == preflight.OK, result.to_dict()
    assert FORCED in check(result, "responder").evidence[0]
    assert FORCED in " ".join(check(result, "ocsp_url").evidence)
    # a candidate without an OCSP URL is fetched from the forced responder: stapled, no warning
    bare = world.candidate(ocsp_urls=[])
    assert preflight.responder_urls(ev, bare) == [FORCED]
    result = preflight.judge(ev, bare, None, {}, anchors=[world.root.cert], answers={FORCED: good})[0]
    assert result.verdict == preflight.READY and not result.warnings, result.to_dict()
    assert FORCED in " ".join(check(result, "ocsp_url").evidence)
    # the forced responder revoked it: will break, whatever the certificate's own says
    revoked = dict(good, ocsp={"good": False, "cert_status": "revoked"})
    broken = preflight.judge(
        ev, world.candidate(), world.good(None), {}, anchors=[world.root.cert], answers={FORCED: revoked}
    )
    assert broken[0].verdict == preflight.WILL_BREAK
    # Must-Staple without an OCSP URL is met by the forced responder answering good
    must = world.candidate(ocsp_urls=[], must_staple=True)
    assert preflight.judge(ev, must, None, {}, anchors=[world.root.cert], answers={FORCED: good})[0].verdict == (
        preflight.READY
    )
    # stapling off: the server fetches nothing, the candidate's own URL is the one named
    off = world.evidence(server=server, stapling=dict(stapling, ssl_stapling=False, SSLUseStapling=False))
    assert preflight.responder_urls(off, world.candidate()) == [URL]
