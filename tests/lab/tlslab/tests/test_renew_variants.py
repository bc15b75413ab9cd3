"""Renewal variants (labctl renew --variant): the candidates a preflight judges.

Each variant is checked on the certificate itself, with `openssl verify`/`openssl ocsp` as the independent
check, on its own PKI (the shared one must keep the fixed hierarchy other tests count).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from tlslab import cli
from tlslab.pki import RENEW_VARIANTS, PkiError, build_pki, load_cert, load_key, public_der, utc_attr

from .conftest import CA_BASE, OCSP_BASE, lab_env, read_ready, start_responder, stop

UTC = datetime.timezone.utc


def openssl(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}  # openssl honours http_proxy
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=20, check=False, env=env)


def verify(pki, leaf, issuer_file=None, attime=None) -> subprocess.CompletedProcess:
    """openssl verify of the leaf against root-a with the given intermediate (default: the leaf's chain)."""
    args = ["verify", "-CAfile", str(pki.authority("root-a").cert_path)]
    args += ["-untrusted", str(issuer_file or leaf.chain_path), "-purpose", "sslserver"]
    if attime is not None:
        args += ["-attime", str(int(attime.timestamp()))]
    return openssl(*args, str(leaf.cert_path))


def aia(cert):
    try:
        descriptions = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return [], []
    ocsp = [d.access_location.value for d in descriptions if d.access_method == AuthorityInformationAccessOID.OCSP]
    issuers = [
        d.access_location.value for d in descriptions if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    ]
    return ocsp, issuers


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    built = build_pki(tmp_path_factory.mktemp("variants"), OCSP_BASE, CA_BASE)
    for name in ("plain", "nextint", "noocsp", "staple", "short", "future", "keep"):
        built.issue_leaf(name, [f"{name}.tlsfleet.test"])
    built.issue_leaf("ec-b", ["ecb.tlsfleet.test"], issuer="int-b", key_type="ecdsa")
    return built


def test_the_command_line_offers_exactly_the_pki_variants():
    assert cli.RENEW_VARIANTS == RENEW_VARIANTS
    args = cli.parser().parse_args(["renew", "www", "--variant", "no-ocsp-url", "--keep-key"])
    assert (args.leaf, args.variant, args.keep_key) == ("www", "no-ocsp-url", True)
    assert cli.parser().parse_args(["renew", "www"]).variant == "plain"


def test_plain_is_todays_renewal(pki):
    before = pki.leaf("plain")
    after = pki.renew_leaf("plain")
    assert after.variant == "plain" and after.serial != before.serial
    assert (after.issuer, after.ocsp_urls, after.must_staple) == ("int-a-rsa", (OCSP_BASE + "/int-a-rsa",), False)
    assert after.key_path.read_bytes() != (after.directory / "key.prev.pem").read_bytes()
    assert verify(pki, after).returncode == 0


def test_new_intermediate_has_a_new_key_and_name_under_the_same_root(pki):
    old_issuer = pki.leaf("nextint").issuer_path.read_bytes()
    leaf = pki.renew_leaf("nextint", variant="new-intermediate")
    assert leaf.variant == "new-intermediate" and leaf.issuer == "int-a-rsa-next"
    new_ca, old_ca = pki.authority("int-a-rsa-next"), pki.authority("int-a-rsa")
    assert new_ca.kind == "intermediate" and new_ca.issuer == "root-a"
    assert new_ca.subject != old_ca.subject
    new_cert, old_cert = load_cert(new_ca.cert_path), load_cert(old_ca.cert_path)
    assert public_der(new_cert.public_key()) != public_der(old_cert.public_key())
    assert public_der(load_key(new_ca.key_path).public_key()) == public_der(new_cert.public_key())
    # What a standard deployment sends and pins: chain.pem and issuer.pem are the new intermediate.
    assert leaf.chain_path.read_bytes() == new_ca.cert_path.read_bytes() == leaf.issuer_path.read_bytes()
    assert load_cert(leaf.cert_path).issuer == new_cert.subject
    assert verify(pki, leaf).returncode == 0
    # A node's pinned issuer file of the old intermediate goes stale: it no longer completes the chain.
    stale = pki.state_dir / "old-issuer.pem"
    stale.write_bytes(old_issuer)
    assert verify(pki, leaf, stale).returncode != 0
    assert aia(load_cert(leaf.cert_path)) == ([OCSP_BASE + "/int-a-rsa-next"], [CA_BASE + "/int-a-rsa-next.der"])
    assert aia(new_cert) == ([OCSP_BASE + "/root-a"], [CA_BASE + "/root-a.der"])


def test_new_intermediate_is_made_once_and_plain_goes_back_to_the_leafs_issuer(pki):
    first = pki.renew_leaf("nextint", variant="new-intermediate")
    serial = pki.authority("int-a-rsa-next").serial
    again = pki.renew_leaf("nextint", variant="new-intermediate")
    assert again.serial != first.serial and pki.authority("int-a-rsa-next").serial == serial
    back = pki.renew_leaf("nextint")
    assert (back.issuer, back.variant) == ("int-a-rsa", "plain")
    assert back.issuer_path.read_bytes() == pki.authority("int-a-rsa").cert_path.read_bytes()
    # The intermediate of a CA with a delegated OCSP signer signs its own answers.
    ec_leaf = pki.renew_leaf("ec-b", variant="new-intermediate")
    assert ec_leaf.issuer == "int-b-next" and pki.authority("int-b-next").issuer == "root-b"
    assert pki.authority("int-b-next").ocsp_signer is None and pki.authority("int-b-next").key_type == "ecdsa"


def test_the_responder_answers_good_for_the_new_intermediates_certificates(pki, tmp_path):
    leaf = pki.renew_leaf("nextint", variant="new-intermediate")
    process = start_responder(pki.state_dir, tmp_path)
    try:
        ready = read_ready(process)
        url = "http://{}/int-a-rsa-next".format(ready["ocsp"][0])
        result = openssl(
            "ocsp",
            "-issuer",
            str(leaf.issuer_path),
            "-cert",
            str(leaf.cert_path),
            "-url",
            url,
            "-CAfile",
            str(pki.authority("root-a").cert_path),
            "-timeout",
            "5",
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "Response verify OK" in output and f"{leaf.cert_path}: good" in output, output
    finally:
        assert stop(process)[0] == 0


def test_no_ocsp_url_keeps_ca_issuers_and_the_issuer(pki):
    leaf = pki.renew_leaf("noocsp", variant="no-ocsp-url")
    assert leaf.ocsp_urls == () and leaf.issuer == "int-a-rsa"
    assert aia(load_cert(leaf.cert_path)) == ([], [CA_BASE + "/int-a-rsa.der"])
    assert "OCSP - URI" not in openssl("x509", "-noout", "-text", "-in", str(leaf.cert_path)).stdout
    assert verify(pki, leaf).returncode == 0
    assert pki.renew_leaf("noocsp").ocsp_urls == (OCSP_BASE + "/int-a-rsa",)


def test_must_staple_carries_the_tls_feature(pki):
    leaf = pki.renew_leaf("staple", variant="must-staple")
    assert leaf.must_staple
    feature = load_cert(leaf.cert_path).extensions.get_extension_for_class(x509.TLSFeature).value
    assert list(feature) == [x509.TLSFeatureType.status_request]
    assert "status_request" in openssl("x509", "-noout", "-text", "-in", str(leaf.cert_path)).stdout
    assert leaf.ocsp_urls == (OCSP_BASE + "/int-a-rsa",)
    assert not pki.renew_leaf("staple").must_staple


def test_short_lived_is_valid_now_for_at_most_seven_days(pki):
    leaf = pki.renew_leaf("short", variant="short-lived")
    cert = load_cert(leaf.cert_path)
    lifetime = utc_attr(cert, "not_valid_after") - utc_attr(cert, "not_valid_before")
    assert datetime.timedelta(days=5) < lifetime <= datetime.timedelta(days=7)
    assert verify(pki, leaf).returncode == 0
    later = datetime.datetime.now(UTC) + datetime.timedelta(days=8)
    assert verify(pki, leaf, attime=later).returncode != 0


def test_not_yet_valid_starts_two_days_ahead(pki):
    leaf = pki.renew_leaf("future", variant="not-yet-valid")
    cert = load_cert(leaf.cert_path)
    now = datetime.datetime.now(UTC)
    start = utc_attr(cert, "not_valid_before")
    assert now + datetime.timedelta(days=1) < start <= now + datetime.timedelta(days=2, minutes=1)
    assert utc_attr(cert, "not_valid_after") - start == datetime.timedelta(days=90)
    result = verify(pki, leaf)
    assert result.returncode != 0 and "not yet valid" in result.stdout + result.stderr
    assert verify(pki, leaf, attime=start + datetime.timedelta(hours=1)).returncode == 0


def test_keep_key_keeps_the_key_across_a_variant(pki):
    before = pki.leaf("keep").key_path.read_bytes()
    leaf = pki.renew_leaf("keep", new_key=False, variant="new-intermediate")
    assert leaf.key_path.read_bytes() == before and leaf.issuer == "int-a-rsa-next"


def test_a_scenario_issue_after_a_variant_gives_the_scenarios_certificate_again(pki):
    pki.renew_leaf("short", variant="short-lived")
    again = pki.issue_leaf("short", ["short.tlsfleet.test"])
    assert again.variant == "plain"
    lifetime = utc_attr(load_cert(again.cert_path), "not_valid_after") - datetime.datetime.now(UTC)
    assert lifetime > datetime.timedelta(days=80)


def test_unknown_variant_is_refused_clearly(pki):
    serial = pki.leaf("plain").serial
    with pytest.raises(PkiError, match="unknown renewal variant 'expired'; choose one of plain, new-intermediate"):
        pki.renew_leaf("plain", variant="expired")
    assert pki.leaf("plain").serial == serial


def test_pki_command_line_renews_with_a_variant(pki):
    command = [sys.executable, "-m", "tlslab.pki", "--state", str(pki.state_dir), "renew", "staple"]
    result = subprocess.run(
        [*command, "--variant", "must-staple", "--keep-key"],
        capture_output=True,
        text=True,
        env=lab_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    pki.refresh()
    assert json.loads(result.stdout)["serial"] == pki.leaf("staple").serial and pki.leaf("staple").must_staple
    bad = subprocess.run(
        [*command, "--variant", "nope"], capture_output=True, text=True, env=lab_env(), timeout=60, check=False
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr and "Traceback" not in bad.stderr
