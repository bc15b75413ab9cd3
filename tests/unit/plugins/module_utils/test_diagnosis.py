# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""diagnosis.diagnose(): evidence in, findings out, rule by rule.

The evidence is built the way audit.gather() builds it, through the evidence records (evidence.py), from real
certificates and OCSP responses made by the test PKI and judged by endpoint.py, so a change in the records' shape
breaks these tests. diagnose() is given the evidence's dict form: what node_audit returns.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import diagnosis, endpoint, tls_probe, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records

HOST = "www.example.test"
URL = "http://ocsp.example.test/int"
# The certificates of the test's evidence, described once (Evidence.certificates); emptied for every test.
CERTS = records.Certificates()


@pytest.fixture(autouse=True)
def _fresh_certificates():
    CERTS.clear()


@pytest.fixture
def world(pki):
    root, (inter,), leaf = pki.chain(ocsp_urls=[URL])
    return {"pki": pki, "root": root, "inter": inter, "leaf": leaf}


def served(world, chain=None, staple="good", leaf=None, **staple_kw):
    """The judged endpoint for HOST: both protocols present ``chain`` and staple what ``staple`` says."""
    pki, inter = world["pki"], world["inter"]
    leaf = leaf or world["leaf"]
    chain = chain if chain is not None else [leaf.der, inter.der]
    if staple == "good":
        data = pki.ocsp_response(leaf, inter, **staple_kw)
    elif staple in ("revoked", "unknown"):
        data = pki.ocsp_response(leaf, inter, status=staple)
    elif staple in ("try_later", "unauthorized"):
        data = pki.ocsp_unsuccessful(staple)
    elif staple == "forged":
        data = pki.ocsp_response(leaf, inter, signing_key=pki.root(cn="Evil").key)
    else:
        data = None
    probe = tls_probe.EndpointProbe(endpoint=tls_probe.Endpoint("127.0.0.1", 443, HOST))
    for protocol in ("TLSv1.3", "TLSv1.2"):
        probe.handshakes[protocol] = tls_probe.Handshake(
            protocol_requested=protocol, ok=True, protocol=protocol, chain_der=list(chain), staple=data
        )
        probe.attempts[protocol] = 1 if data else 5
    return endpoint.judge_probe(probe, anchors=[world["root"].cert])


def site(world, server="nginx", stapling=None, configured=None, served_report=None, leaf=None):
    leaf = leaf or world["leaf"]
    defaults = {
        "nginx": {"ssl_stapling": True, "ssl_stapling_verify": False, "resolver": ["198.18.0.2"]},
        "apache": {"SSLUseStapling": True, "SSLStaplingCache": "shmcb:/run/ocsp(128000)"},
        "haproxy": {"ocsp_update": "off", "ocsp_update_supported": False, "ocsp_file": "/etc/haproxy/x.pem.ocsp"},
    }[server]
    conf = {
        "certificate_file": "/etc/tls/www.pem",
        "key_file": "/etc/tls/www.key",
        "leaf": CERTS.add(x509.describe(leaf.cert).to_dict()),
        "key_matches": True,
    }
    conf.update(configured or {})
    report = served_report if served_report is not None else served(world)
    return records.Site(
        key="%s:/etc/%s/site.conf:1#0" % (server, server),
        server=server,
        server_version="1.22.1",
        site="%s:/etc/%s/site.conf:1" % (server, server),
        source="/etc/%s/site.conf:1" % server,
        hostnames=[HOST],
        stapling=dict(defaults, **(stapling or {})),
        configured=records.Configured.from_dict(conf),
        served={HOST: records.Served.from_report(report, CERTS)},
    )


