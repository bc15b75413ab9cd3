"""The lab CA's CRLs: the `crl:` scenario key, the leaf's distribution point, the CRL each mode publishes (judged by
`openssl crl`, independent of what wrote it), the responder's CRL listener, and the oracle's expectations."""

from __future__ import annotations

import datetime
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509

from tlslab import oracle, scenario, services
from tlslab.netns import LabError
from tlslab.pki import build_pki, load_cert

from .conftest import CA_BASE, OCSP_BASE, http_request

UTC = datetime.timezone.utc
MODES = ("good", "revoked", "stale", "wrong_signer", "delta", "shard", "closed")


def parse(crl, issuer="int-n", faults=None):
    node = {"name": "n1", "region": "eu", "sites": [{"server": "nginx", "leaf": "x"}]}
    if faults:
        node["faults"] = faults
    return scenario.parse(
        {"leaves": {"x": {"hostnames": ["x.test"], "issuer": issuer, "crl": crl}}, "nodes": [node]}, Path("crl.yml")
    )


def openssl_crl(path: Path, *args: str) -> str:
    proc = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(path), "-noout", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return proc.stdout + proc.stderr


def test_the_crl_key_is_validated_and_defaults_to_none():
    assert parse("revoked").leaves["x"].crl == "revoked"
    assert (
        scenario.parse(
            {"leaves": {"x": {"hostnames": ["x.test"]}}, "nodes": [{"name": "n1", "region": "eu"}]}, Path("a.yml")
        )
        .leaves["x"]
        .crl
        == "none"
    )
    with pytest.raises(LabError, match=r"crl: 'maybe' is not one of none, good, revoked"):
        parse("maybe")
    assert parse("good", faults={"egress": {"crl": "drop"}}).nodes[0].faults.egress == {"crl": "drop"}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A PKI and one leaf per CRL mode, published as the lab does at up."""
    state = tmp_path_factory.mktemp("crlstate")
    pki = build_pki(state, OCSP_BASE, CA_BASE)
    leaves = {
        mode.replace("_", "-"): scenario.Leaf(
            name="crl-" + mode.replace("_", "-"),
            hostnames=[f"{mode[:5]}.test"],
            issuer="int-n",
            ocsp_url=False,
            crl=mode,
        )
        for mode in MODES
    }
    leaves["plain"] = scenario.Leaf(name="plain", hostnames=["plain.test"])
    fake = SimpleNamespace(leaves={leaf.name: leaf for leaf in leaves.values()})
    for leaf in fake.leaves.values():
        services._issue(pki, leaf)
    services.publish_crls(fake, pki, state)
    return SimpleNamespace(pki=pki, state=state, crls=services.crl_dir(state))


def test_a_leaf_names_its_own_crl_and_closed_names_a_dead_port(published):
    def dp(name):
        cert = load_cert(published.pki.leaf(name).cert_path)
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        return [n.value for p in points for n in p.full_name]

    assert dp("crl-good") == ["http://crl.tlsfleet.test/crl/crl-good.crl"]
    assert dp("crl-closed") == ["http://crl.tlsfleet.test:81/crl/crl-closed.crl"]
    with pytest.raises(x509.ExtensionNotFound):
        load_cert(published.pki.leaf("plain").cert_path).extensions.get_extension_for_class(x509.CRLDistributionPoints)
    assert not (published.crls / "plain.crl").exists()


@pytest.mark.parametrize(
    ("name", "verify", "revoked", "stale"),
    [
        ("crl-good", "verify OK", False, False),
        ("crl-revoked", "verify OK", True, False),
        ("crl-stale", "verify OK", False, True),
        ("crl-wrong-signer", "verify failure", False, False),
        ("crl-delta", "verify OK", False, False),
        ("crl-shard", "verify OK", False, False),
        ("crl-closed", "verify OK", False, False),
    ],
)
def test_each_mode_publishes_what_openssl_sees(published, name, verify, revoked, stale):
    leaf = published.pki.leaf(name)
    path = published.crls / f"{name}.crl"
    assert verify in openssl_crl(path, "-CAfile", str(leaf.issuer_path))
    text = openssl_crl(path, "-text")
    listed = {serial.lstrip("0") for serial in re.findall(r"Serial Number: ([0-9A-F]+)", text)}
    assert (leaf.serial.upper().lstrip("0") in listed) is revoked
    assert services.NOT_REVOKED_SERIAL.upper() in text  # a good CRL is never an empty one
    next_update = datetime.datetime.strptime(
        text.split("Next Update: ")[1].split(" GMT")[0] + " GMT", "%b %d %H:%M:%S %Y %Z"
    ).replace(tzinfo=UTC)
    assert (next_update < datetime.datetime.now(UTC)) is stale


def test_the_ca_listener_serves_published_crls(published, tmp_path):
    from .conftest import read_ready, start_responder, stop

    process = start_responder(published.state, tmp_path)
    try:
        ready = read_ready(process)
        address = ready["ca_issuers"][0]
        status, headers, body = http_request(address, "GET", "/crl/crl-revoked.crl")
        assert (status, headers["content-type"]) == (200, "application/pkix-crl")
        assert body == (published.crls / "crl-revoked.crl").read_bytes()
        assert http_request(address, "GET", "/crl/nope.crl")[0] == 404
        assert http_request(address, "GET", "/crl/../manifest.crl")[0] == 404
    finally:
        assert stop(process)[0] == 0


@pytest.mark.parametrize(
    ("mode", "faults", "expected"),
    [
        ("good", {}, "good"),
        ("revoked", {}, "revoked"),
        ("stale", {}, "stale"),
        ("wrong_signer", {}, "invalid"),
        ("delta", {}, "invalid"),
        ("shard", {}, "invalid"),
        ("closed", {}, "unreachable"),
        ("revoked", {"egress": {"crl": "reject"}}, "unreachable"),
        ("good", {"resolv": "nowhere"}, "unreachable"),
        ("good", {"egress": {"ocsp": "reject"}}, "good"),
    ],
)
def test_the_oracle_expects_what_the_mode_and_the_faults_give(mode, faults, expected):
    parsed = parse(mode, faults=faults)
    assert oracle.expected_crl(parsed.nodes[0], parsed.leaves["x"]) == expected


def test_delta_and_shard_crls_carry_the_scope_openssl_shows(published):
    """A delta CRL and a CRL of another shard are signed and current; their scope is what makes them unusable."""
    delta = openssl_crl(published.crls / "crl-delta.crl", "-text")
    assert "Delta CRL Indicator: critical" in delta
    shard = openssl_crl(published.crls / "crl-shard.crl", "-text")
    assert "Issuing Distribution Point: critical" in shard
    assert "URI:http://crl.tlsfleet.test/crl/crl-shard-shard-2.crl" in shard
    assert "URI:http://crl.tlsfleet.test/crl/crl-shard.crl" not in shard
