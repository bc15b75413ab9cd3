"""Scenarios with a candidate (preflight:) and per-site preflight_expect: validation, and the oracle's computation
of what node_audit's preflight must say (tlslab.oracle.expected_preflight), with no lab and no root."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tlslab import oracle, pki, scenario
from tlslab.netns import LabError

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
WITH_CANDIDATE = sorted(p for p in SCENARIOS.rglob("*.yml") if "preflight:" in p.read_text())


def parse(text: str) -> scenario.Scenario:
    return scenario.parse(yaml.safe_load(text), Path("test.yml"))


BASE = """
leaves:
  shop: {hostnames: [www.shop.test]}
  api: {hostnames: [api.shop.test], issuer: int-a-ec, key_type: ecdsa}
preflight: {leaf: shop, variant: %s}
nodes:
  - name: n1
    region: eu
    sites:
      - {server: %s, leaf: shop, stapling: %s, preflight_expect: %s}
      - {server: %s, leaf: api, port: 8443}
"""


def computed(variant="plain", server="nginx", stapling="{}", expect="ready", **leaf):
    text = BASE % (variant, server, stapling, expect, server)
    data = yaml.safe_load(text)
    data["leaves"]["shop"].update(leaf)
    scen = scenario.parse(data, Path("test.yml"))
    return oracle.expected_preflight(scen)["n1"]["%s:443:shop" % server], scen


def test_the_variants_are_the_pkis():
    assert scenario.PREFLIGHT_VARIANTS == pki.RENEW_VARIANTS


def test_a_scenario_names_its_candidate_and_what_each_covered_site_expects():
    scen = parse(BASE % ("no-ocsp-url", "nginx", "{}", "{verdict: ready, checks: {ocsp_url: warning}}", "nginx"))
    assert vars(scen.preflight) == {"leaf": "shop", "variant": "no-ocsp-url", "new_key": False}
    shop, api = scen.nodes[0].sites
    assert shop.preflight_expect == {"verdict": "ready", "checks": {"ocsp_url": "warning"}}
    assert api.preflight_expect is None and not scenario.preflight_covers(scen, api)
    assert parse(BASE % ("plain", "nginx", "{}", "ready", "nginx")).nodes[0].sites[0].preflight_expect == {
        "verdict": "ready",
        "checks": {},
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["preflight"].update(variant="expired"), "preflight.variant: 'expired' is not one of plain"),
        (lambda d: d["preflight"].update(leaf="nope"), "preflight.leaf: 'nope' is not defined under leaves"),
        (lambda d: d["preflight"].update(keep=True), "preflight: unknown key(s) keep"),
        (lambda d: d["nodes"][0]["sites"][0].pop("preflight_expect"), "the candidate covers this site"),
        (lambda d: d["nodes"][0]["sites"][1].update(preflight_expect="ready"), "names do not cover"),
        (lambda d: d.pop("preflight"), "preflight_expect without a candidate"),
        (lambda d: d["nodes"][0]["sites"][0].update(preflight_expect="fine"), "'fine' is not one of ready"),
        (
            lambda d: d["nodes"][0]["sites"][0].update(preflight_expect={"verdict": "ready", "checks": {"keys": "ok"}}),
            "checks: unknown key(s) keys",
        ),
        (
            lambda d: d["nodes"][0]["sites"][0].update(
                preflight_expect={"verdict": "ready", "checks": {"chain": "bad"}}
            ),
            "chain: 'bad' is not one of ok, warning, change, fail",
        ),
        (lambda d: d["nodes"][0]["sites"][0].update(preflight_expect={"checks": {}}), "give the verdict"),
    ],
)
def test_bad_preflight_sections_are_refused_clearly(change, message):
    data = yaml.safe_load(BASE % ("plain", "nginx", "{}", "ready", "nginx"))
    change(data)
    with pytest.raises(LabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        scenario.parse(data, Path("test.yml"))


def test_plain_renewal_is_ready_everywhere_it_can_tell():
    for server in ("nginx", "apache", "haproxy"):
        got, _scen = computed(server=server)
        assert got["verdict"] == ("ready_after_change" if server == "haproxy" else "ready"), (server, got)
        assert got["checks"]["staple_file"] == ("change" if server == "haproxy" else "ok")


def test_new_intermediate_stales_pinned_files_only():
    assert computed("new-intermediate")[0]["checks"]["issuer_file"] == "change"  # nginx, trusted = old hierarchy
    assert computed("new-intermediate", stapling="{verify: false}")[0]["checks"]["issuer_file"] == "ok"
    assert computed("new-intermediate", stapling="{enabled: false}")[0]["checks"]["issuer_file"] == "ok"
    assert computed("plain", stapling="{trusted: issuer_only}")[0]["checks"]["issuer_file"] == "change"
    assert computed("new-intermediate", "haproxy", "{issuer_file: true}")[0]["checks"]["issuer_file"] == "change"
    assert computed("plain", "haproxy", "{issuer_file: true}")[0]["checks"]["issuer_file"] == "ok"
    assert computed("new-intermediate", "haproxy")[0]["checks"]["issuer_file"] == "ok"
    assert computed("new-intermediate", "apache")[0]["checks"]["issuer_file"] == "ok"
    assert computed("plain", stapling="{trusted: none}")[0]["verdict"] is None  # the oracle does not decide it


def test_no_ocsp_url_warns_where_stapling_is_on():
    assert computed("no-ocsp-url")[0]["checks"]["ocsp_url"] == "warning"
    assert computed("no-ocsp-url", stapling="{enabled: false}")[0]["checks"]["ocsp_url"] == "ok"
    assert computed("no-ocsp-url", "apache")[0]["checks"]["ocsp_url"] == "warning"
    got = computed("no-ocsp-url", "haproxy")[0]
    assert (got["checks"]["ocsp_url"], got["checks"]["staple_file"], got["verdict"]) == (
        "warning",
        "change",
        "ready_after_change",
    )
    assert computed("no-ocsp-url", "haproxy", "{ocsp_file: none}")[0]["checks"]["ocsp_url"] == "ok"


def test_validity_must_staple_and_the_responder():
    assert computed("not-yet-valid")[0]["verdict"] == "will_break"
    assert computed("short-lived")[0]["checks"]["validity"] == "warning"
    assert computed("must-staple")[0]["checks"]["must_staple"] == "ok"
    assert computed("must-staple", stapling="{enabled: false}")[0]["checks"]["must_staple"] == "change"
    assert computed("must-staple", ocsp_url=False)[0]["verdict"] == "will_break"
    assert computed("plain", ocsp="revoked")[0]["checks"]["responder"] == "fail"
    assert computed("plain", ocsp="try_later")[0]["checks"]["responder"] is None
    _got, scen = computed("must-staple")
    scen.nodes[0].faults.egress = {"ocsp": "reject"}
    blocked = oracle.expected_preflight(scen)["n1"]["nginx:443:shop"]
    assert (blocked["checks"]["responder"], blocked["checks"]["must_staple"], blocked["verdict"]) == (
        "warning",
        "fail",
        "will_break",
    )


@pytest.mark.parametrize("path", WITH_CANDIDATE, ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_shipped_preflight_scenarios_agree_with_the_oracle(path):
    scen = scenario.load(path)
    assert oracle.preflight_problems(scen) == []
    computed_sites = oracle.expected_preflight(scen)
    expected = {n.name: sum(s.preflight_expect is not None for s in n.sites) for n in scen.nodes}
    assert {n: len(sites) for n, sites in computed_sites.items()} == {n: c for n, c in expected.items() if c}
    assert all(site["verdict"] is not None for sites in computed_sites.values() for site in sites.values())


def test_the_shipped_scenarios_cover_the_acceptance_cases():
    by_variant = {scenario.load(p).preflight.variant: scenario.load(p) for p in WITH_CANDIDATE}
    stale = oracle.expected_preflight(by_variant["new-intermediate"])
    named = {
        (n, k.split(":")[0])
        for n, sites in stale.items()
        for k, s in sites.items()
        if s["checks"]["issuer_file"] == "change"
    }
    assert {server for _node, server in named} == {"nginx", "haproxy"}
    sunset = oracle.expected_preflight(by_variant["no-ocsp-url"])
    kinds = {
        (k.split(":")[0], s["checks"]["ocsp_url"], s["checks"]["staple_file"])
        for sites in sunset.values()
        for k, s in sites.items()
    }
    assert {
        ("nginx", "warning", "ok"),
        ("apache", "warning", "ok"),
        ("haproxy", "warning", "change"),
        ("nginx", "ok", "ok"),
    } <= kinds