def evidence(*sites, responder=None, events=()):
    """The node's evidence around ``sites``, in the dict form node_audit returns."""
    return records.Evidence(
        node={"checked_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
        certificates=CERTS,
        sites=list(sites),
        responders={URL: responder or {"url": URL, "reachable": True, "failed_stage": None, "ocsp": None}},
        log_events=list(events),
    ).to_dict()


def codes(ev, **limits):
    return sorted(f["code"] for f in diagnosis.diagnose(ev, diagnosis.Thresholds(**limits)))


def test_healthy_site_has_no_findings(world):
    assert codes(evidence(site(world))) == []


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_stapling_switched_off(world, server):
    off = {"nginx": {"ssl_stapling": False}, "apache": {"SSLUseStapling": False}}[server]
    ev = evidence(site(world, server, stapling=off, served_report=served(world, staple=None)))
    assert codes(ev) == ["stapling_disabled"]


@pytest.mark.parametrize(
    ("server", "stapling", "severity", "says"),
    [
        ("nginx", {"ssl_stapling": True}, "warning", "logs '\"ssl_stapling\" ignored' at every reload"),
        ("apache", {"SSLUseStapling": True}, "warning", "AH02218"),
        # HAProxy 2.6: ocsp-update is not known there; 2.8+ refuses to load the certificate (an error).
        ("haproxy", {"ocsp_update": "on"}, "warning", "ocsp-update needs 2.8"),
        ("haproxy", {"ocsp_update": "on", "ocsp_update_supported": True}, "error", "refuses to load it"),
    ],
)
def test_stapling_on_without_ocsp_url_is_stapling_without_ocsp_and_stops_there(world, server, stapling, severity, says):
    pki = world["pki"]
    leaf = pki.leaf(world["inter"], cn=HOST, ocsp_urls=[])
    ev = evidence(
        site(
            world,
            server=server,
            stapling=stapling,
            leaf=leaf,
            served_report=served(world, leaf=leaf, chain=[leaf.der, world["inter"].der], staple=None),
        )
    )
    found = diagnosis.diagnose(ev)
    assert [(f["code"], f["severity"]) for f in found] == [("stapling_without_ocsp", severity)]
    assert says in " ".join(found[0]["evidence"])
    assert found[0]["fixed_by"] == "stapling_config"


def test_haproxy_staple_file_for_a_certificate_without_url_is_never_refreshed(world):
    leaf = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[])
    staple = {"path": "/etc/haproxy/x.pem.ocsp", "exists": True}
    ev = evidence(
        site(
            world,
            server="haproxy",
            configured={"staple_file": staple},
            leaf=leaf,
            served_report=served(world, leaf=leaf, staple=None),
        )
    )
    found = diagnosis.diagnose(ev)
    assert [(f["code"], f["severity"]) for f in found] == [("stapling_without_ocsp", "warning")]
    assert "nothing will ever refresh it" in " ".join(found[0]["evidence"])


def test_haproxy_without_staple_file_or_ocsp_update_and_without_url_is_fine(world):
    leaf = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[])
    ev = evidence(
        site(
            world,
            server="haproxy",
            configured={"staple_file": {"path": "/etc/haproxy/x.pem.ocsp", "exists": False}},
            leaf=leaf,
            served_report=served(world, leaf=leaf, staple=None),
        )
    )
    assert diagnosis.diagnose(ev) == []


def test_haproxy_2_8_ocsp_update_on_needs_no_staple_file(world):
    """HAProxy fetches its own staple with ocsp-update on (2.8+): a missing .ocsp file is no problem then."""
    ev = evidence(
        site(
            world,
            server="haproxy",
            stapling={"ocsp_update": "on", "ocsp_update_supported": True},
            configured={"staple_file": {"path": "/etc/haproxy/x.pem.ocsp", "exists": False}},
        )
    )
    assert codes(ev) == []
    ev = evidence(
        site(
            world,
            server="haproxy",
            stapling={"ocsp_update": "on", "ocsp_update_supported": True, "ocsp_update_disable": True},
            configured={"staple_file": {"path": "/etc/haproxy/x.pem.ocsp", "exists": False}},
            served_report=served(world, staple=None),
        )
    )
    assert codes(ev) == ["stapling_unsupported"]


@pytest.mark.parametrize(
    ("server", "stapling"),
    [("nginx", {"ssl_stapling_responder": "http://ocsp.example.test/"}), ("apache", {"SSLStaplingForceURL": URL})],
)
def test_a_responder_named_by_the_configuration_is_not_stapling_without_ocsp(world, server, stapling):
    leaf = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[])
    ev = evidence(site(world, server=server, stapling=stapling, leaf=leaf, served_report=served(world, leaf=leaf)))
    assert "stapling_without_ocsp" not in codes(ev)


