"""`generate:` on a scenario leaf: one entry standing for N leaves, each with its own hostname (no root needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

LAB_ROOT = Path(__file__).resolve().parents[2]  # tests/lab
if str(LAB_ROOT) not in sys.path:
    sys.path.insert(0, str(LAB_ROOT))

from tlslab import scenario  # noqa: E402 - needs the path above
from tlslab.netns import LabError  # noqa: E402

MANY_NAMES = LAB_ROOT / "scenarios" / "bench" / "many_names.yml"


def parse(leaves, sites, extra_leaves=None):
    data = {
        "leaves": {**leaves, **(extra_leaves or {})},
        "nodes": [{"name": "n1", "region": "eu", "sites": sites}],
    }
    return scenario.parse(data, Path("gen.yml"))


def test_generate_expands_into_one_leaf_and_one_site_per_name():
    scen = parse(
        {"site": {"generate": {"count": 3, "pattern": "s{n}.bench.test"}, "issuer": "int-b", "key_type": "ecdsa"}},
        [{"server": "nginx", "leaf": "site", "staple": "good", "port": 8443}],
        extra_leaves={"www": {"hostnames": ["www.shop.test"]}},
    )
    assert list(scen.leaves) == ["site-1", "site-2", "site-3", "www"]
    assert scen.leaves["site-2"].hostnames == ["s2.bench.test"]
    assert {leaf.issuer for name, leaf in scen.leaves.items() if name != "www"} == {"int-b"}
    assert scen.leaves["site-3"].key_type == "ecdsa" and scen.leaves["www"].key_type == "rsa"
    assert scen.generated == {"site": ["site-1", "site-2", "site-3"]}
    sites = scen.nodes[0].sites
    assert [(s.name, s.leaf, s.hostnames, s.port) for s in sites] == [
        ("site-1", "site-1", ["s1.bench.test"], 8443),
        ("site-2", "site-2", ["s2.bench.test"], 8443),
        ("site-3", "site-3", ["s3.bench.test"], 8443),
    ]
    assert scenario.expect_by_hostname(scen.nodes[0]) == {f"s{n}.bench.test": [] for n in (1, 2, 3)}


def test_generate_start_and_ocsp_rule_apply_to_every_leaf():
    scen = parse(
        {"old": {"generate": {"count": 2, "pattern": "old{n}.bench.test", "start": 10}, "ocsp": "revoked"}},
        [{"server": "apache", "leaf": "old", "staple": "revoked", "expect": ["cert_revoked"]}],
    )
    assert list(scen.leaves) == ["old-10", "old-11"]
    assert all(leaf.ocsp["mode"] == "revoked" for leaf in scen.leaves.values())
    assert all(site.expect == ["cert_revoked"] and site.staple == "revoked" for site in scen.nodes[0].sites)


def test_int_n_generated_leaves_have_no_ocsp_url():
    scen = parse(
        {"n": {"generate": {"count": 2, "pattern": "n{n}.bench.test"}, "issuer": "int-n"}},
        [{"server": "nginx", "leaf": "n"}],
    )
    assert [leaf.ocsp_url for leaf in scen.leaves.values()] == [False, False]


@pytest.mark.parametrize(
    ("leaves", "sites", "message"),
    [
        ({"s": {"generate": {"count": 0, "pattern": "s{n}.t.test"}}}, [], "count: give a number of leaves from 1"),
        ({"s": {"generate": {"count": 1001, "pattern": "s{n}.t.test"}}}, [], "from 1 to 1000"),
        ({"s": {"generate": {"count": 2, "pattern": "s.t.test"}}}, [], "pattern: give one hostname with {n}"),
        ({"s": {"generate": {"count": 2, "pattern": "s{n}{n}.t.test"}}}, [], "pattern: give one hostname with {n}"),
        ({"s": {"generate": {"count": 2, "pattern": "S_{n}.t.test"}}}, [], "'S_1.t.test' is not a valid DNS name"),
        ({"s": {"generate": {"count": 2, "pattern": "s{n}.t.test", "step": 2}}}, [], "unknown key(s) step"),
        ({"s": {"generate": {"count": 2, "pattern": "s{n}.t.test", "start": -1}}}, [], "start: -1 is negative"),
        (
            {"s": {"generate": {"count": 2, "pattern": "s{n}.t.test"}, "hostnames": ["a.t.test"]}},
            [],
            "give either hostnames or generate, not both",
        ),
        (
            {"a" * 29: {"generate": {"count": 10, "pattern": "s{n}.t.test"}}},
            [],
            "generated leaf name %s-10 is too long" % ("a" * 29),
        ),
        (
            {"s": {"generate": {"count": 2, "pattern": "s{n}.t.test"}}, "s-2": {"hostnames": ["x.t.test"]}},
            [],
            "the leaf name s-2 is defined twice",
        ),
        (
            {"s": {"generate": {"count": 2, "pattern": "s{n}.t.test"}}},
            [{"server": "nginx", "leaf": "s", "hostnames": ["s1.t.test"]}],
            "hostnames: not allowed with a generated leaf",
        ),
        (
            {"s": {"generate": {"count": 2, "pattern": "s{n}.t.test"}}},
            [{"server": "nginx", "leaf": "s", "name": "x"}],
            "name: not allowed with a generated leaf",
        ),
        (
            {"s": {"generate": {"count": 2, "pattern": "s{n}.t.test"}}},
            [{"server": "nginx", "leaf": "s-3"}],
            "'s-3' is not defined under leaves",
        ),
        (
            {"s": {"generate": {"count": 2, "pattern": "s{n}.t.test", "staple": "good"}}},
            [],
            "unknown key(s) staple",
        ),
    ],
)
def test_generate_errors_are_one_clear_line(leaves, sites, message):
    with pytest.raises(LabError) as exc:
        parse(leaves, sites or [{"server": "nginx", "leaf": next(iter(leaves))}])
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_generated_site_can_be_used_alongside_plain_sites_and_per_site_settings():
    scen = parse(
        {"g": {"generate": {"count": 2, "pattern": "g{n}.t.test"}}, "www": {"hostnames": ["www.t.test"]}},
        [
            {"server": "nginx", "leaf": "www"},
            {"server": "nginx", "leaf": "g", "stapling": {"enabled": False}, "staple": "none"},
        ],
    )
    sites = scen.nodes[0].sites
    assert [s.name for s in sites] == ["www", "g-1", "g-2"]
    assert [s.stapling["enabled"] for s in sites] == [True, False, False]


def test_the_many_names_benchmark_scenario():
    scen = scenario.load(MANY_NAMES)
    assert len(scen.nodes) == 1
    node = scen.nodes[0]
    assert {s.server for s in node.sites} == {"nginx"}
    hostnames = [h for s in node.sites for h in s.hostnames]
    assert len(hostnames) == len(set(hostnames)) == 200
    assert len({s.leaf for s in node.sites}) == 200  # each its own certificate
    assert {leaf.issuer for leaf in scen.leaves.values()} == {"int-a-ec"}  # one responder URL
    assert all(s.staple == "good" and not s.expect for s in node.sites)
