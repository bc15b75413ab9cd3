# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sites a certificate goes to: the rollout's preflight gate (module_utils/preflight.py judge, on the node) and
the rollout planner (plugin_utils/remediation.py plan_rollout, on the controller) must name the same sites, with
the same hostnames, whatever the shape of the site (review of issue 16)."""

from __future__ import annotations

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.plugins.module_utils import preflight, x509
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import remediation


class Node:
    """One node's evidence, built site by site with real configured certificates."""

    def __init__(self, pki):
        self.pki = pki
        _root, (self.inter,), _leaf = pki.chain()
        self.certificates = records.Certificates()
        self.sites = []

    def unit(self, server, block, number, hostnames, configured_dns, kind="ec"):
        """A certificate entry ``number`` of the block ``block``; ``configured_dns`` None: its certificate was not
        read."""
        leaf = None
        if configured_dns is not None:
            cert = self.pki.leaf(self.inter, cn=configured_dns[0], dns=configured_dns, kind=kind).cert
            leaf = self.certificates.add(x509.describe(cert).to_dict())
        site_id = "%s:/etc/%s/%s.conf:1" % (server, server, block)
        self.sites.append(
            records.Site(
                key="%s#%d" % (site_id, number),
                server=server,
                site=site_id,
                source="/etc/%s/%s.conf:1" % (server, block),
                hostnames=list(hostnames),
                stapling={"ssl_stapling": True} if server == "nginx" else {},
                configured=records.Configured(
                    certificate_file="/etc/tls/%s-%d.pem" % (block, number),
                    key_file="/etc/tls/%s-%d.key" % (block, number),
                    leaf=leaf,
                    key_matches=leaf is not None,
                ),
            )
        )
        return self.sites[-1].key

    def evidence(self):
        return records.Evidence(certificates=self.certificates, sites=list(self.sites))

    def candidate(self, dns, kind="ec"):
        leaf = self.pki.leaf(self.inter, cn=dns[0], dns=dns, kind=kind)
        return preflight.load_candidate(leaf.pem.decode(), self.inter.pem.decode())


def gate_and_planner(node, candidate):
    """(site key -> hostnames) as the preflight judges them, and as the rollout plan deploys and verifies them."""
    evidence = node.evidence()
    judged = {r.key: r.hostnames for r in preflight.judge(evidence, candidate, None, {}, [])}
    entry = {
        "name": "candidate",
        "certificate": "/ca/candidate.pem",
        "key": "/ca/candidate.key",
        "san_dns": candidate.info.san_dns,
        "sha256": candidate.info.sha256,
        "ocsp_urls": candidate.info.ocsp_urls,
        "key_type": candidate.info.key_type,
        "hosts": ["n1"],
    }
    plan = remediation.plan_rollout({"evidence": evidence.to_dict()}, entry, "n1")
    assert plan["sites"] == [d["site_key"] for d in plan["deployments"]]
    deployed = {v["key"]: v["hostnames"] for v in plan["verify"]}
    return judged, deployed