def test_stapling_without_ocsp_quotes_the_servers_log(world):
    leaf = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[])
    event = {
        "server": "nginx",
        "code": "stapling_without_ocsp",
        "site_hint": "/etc/tls/www.pem",
        "file": "/var/log/nginx/error.log",
        "line_no": 3,
        "message": '"ssl_stapling" ignored, no OCSP responder URL in the certificate "/etc/tls/www.pem"',
    }
    ev = evidence(site(world, leaf=leaf, served_report=served(world, leaf=leaf, staple=None)), events=[event])
    found = diagnosis.diagnose(ev)
    assert found[0]["code"] == "stapling_without_ocsp"
    assert any(line.startswith("log /var/log/nginx/error.log:3") for line in found[0]["evidence"])


@pytest.mark.parametrize(
    ("server", "stapling"),
    [("nginx", {"ssl_stapling": False}), ("apache", {"SSLUseStapling": False}), ("haproxy", {"ocsp_update": "off"})],
)
def test_no_ocsp_url_with_stapling_off_is_as_it_should_be(world, server, stapling):
    leaf = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[])
    ev = evidence(
        site(
            world,
            server=server,
            stapling=stapling,
            leaf=leaf,
            served_report=served(world, leaf=leaf, chain=[leaf.der, world["inter"].der], staple=None),
        )
    )
    assert diagnosis.diagnose(ev) == []


@pytest.mark.parametrize("on", [True, False])
def test_must_staple_without_url_is_unmet_and_never_also_stapling_without_ocsp(world, on):
    leaf = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[], must_staple=True)
    ev = evidence(
        site(world, leaf=leaf, stapling={"ssl_stapling": on}, served_report=served(world, leaf=leaf, staple=None))
    )
    found = diagnosis.diagnose(ev)
    assert sorted((f["code"], f["severity"]) for f in found) == [
        ("must_staple_unmet", "critical"),
        ("no_ocsp_url", "info"),
    ]
    assert [f["fixed_by"] for f in found if f["code"] == "no_ocsp_url"] == [None]


def _short_lived_leaf(world, days, **kw):
    pki = world["pki"]
    start = pki.now - datetime.timedelta(days=1)
    return pki.leaf(world["inter"], cn=HOST, not_before=start, not_after=start + datetime.timedelta(days=days), **kw)


def test_short_lived_is_recognised_in_the_certificate_record(world):
    seven = x509.describe(_short_lived_leaf(world, 7).cert)
    assert seven.short_lived is False  # 7 days + 1 s inclusive: one second too long
    just = x509.describe(
        world["pki"]
        .leaf(
            world["inter"],
            cn=HOST,
            not_before=world["pki"].now,
            not_after=world["pki"].now + datetime.timedelta(days=7, seconds=-1),
        )
        .cert
    )
    assert just.short_lived is True
    assert x509.describe(world["leaf"].cert).short_lived is False
    # Evidence written before the field reads it from the validity window.
    old = just.to_dict()
    del old["short_lived"]
    assert records.certificate_from_dict(old).short_lived is True
    assert records.certificate_from_dict(dict(old, short_lived=False)).short_lived is False


def test_short_lived_without_url_and_stapling_off_is_fine(world):
    leaf = _short_lived_leaf(world, 6, ocsp_urls=[])
    ev = evidence(
        site(world, leaf=leaf, stapling={"ssl_stapling": False}, served_report=served(world, leaf=leaf, staple=None))
    )
    assert diagnosis.diagnose(ev) == []


def test_short_lived_without_url_and_stapling_on_says_so(world):
    leaf = _short_lived_leaf(world, 6, ocsp_urls=[])
    ev = evidence(site(world, leaf=leaf, served_report=served(world, leaf=leaf, staple=None)))
    found = diagnosis.diagnose(ev)
    assert [f["code"] for f in found] == ["stapling_without_ocsp"]
    assert "short-lived" in found[0]["evidence"][0]


def test_must_staple_with_stapling_off(world):
    leaf = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[URL], must_staple=True)
    ev = evidence(
        site(world, leaf=leaf, stapling={"ssl_stapling": False}, served_report=served(world, leaf=leaf, staple=None))
    )
    assert codes(ev) == ["must_staple_unmet", "stapling_disabled"]


def test_nginx_certificate_through_variables_is_unsupported(world):
    ev = evidence(
        site(
            world,
            stapling={"certificate_uses_variables": True, "certificate_variable_values": ["$x"]},
            served_report=served(world, staple=None),
        )
    )
    assert codes(ev) == ["stapling_unsupported"]


def test_haproxy_without_staple_file_is_unsupported(world):
    ev = evidence(
        site(
            world,
            "haproxy",
            configured={"staple_file": {"path": "/x.ocsp", "exists": False}},
            served_report=served(world, staple=None),
        )
    )
    assert codes(ev) == ["stapling_unsupported"]


