"""tlslab.sweepgen: generated scenarios are reproducible, valid for the lab, and cover the vocabulary."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tlslab import scenario, sweepgen

SEEDS = range(300)


@pytest.fixture(scope="module")
def generated():
    return {seed: sweepgen.generate(seed) for seed in SEEDS}


def test_same_seed_same_scenario_other_seed_other_scenario():
    assert sweepgen.generate(42) == sweepgen.generate(42)
    assert sweepgen.generate(42)["scenario"] != sweepgen.generate(43)["scenario"]


def test_every_generated_scenario_is_valid_for_the_lab(generated):
    for seed, gen in generated.items():
        scen = scenario.parse(gen["scenario"], Path(f"sweep-{seed}.yml"))
        assert 2 <= len(scen.nodes) <= 3
        for node in scen.nodes:
            assert 1 <= len(node.sites) <= 3
            assert len({s.leaf for s in node.sites}) == len(node.sites)  # one hostname -> one site per node
            not_running = set(node.server_down) | set(node.faults.stopped)
            assert set(gen["not_running"][node.name]) == not_running
            for site in node.sites:
                assert (site.staple == "no_server") == (site.server in not_running)


def test_leaves_share_a_responder_url(generated):
    for gen in generated.values():
        leaves = gen["scenario"]["leaves"]
        used = {s["leaf"] for n in gen["scenario"]["nodes"] for s in n["sites"]}
        assert sum(1 for name in used if leaves[name]["issuer"] == "int-a-rsa") >= sweepgen.SHARED_CA_LEAVES


def test_the_vocabulary_is_covered(generated):
    seen = Counter()
    for gen in generated.values():
        for leaf in gen["scenario"]["leaves"].values():
            seen["mode:" + (leaf["ocsp"]["mode"] if isinstance(leaf["ocsp"], dict) else leaf["ocsp"])] += 1
            seen["validity:" + leaf["validity"]] += 1
            seen["must_staple"] += leaf["must_staple"]
        for node in gen["scenario"]["nodes"]:
            faults = node.get("faults", {})
            seen["egress:%s" % faults.get("egress", {}).get("ocsp")] += 1
            seen["resolv:%s" % faults.get("resolv", "lab")] += 1
            seen["stopped"] += bool(faults.get("stopped"))
            for server in node.get("server_down", []):
                seen["down:" + server] += 1
            for site in node["sites"]:
                seen["server:" + site["server"]] += 1
                seen["chain:" + site["chain"]] += 1
                if site["server"] == "nginx":
                    seen["resolver:" + site["stapling"]["resolver"]] += 1
                    seen["nginx_file:" + site["stapling"]["file"]] += 1
                if site["server"] == "haproxy":
                    seen["ocsp_file:" + site["stapling"]["ocsp_file"]] += 1
    wanted = {"mode:" + m for m, _w in sweepgen.VOCABULARY["responder_mode"]}
    wanted |= {"resolver:" + r for r, _w in sweepgen.VOCABULARY["nginx_resolver"]}
    wanted |= {"chain:" + c for c, _w in sweepgen.VOCABULARY["chain"]}
    wanted |= {"server:nginx", "server:apache", "server:haproxy", "down:apache", "down:haproxy", "stopped"}
    wanted |= {"egress:reject", "egress:drop", "resolv:nowhere", "validity:expired", "validity:expiring"}
    wanted |= {"must_staple", "nginx_file:good", "nginx_file:other", "ocsp_file:none", "ocsp_file:expired"}
    assert {w for w in wanted if not seen[w]} == set()
    assert not set(sweepgen.EXCLUDED) & {m for m, _w in sweepgen.VOCABULARY["responder_mode"]}


def test_static_staples_only_where_the_lab_can_fetch_them(generated):
    for gen in generated.values():
        leaves = gen["scenario"]["leaves"]
        for node in gen["scenario"]["nodes"]:
            for site in node["sites"]:
                variant = site["stapling"].get("file") or site["stapling"].get("ocsp_file") or "none"
                leaf = leaves[site["leaf"]]
                mode = leaf["ocsp"]["mode"] if isinstance(leaf["ocsp"], dict) else leaf["ocsp"]
                assert variant == "none" or leaf["issuer"] != "int-n"
                assert variant != "good" or mode in sweepgen.FILE_MODES


@pytest.mark.parametrize(
    ("server", "sites", "refused"),
    [
        ("apache", [{"stapling": {"enabled": True, "cache": False}}], True),
        ("apache", [{"stapling": {"enabled": False, "cache": False}}], False),
        (
            "apache",
            [{"stapling": {"enabled": False, "cache": False}}, {"stapling": {"enabled": True, "cache": True}}],
            True,
        ),
        ("haproxy", [{"chain": "leaf_only", "stapling": {"ocsp_file": "good"}}], True),
        ("haproxy", [{"chain": "leaf_only", "stapling": {"ocsp_file": "none"}}], False),
        ("haproxy", [{"chain": "full", "stapling": {"ocsp_file": "other"}}], False),
        ("nginx", [{"chain": "leaf_only", "stapling": {"file": "good"}}], False),
    ],
)
def test_refuses_to_start(server, sites, refused):
    assert sweepgen.refuses_to_start(server, sites) is refused


def test_packed_scenarios_stay_apart_and_valid():
    seeds = [11, 12, 13, 14, 15]
    packed = sweepgen.pack(seeds)
    scen = scenario.parse(packed["scenario"], Path("sweep-packed.yml"))
    alone = {seed: sweepgen.generate(seed) for seed in seeds}
    assert len(scen.nodes) == sum(len(gen["scenario"]["nodes"]) for gen in alone.values())
    assert len(packed["scenario"]["leaves"]) == sum(len(gen["scenario"]["leaves"]) for gen in alone.values())
    for node in scen.nodes:
        seed = sweepgen.seed_of(node.name)
        assert seed in seeds
        assert all(site.leaf.startswith(f"s{seed}-") for site in node.sites)
        assert set(packed["sites"][node.name]) == {f"{site.leaf}.{sweepgen.DOMAIN}" for site in node.sites}
    # the same seed packed alone or with others: the same nodes, sites and faults
    assert sweepgen.pack([13])["scenario"]["nodes"] == [
        n for n in packed["scenario"]["nodes"] if sweepgen.seed_of(n["name"]) == 13
    ]
    # renaming changes names only: a seed's faults and stapling configuration are its own
    for original, renamed in zip(alone[12]["scenario"]["nodes"], sweepgen.pack([12])["scenario"]["nodes"]):
        assert original.get("faults") == renamed.get("faults")
        assert [s["stapling"] for s in original["sites"]] == [s["stapling"] for s in renamed["sites"]]