SHAPES = {
    # nginx serves www.example.test with another site's certificate: the candidate goes there, and is judged there.
    "mis-deployed": (
        [("nginx", "www", 0, ["www.example.test"], ["other.example.test"])],
        ["www.example.test"],
        {0: ["www.example.test"]},
    ),
    # RFC 6125: one label; *.test covers nothing (two labels after the wildcard, as OpenSSL).
    "wildcard": (
        [
            ("nginx", "a", 0, ["a.example.test"], ["*.example.test"]),
            ("nginx", "deep", 0, ["a.b.example.test"], ["a.b.example.test"]),
            ("nginx", "apex", 0, ["example.test"], ["example.test"]),
        ],
        ["*.example.test"],
        {0: ["a.example.test"]},
    ),
    "one-label wildcard": (
        [("apache", "apex", 0, ["example.test"], ["example.test"])],
        ["*.test"],
        {},
    ),
    # HAProxy crt-list with SNI filters: every certificate of the section lists the section's names; the candidate
    # replaces the certificate that serves its names, not its neighbour's.
    "haproxy crt-list": (
        [
            ("haproxy", "lb", 0, ["www.example.test", "api.example.test"], ["www.example.test"]),
            ("haproxy", "lb", 1, ["www.example.test", "api.example.test"], ["api.example.test"]),
            ("haproxy", "lb", 2, ["www.example.test", "api.example.test"], ["old.example.test"]),
        ],
        ["www.example.test"],
        {0: ["www.example.test"]},
    ),
    # A name given as its U-label is the certificate's A-label.
    "idn": (
        [("apache", "idn", 0, ["bücher.example.test"], ["xn--bcher-kva.example.test"])],
        ["xn--bcher-kva.example.test"],
        {0: ["bücher.example.test"]},
    ),
    # A site whose names the candidate covers only in part gets nothing (its other names would break).
    "partial": (
        [("nginx", "two", 0, ["www.example.test", "shop.example.test"], ["www.example.test", "shop.example.test"])],
        ["www.example.test"],
        {},
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_gate_judges_exactly_the_sites_the_rollout_deploys(pki, shape):
    units, candidate_dns, wanted = SHAPES[shape]
    node = Node(pki)
    keys = [node.unit(*unit) for unit in units]
    judged, deployed = gate_and_planner(node, node.candidate(candidate_dns))
    assert judged == deployed
    assert deployed == {keys[index]: names for index, names in wanted.items()}


def test_an_unread_certificate_of_a_shared_section_gets_the_candidate_only_for_all_its_names(pki):
    node = Node(pki)
    node.unit("haproxy", "lb", 0, ["www.example.test", "api.example.test"], ["api.example.test"])
    unread = node.unit("haproxy", "lb", 1, ["www.example.test", "api.example.test"], None)
    for dns, wanted in ((["www.example.test"], {}), (["www.example.test", "api.example.test"], None)):
        judged, deployed = gate_and_planner(node, node.candidate(dns))
        assert judged == deployed
        if wanted is not None:
            assert deployed == wanted
        else:
            assert unread in deployed


@pytest.mark.parametrize("server", ["nginx", "apache", "haproxy"])
def test_a_renewal_replaces_the_certificate_of_its_own_key_algorithm_in_a_dual_block(pki, server):
    """A block serving one name with an RSA and an ECDSA certificate: an RSA renewal goes to the RSA entry only
    (the ECDSA certificate and key stay), an ECDSA one to the ECDSA entry; an entry whose certificate was not read
    still gets it (nothing says it is of another algorithm)."""
    node = Node(pki)
    names = ["www.example.test"]
    rsa_entry = node.unit(server, "dual", 0, names, names, kind="rsa")
    ec_entry = node.unit(server, "dual", 1, names, names, kind="ec")
    for kind, wanted in (("rsa", rsa_entry), ("ec", ec_entry)):
        judged, deployed = gate_and_planner(node, node.candidate(names, kind=kind))
        assert judged == deployed == {wanted: names}
    unread = node.unit(server, "dual", 2, names, None)
    judged, deployed = gate_and_planner(node, node.candidate(names, kind="rsa"))
    assert judged == deployed == {rsa_entry: names, unread: names}
    # a site with one certificate takes a renewal of another algorithm (switching RSA to ECDSA is a renewal too)
    single = Node(pki)
    only = single.unit(server, "one", 0, names, names, kind="rsa")
    judged, deployed = gate_and_planner(single, single.candidate(names, kind="ec"))
    assert judged == deployed == {only: names}


def test_compact_evidence_keeps_the_key_type_the_controller_decides_by(pki):
    node = Node(pki)
    node.unit("nginx", "www", 0, ["www.example.test"], ["www.example.test"], kind="rsa")
    (record,) = node.evidence().to_dict()["certificates"].values()
    assert record["key_type"] == "RSA-2048"