def test_haproxy_expired_staple_file(world):
    pki, inter, leaf = world["pki"], world["inter"], world["leaf"]
    now = pki.now
    stale = pki.ocsp_response(
        leaf, inter, this_update=now - datetime.timedelta(days=9), next_update=now - datetime.timedelta(days=2)
    )
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import ocsp

    verdict = ocsp.validate_response(stale, leaf.cert, inter.cert).to_dict()
    ev = evidence(
        site(
            world,
            "haproxy",
            configured={"staple_file": {"path": "/x.ocsp", "exists": True, "verdict": verdict}},
            served_report=served(world, staple=None),
        )
    )
    assert codes(ev) == ["staple_expired"]


def test_apache_without_cache(world):
    ev = evidence(site(world, "apache", stapling={"SSLStaplingCache": None}, served_report={}))
    assert codes(ev) == ["stapling_cache_missing"]


def test_leaf_only_chain_is_incomplete_and_explains_the_missing_staple(world):
    ev = evidence(site(world, served_report=served(world, chain=[world["leaf"].der], staple=None)))
    assert codes(ev) == ["chain_incomplete"]


def test_misordered_and_extra_chains(world):
    root, inter, leaf = world["root"], world["inter"], world["leaf"]
    other = world["pki"].root(cn="Unrelated")
    ev = evidence(site(world, served_report=served(world, chain=[leaf.der, inter.der, root.der, other.der])))
    assert codes(ev) == ["chain_extra"]
    ev = evidence(site(world, served_report=served(world, chain=[inter.der, leaf.der])))
    assert "chain_misordered" in codes(ev)


def test_responder_unreachable_explains_a_missing_staple(world):
    probe = {"url": URL, "reachable": False, "failed_stage": "connect", "error": "connection refused"}
    ev = evidence(site(world, served_report=served(world, staple=None)), responder=probe)
    found = diagnosis.diagnose(ev)
    assert [f["code"] for f in found] == ["responder_unreachable"]
    assert found[0]["details"]["stage"] == "connect"
    assert any("connection refused" in line for line in found[0]["evidence"])


def test_unsuccessful_staple_blames_the_responder(world):
    ok_probe = {"url": URL, "reachable": True, "failed_stage": "ocsp", "error": "answered try_later"}
    assert codes(
        evidence(site(world, "apache", served_report=served(world, staple="try_later")), responder=ok_probe)
    ) == ["responder_error"]
    down = {"url": URL, "reachable": False, "failed_stage": "timeout", "error": "no answer"}
    assert codes(evidence(site(world, "apache", served_report=served(world, staple="try_later")), responder=down)) == [
        "responder_unreachable"
    ]


def test_good_staple_with_a_failing_responder_is_a_warning(world):
    """The server still serves a cached good response, but cannot refresh it: warn before it runs out."""
    down = {"url": URL, "reachable": False, "failed_stage": "timeout", "error": "no answer within 5 s"}
    found = diagnosis.diagnose(evidence(site(world, served_report=served(world)), responder=down))
    assert [(f["code"], f["severity"]) for f in found] == [("responder_unreachable", "warning")]
    assert found[0]["details"]["stage"] == "timeout"
    assert "staple nothing once it expires" in found[0]["evidence"][0]
    assert any("no answer within 5 s" in line for line in found[0]["evidence"])
    forged = {"url": URL, "reachable": True, "failed_stage": "ocsp", "error": "signature does not verify"}
    found = diagnosis.diagnose(evidence(site(world, served_report=served(world)), responder=forged))
    assert [(f["code"], f["severity"]) for f in found] == [("responder_error", "warning")]


def test_an_http_failure_is_the_responder_answering_badly(world):
    """An error status or a flood: something at the responder's address answered, so the path is not at fault."""
    flood = {
        "url": URL,
        "reachable": False,
        "failed_stage": "http",
        "error": "sent more than 65536 bytes",
        "http": {"status": 200, "truncated": True},
    }
    found = diagnosis.diagnose(evidence(site(world, served_report=served(world, staple=None)), responder=flood))
    assert [(f["code"], f["severity"]) for f in found] == [("responder_error", "error")]
    assert any("65536" in line for line in found[0]["evidence"])
    found = diagnosis.diagnose(evidence(site(world, served_report=served(world)), responder=flood))
    assert [(f["code"], f["severity"]) for f in found] == [("responder_error", "warning")]
    status = dict(flood, error="answered HTTP 503", http={"status": 503, "truncated": False})
    assert codes(evidence(site(world, served_report=served(world, staple=None)), responder=status)) == [
        "responder_error"
    ]
    # Closed or reset without an answer: no one answered, that is the path.
    reset = dict(flood, error="Remote end closed connection without response", http={"status": None})
    assert codes(evidence(site(world, served_report=served(world, staple=None)), responder=reset)) == [
        "responder_unreachable"
    ]


def test_good_staple_with_a_healthy_responder_has_no_finding(world):
    fine = {"url": URL, "reachable": True, "failed_stage": None, "error": None}
    assert codes(evidence(site(world, served_report=served(world)), responder=fine)) == []
    assert codes(evidence(site(world, served_report=served(world)))) == []


def test_missing_staple_keeps_the_error_severity(world):
    down = {"url": URL, "reachable": False, "failed_stage": "connect", "error": "connection refused"}
    found = diagnosis.diagnose(evidence(site(world, served_report=served(world, staple=None)), responder=down))
    assert [(f["code"], f["severity"]) for f in found] == [("responder_unreachable", "error")]


def test_trusted_file_without_root_with_verify_on(world):
    ev = evidence(
        site(
            world,
            stapling={"ssl_stapling_verify": True},
            configured={"trusted": {"path": "/t.pem", "has_issuer": True, "anchors_issuer": False}},
            served_report=served(world, staple=None),
        )
    )
    assert codes(ev) == ["trusted_cert_missing"]
    ev["sites"][0]["configured"]["trusted"] = None
    assert codes(ev) == ["trusted_cert_missing"]


def test_resolver_missing_when_the_responder_answers_the_node(world):
    ev = evidence(site(world, stapling={"resolver": None}, served_report=served(world, staple=None)))
    assert codes(ev) == ["resolver_missing"]


def test_unexplained_missing_staple(world):
    event = {
        "server": "nginx",
        "code": "staple_missing",
        "file": "/var/log/nginx/error.log",
        "line_no": 7,
        "message": "something odd",
        "site_hint": None,
    }
    ev = evidence(site(world, served_report=served(world, staple=None)), events=[event])
    found = diagnosis.diagnose(ev)
    assert [f["code"] for f in found] == ["staple_missing"]
    assert any("/var/log/nginx/error.log:7" in line for line in found[0]["evidence"])


@pytest.mark.parametrize(
    ("staple", "expected"),
    [("revoked", "cert_revoked"), ("unknown", "cert_status_unknown"), ("forged", "staple_invalid")],
)
def test_served_staple_verdicts(world, staple, expected):
    assert codes(evidence(site(world, served_report=served(world, staple=staple)))) == [expected]


def test_responder_status_explains_nginx_refusing_to_staple(world):
    answer = {"url": URL, "reachable": True, "failed_stage": None, "ocsp": {"cert_status": "unknown"}}
    ev = evidence(site(world, served_report=served(world, staple=None)), responder=answer)
    assert codes(ev) == ["cert_status_unknown"]


def test_expired_and_expiring_staples(world):
    now = world["pki"].now
    expired = served(world, this_update=now - datetime.timedelta(days=3), next_update=now - datetime.timedelta(hours=1))
    assert codes(evidence(site(world, served_report=expired))) == ["staple_expired"]
    soon = served(world, next_update=now + datetime.timedelta(minutes=10))
    assert codes(evidence(site(world, served_report=soon))) == ["staple_expiring"]
    assert codes(evidence(site(world, served_report=soon)), staple_warning_seconds=60) == []


def test_stale_certificate_and_key_mismatch(world):
    renewed = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[URL])
    ev = evidence(site(world, leaf=renewed, configured={"key_matches": False}))
    assert codes(ev) == ["key_mismatch", "stale_cert_path"]


def test_two_certificates_of_one_site_are_not_stale(world):
    ecdsa = site(world)
    rsa_leaf = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[URL], kind="rsa")
    rsa = copy.deepcopy(ecdsa)
    rsa.key = rsa.key.replace("#0", "#1")
    rsa.configured.leaf = CERTS.add(x509.describe(rsa_leaf.cert).to_dict())
    assert codes(evidence(ecdsa, rsa)) == []


def test_certificate_validity(world):
    now = world["pki"].now
    old = world["pki"].leaf(
        world["inter"],
        cn=HOST,
        ocsp_urls=[URL],
        not_before=now - datetime.timedelta(days=90),
        not_after=now - datetime.timedelta(days=1),
    )
    ev = evidence(site(world, leaf=old, served_report=served(world, leaf=old)))
    assert "cert_expired" in codes(ev)
    soon = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[URL], not_after=now + datetime.timedelta(days=5))
    ev = evidence(site(world, leaf=soon, served_report=served(world, leaf=soon)))
    assert codes(ev) == ["cert_expiring"]


def test_findings_carry_location_and_remedy(world):
    ev = evidence(site(world, stapling={"ssl_stapling": False}, served_report=served(world, staple=None)))
    (finding,) = diagnosis.diagnose(ev)
    assert finding["server"] == "nginx" and finding["hostname"] == HOST
    assert finding["site"] == "nginx:/etc/nginx/site.conf:1"
    assert finding["fixed_by"] == "stapling_config" and finding["remediation"]
    assert finding["evidence"] and all(isinstance(line, str) for line in finding["evidence"])


def test_staple_file_of_the_served_certificate_is_part_of_a_stale_deployment(world):
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import ocsp

    pki, inter, old = world["pki"], world["inter"], world["leaf"]
    renewed = pki.leaf(inter, cn=HOST, ocsp_urls=[URL])
    old_staple = pki.ocsp_response(old, inter)
    verdict = ocsp.validate_response(old_staple, renewed.cert, inter.cert).to_dict()
    files = {"staple_file": {"path": "/x.pem.ocsp", "exists": True, "verdict": verdict}}
    ev = evidence(site(world, "haproxy", leaf=renewed, configured=files))
    found = diagnosis.diagnose(ev)
    assert [f["code"] for f in found] == ["stale_cert_path"]
    assert any("belongs to the served certificate" in line for line in found[0]["evidence"])


# --------------------------------------------------------------------------------------------------------
# beyond our own scenarios: a server that is down, an answer about another certificate, nginx's own resolver


def refused(host=HOST, stage="connect", error="cannot connect to 127.0.0.1:443: Connection refused"):
    probe = tls_probe.EndpointProbe(endpoint=tls_probe.Endpoint("127.0.0.1", 443, host))
    for protocol in ("TLSv1.3", "TLSv1.2"):
        probe.handshakes[protocol] = tls_probe.Handshake(
            protocol_requested=protocol, ok=False, error=error, error_stage=stage
        )
    return endpoint.judge_probe(probe)


def server_record(server="haproxy", running=False, test_ok=False, output=""):
    return {
        "type": server,
        "running": running,
        "master_pid": 4242 if running else None,
        "config_test_ok": test_ok,
        "config_test_output": output,
        "sites": [],
        "errors": [],
    }


HAPROXY_ALERT = (
    "[NOTICE]   (1234) : haproxy version is 2.6.12\n"
    "[ALERT]    (1234) : config : parsing [/etc/haproxy/haproxy.cfg:20] : 'bind *:443' in proxy 'www' : "
    "ssl_sock_load_ocsp: Unable to load OCSP response for /etc/haproxy/certs/www.pem (no issuer).\n"
    "[ALERT]    (1234) : config : Fatal errors found in configuration.\n"
)


def test_a_server_that_does_not_start_is_down_with_its_own_words_and_the_root_cause(world):
    leaf_only = {
        "chain": {"issuer_found_in": None, "presented_count": 1, "missing_issuer": "CN=Int"},
        "staple_file": {"path": "/etc/tls/www.pem.ocsp", "exists": True, "verdict": None, "error": "no issuer"},
    }
    s = dataclasses.replace(site(world, "haproxy", configured=leaf_only, served_report=refused()), server_running=False)
    ev = dict(evidence(s), servers=[server_record(output=HAPROXY_ALERT)])
    found = diagnosis.diagnose(ev)
    by_code = {f["code"]: f for f in found}
    assert set(by_code) == {"server_down", "chain_incomplete", "config_test_failed"}
    down = by_code["server_down"]
    assert down["severity"] == "critical" and down["hostname"] == HOST
    text = "\n".join(down["evidence"])
    assert "haproxy is not running" in text and "Connection refused" in text
    assert "Unable to load OCSP response" in text and "[NOTICE]" not in text
    assert by_code["chain_incomplete"]["hostname"] == HOST
    assert (
        "/etc/tls/www.pem holds 1 certificate(s) without the issuer 'CN=Int'"
        in by_code["chain_incomplete"]["evidence"][0]
    )
    assert by_code["config_test_failed"]["hostname"] is None and by_code["config_test_failed"]["site"] is None


@pytest.mark.parametrize("server", ["nginx", "apache", "haproxy"])
def test_a_stopped_server_is_never_healthy(world, server):
    self_fetch = {"haproxy": {"ocsp_update": "on", "ocsp_update_supported": True}}.get(server)
    s = dataclasses.replace(site(world, server, stapling=self_fetch, served_report=refused()), server_running=False)
    ev = dict(evidence(s), servers=[server_record(server, running=False, test_ok=True)])
    found = diagnosis.diagnose(ev)
    assert [(f["code"], f["severity"]) for f in found] == [("server_down", "critical")]


def test_a_running_server_nobody_can_handshake_with_is_down_too(world):
    s = dataclasses.replace(
        site(world, "nginx", served_report=refused(stage="handshake", error="TLS alert")), server_running=True
    )
    ev = dict(evidence(s), servers=[server_record("nginx", running=True, test_ok=True)])
    found = diagnosis.diagnose(ev)
    assert [f["code"] for f in found] == ["server_down"]
    assert "runs (pid 4242), but no TLS handshake" in found[0]["evidence"][0]


def test_a_failing_config_test_on_a_running_server_is_a_node_finding(world):
    ev = dict(evidence(site(world)), servers=[server_record("nginx", running=True, output="nginx: [emerg] x")])
    found = diagnosis.diagnose(ev)
    assert [(f["code"], f["severity"], f["server"], f["hostname"]) for f in found] == [
        ("config_test_failed", "error", "nginx", None)
    ]
    assert "nginx: [emerg] x" in found[0]["evidence"][-1]


def test_no_site_on_the_node_is_a_finding_with_what_discovery_saw():
    ev = records.Evidence(servers=[server_record("nginx", running=True, test_ok=True)])
    found = diagnosis.diagnose(ev)
    assert [(f["code"], f["severity"]) for f in found] == [("no_tls_site", "warning")]
    assert "nginx: running, 0 TLS site(s)" in found[0]["evidence"][1]
    found = diagnosis.diagnose(records.Evidence().to_dict(), diagnosis.Thresholds(no_site_severity="error"))
    assert [(f["code"], f["severity"]) for f in found] == [("no_tls_site", "error")]
    assert "no nginx, Apache httpd or HAProxy found" in found[0]["evidence"][1]


def two_certificates(world, status_a="revoked"):
    """Two certificates of one CA on one node: A (revoked) probed first for the URL; B misses its staple."""
    other = world["pki"].leaf(world["inter"], cn="api.example.test", ocsp_urls=[URL])
    fp_a = x509.fingerprint(world["leaf"].cert)
    site_b = site(world, leaf=other, served_report=served(world, staple=None, leaf=other))
    url_check = {
        "url": URL,
        "reachable": True,
        "failed_stage": None,
        "certificate_sha256": fp_a,
        "ocsp": {"cert_status": status_a, "revocation_time": "2026-11-01T00:00:00Z"},
    }
    return other, site_b, url_check


def test_one_certificates_status_is_never_pinned_on_another(world):
    _other, site_b, url_check = two_certificates(world)
    found = diagnosis.diagnose(evidence(site_b, responder=url_check))
    assert "cert_revoked" not in [f["code"] for f in found]
    assert [f["code"] for f in found] == ["staple_missing"]
    assert "asked about another certificate only" in " ".join(found[0]["evidence"])


@pytest.mark.parametrize(
    ("own", "code"),
    [
        ({"failed_stage": None, "ocsp": {"cert_status": "unknown"}}, "cert_status_unknown"),
        ({"failed_stage": None, "ocsp": {"cert_status": "revoked", "revocation_time": "x"}}, "cert_revoked"),
        ({"failed_stage": "http", "reachable": False, "error": "reset", "http": {}}, "responder_unreachable"),
        ({"failed_stage": "ocsp", "reachable": True, "error": "answered try_later"}, "responder_error"),
        ({"failed_stage": None, "ocsp": {"cert_status": "good"}}, "staple_missing"),
    ],
)
def test_a_certificates_own_answer_decides(world, own, code):
    other, site_b, url_check = two_certificates(world, status_a="revoked")
    url_check.update(failed_stage="ocsp", error="answered try_later")  # A's answer: not B's
    ev = evidence(site_b, responder=url_check)
    fp_b = x509.fingerprint(other.cert)
    ev["certificate_responders"] = {fp_b: {URL: dict({"url": URL, "certificate_sha256": fp_b}, **own)}}
    assert [f["code"] for f in diagnosis.diagnose(ev)] == [code]


def test_a_path_broken_before_any_request_speaks_for_every_certificate(world):
    _other, site_b, url_check = two_certificates(world)
    url_check.update(reachable=False, failed_stage="connect", error="connection refused", ocsp=None)
    assert [f["code"] for f in diagnosis.diagnose(evidence(site_b, responder=url_check))] == ["responder_unreachable"]


def resolver_check(outcome, error=None):
    return {"server": "198.18.0.5", "port": 53, "name": "ocsp.example.test", "outcome": outcome, "error": error}


@pytest.mark.parametrize("outcome", ["timeout", "nxdomain", "servfail", "unreachable", "no_address", "refused"])
def test_nginx_resolver_that_fails_is_the_cause(world, outcome):
    s = site(world, served_report=served(world, staple=None))
    s.resolver_checks = [resolver_check(outcome, "198.18.0.5: %s" % outcome)]
    event = {
        "server": "nginx",
        "code": "responder_unreachable",
        "file": "/var/log/nginx/error.log",
        "line_no": 7,
        "message": "ocsp.example.test could not be resolved (110: Operation timed out) while requesting "
        "certificate status",
    }
    found = diagnosis.diagnose(evidence(s, events=[event]))
    assert [f["code"] for f in found] == ["resolver_failing"]
    assert "198.18.0.5: %s" % outcome in " ".join(found[0]["evidence"])
    assert "could not be resolved" in " ".join(found[0]["evidence"])


def test_nginx_resolver_answering_from_one_address_is_fine(world):
    s = site(world, served_report=served(world, staple=None))
    s.resolver_checks = [resolver_check("timeout", "no answer"), resolver_check("ok")]
    assert [f["code"] for f in diagnosis.diagnose(evidence(s))] == ["staple_missing"]


def test_a_good_staple_with_a_failing_resolver_is_a_warning(world):
    s = site(world)
    s.resolver_checks = [resolver_check("nxdomain", "NXDOMAIN")]
    found = diagnosis.diagnose(evidence(s))
    assert [(f["code"], f["severity"]) for f in found] == [("resolver_failing", "warning")]


def test_when_the_node_cannot_resolve_either_the_path_is_the_cause_not_nginx_resolver(world):
    s = site(world, served_report=served(world, staple=None))
    s.resolver_checks = [resolver_check("unreachable", "198.18.0.4: Connection refused")]
    probe = {"url": URL, "reachable": False, "failed_stage": "dns", "error": "cannot resolve ocsp.example.test"}
    assert [f["code"] for f in diagnosis.diagnose(evidence(s, responder=probe))] == ["responder_unreachable"]


def test_short_lived_expiry_warning_is_relative_to_its_lifetime(world):
    pki = world["pki"]
    fresh = _short_lived_leaf(world, 6)  # 5 days of 6 left
    ev = evidence(site(world, leaf=fresh, served_report=served(world, leaf=fresh)))
    assert "cert_expiring" not in codes(ev)
    start = pki.now - datetime.timedelta(days=5)
    late = pki.leaf(world["inter"], cn=HOST, not_before=start, not_after=start + datetime.timedelta(days=6))
    found = diagnosis.diagnose(evidence(site(world, leaf=late, served_report=served(world, leaf=late))))
    expiring = [f for f in found if f["code"] == "cert_expiring"]
    assert expiring and "short-lived" in expiring[0]["evidence"][0]


def test_stapling_without_ocsp_still_names_a_missing_apache_cache(world):
    leaf = world["pki"].leaf(world["inter"], cn=HOST, ocsp_urls=[])
    ev = evidence(
        site(
            world,
            server="apache",
            stapling={"SSLStaplingCache": None},
            leaf=leaf,
            served_report=served(world, leaf=leaf, staple=None),
        )
    )
    assert codes(ev) == ["stapling_cache_missing", "stapling_without_ocsp"]
