"""The lab PKI: hierarchy, leaf files, AIA URLs, presets, idempotence and renewal.

`openssl verify` and `openssl x509` serve as an independent check of what cryptography wrote.
"""

from __future__ import annotations

import datetime
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from tlslab.pki import PRESETS, Pki, PkiError, build_pki, load_cert, load_key, public_der, utc_attr

from .conftest import CA_BASE, OCSP_BASE, lab_env

UTC = datetime.timezone.utc
ROOT_OF = {"int-a-rsa": "root-a", "int-a-ec": "root-a", "int-b": "root-b", "int-n": "root-n"}


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=20, check=False)


def aia(cert: x509.Certificate):
    try:
        descriptions = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return [], []
    ocsp = [d.access_location.value for d in descriptions if d.access_method == AuthorityInformationAccessOID.OCSP]
    issuers = [
        d.access_location.value for d in descriptions if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    ]
    return ocsp, issuers


def pem_blocks(data: bytes) -> list:
    marker = b"-----END CERTIFICATE-----\n"
    return [block + marker for block in data.split(marker) if block.strip()]


# ----------------------------------------------------------------------------- hierarchy


def test_hierarchy_has_the_documented_names_kinds_and_key_types(lab_pki):
    expected = {
        "root-a": ("root", rsa.RSAPublicKey),
        "int-a-rsa": ("intermediate", rsa.RSAPublicKey),
        "int-a-ec": ("intermediate", ec.EllipticCurvePublicKey),
        "root-b": ("root", ec.EllipticCurvePublicKey),
        "int-b": ("intermediate", ec.EllipticCurvePublicKey),
        "ocsp-signer-b": ("ocsp_signer", ec.EllipticCurvePublicKey),
        "root-n": ("root", rsa.RSAPublicKey),
        "int-n": ("intermediate", rsa.RSAPublicKey),
    }
    authorities = lab_pki.authorities
    assert set(authorities) == set(expected)
    for name, (kind, key_class) in expected.items():
        authority = authorities[name]
        cert = load_cert(authority.cert_path)
        assert authority.kind == kind
        # cryptography key classes are ABCs that pylint cannot see as types.
        assert isinstance(cert.public_key(), key_class), name  # pylint: disable=isinstance-second-argument-not-valid-type
        assert authority.serial == format(cert.serial_number, "x")
        assert public_der(load_key(authority.key_path).public_key()) == public_der(cert.public_key())
        assert stat.S_IMODE(authority.key_path.stat().st_mode) == 0o600
        assert authority.der_path.read_bytes() == cert.public_bytes(serialization.Encoding.DER)
    assert authorities["int-b"].ocsp_signer == "ocsp-signer-b"
    assert authorities["int-a-rsa"].ocsp_signer is None


@pytest.mark.parametrize("name", sorted(ROOT_OF))
def test_intermediates_chain_to_their_root_and_point_to_it(lab_pki, name):
    root = ROOT_OF[name]
    authority = lab_pki.authority(name)
    result = openssl("verify", "-CAfile", str(lab_pki.authority(root).cert_path), str(authority.cert_path))
    assert result.returncode == 0, result.stdout + result.stderr
    constraints = load_cert(authority.cert_path).extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    ocsp, issuers = aia(load_cert(authority.cert_path))
    assert issuers == [f"{CA_BASE}/{root}.der"]
    assert ocsp == ([] if root == "root-n" else [f"{OCSP_BASE}/{root}"])


def test_delegated_signer_is_issued_by_int_b_for_ocsp_signing_only(lab_pki):
    signer = lab_pki.authority("ocsp-signer-b")
    cert = load_cert(signer.cert_path)
    assert signer.issuer == "int-b"
    result = openssl(
        "verify",
        "-CAfile",
        str(lab_pki.authority("root-b").cert_path),
        "-untrusted",
        str(lab_pki.authority("int-b").cert_path),
        "-purpose",
        "ocsphelper",
        str(signer.cert_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.OCSP_SIGNING
    ]
    assert cert.extensions.get_extension_for_class(x509.OCSPNoCheck) is not None
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    text = openssl("x509", "-noout", "-text", "-in", str(signer.cert_path)).stdout
    assert "OCSP No Check" in text and "OCSP Signing" in text


# ----------------------------------------------------------------------------- leaves


@pytest.mark.parametrize(
    ("leaf_name", "issuer", "key_class"),
    [
        ("www-rsa", "int-a-rsa", rsa.RSAPublicKey),
        ("www-ec", "int-a-ec", ec.EllipticCurvePublicKey),
        ("www-b", "int-b", ec.EllipticCurvePublicKey),
        ("www-n", "int-n", rsa.RSAPublicKey),
    ],
)
def test_leaf_files_are_complete_and_verify(lab_pki, leaf_name, issuer, key_class):
    leaf = lab_pki.leaf(leaf_name)
    cert = load_cert(leaf.cert_path)
    issuer_cert = load_cert(lab_pki.authority(issuer).cert_path)
    assert leaf.issuer == issuer
    assert isinstance(cert.public_key(), key_class)
    assert public_der(load_key(leaf.key_path).public_key()) == public_der(cert.public_key())
    assert stat.S_IMODE(leaf.key_path.stat().st_mode) == 0o600
    assert pem_blocks(leaf.chain_path.read_bytes()) == [leaf.issuer_path.read_bytes()]
    assert leaf.issuer_path.read_bytes() == lab_pki.authority(issuer).cert_path.read_bytes()
    assert leaf.fullchain_path.read_bytes() == leaf.cert_path.read_bytes() + leaf.chain_path.read_bytes()
    assert cert.issuer == issuer_cert.subject
    assert leaf.serial == format(cert.serial_number, "x") and leaf.serial == leaf.serial.lower()
    result = openssl(
        "verify",
        "-CAfile",
        str(lab_pki.authority(ROOT_OF[issuer]).cert_path),
        "-untrusted",
        str(leaf.chain_path),
        "-purpose",
        "sslserver",
        str(leaf.cert_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fingerprint = openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", str(leaf.cert_path)).stdout
    assert fingerprint.split("=", 1)[1].strip().replace(":", "").lower() == leaf.sha256


def test_leaf_aia_urls_follow_the_issuer(lab_pki):
    assert aia(load_cert(lab_pki.leaf("www-rsa").cert_path)) == (
        [f"{OCSP_BASE}/int-a-rsa"],
        [f"{CA_BASE}/int-a-rsa.der"],
    )
    assert aia(load_cert(lab_pki.leaf("www-b").cert_path))[0] == [f"{OCSP_BASE}/int-b"]
    # int-n is the CA without OCSP (like Let's Encrypt since 2025): caIssuers only
    assert aia(load_cert(lab_pki.leaf("www-n").cert_path)) == ([], [f"{CA_BASE}/int-n.der"])
    assert lab_pki.leaf("www-n").ocsp_urls == ()
    san = load_cert(lab_pki.leaf("www-rsa").cert_path).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["www.tlsfleet.test"]
    assert [str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)] == ["198.18.1.10"]


def test_leaf_aia_urls_can_be_overridden(lab_pki):
    two = ["http://ocsp1.tlsfleet.test/int-a-rsa", "http://ocsp2.tlsfleet.test/int-a-rsa"]
    assert aia(load_cert(lab_pki.issue_leaf("two-urls", ["two.tlsfleet.test"], ocsp_urls=two).cert_path))[0] == two
    none = lab_pki.issue_leaf("no-aia", ["none.tlsfleet.test"], ocsp_urls=[], ca_issuers=False)
    with pytest.raises(x509.ExtensionNotFound):
        load_cert(none.cert_path).extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    forced = lab_pki.issue_leaf("n-with-ocsp", ["nw.tlsfleet.test"], issuer="int-n", ocsp_urls=[OCSP_BASE + "/int-n"])
    assert forced.ocsp_urls == (OCSP_BASE + "/int-n",)


def test_presets_and_explicit_dates(lab_pki):
    now = datetime.datetime.now(UTC)
    expired = load_cert(lab_pki.issue_leaf("old", ["old.tlsfleet.test"], preset="expired").cert_path)
    assert utc_attr(expired, "not_valid_after") < now
    expiring = load_cert(lab_pki.issue_leaf("soon", ["soon.tlsfleet.test"], preset="expiring").cert_path)
    assert now < utc_attr(expiring, "not_valid_after") < now + datetime.timedelta(days=7)
    staple = lab_pki.issue_leaf("staple", ["staple.tlsfleet.test"], preset="must_staple")
    assert staple.must_staple
    assert "status_request" in openssl("x509", "-noout", "-text", "-in", str(staple.cert_path)).stdout
    assert not lab_pki.leaf("www-rsa").must_staple
    assert (
        "status_request" not in openssl("x509", "-noout", "-text", "-in", str(lab_pki.leaf("www-rsa").cert_path)).stdout
    )
    dated = lab_pki.issue_leaf(
        "dated", ["dated.tlsfleet.test"], not_before="2026-01-01T00:00:00Z", not_after=datetime.datetime(2026, 3, 1)
    )
    assert (dated.not_before, dated.not_after) == ("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z")
    assert set(PRESETS) == {"expired", "expiring", "must_staple"}


def test_manifest_lists_every_certificate_with_its_files(lab_pki):
    manifest = json.loads(lab_pki.manifest_path.read_text())
    assert manifest["ocsp_url_base"] == OCSP_BASE and manifest["ca_issuers_url_base"] == CA_BASE
    entries = list(manifest["authorities"].values()) + list(manifest["leaves"].values())
    for entry in entries:
        cert = load_cert(Path(entry["paths"]["cert"]))
        assert entry["serial"] == format(cert.serial_number, "x")
        assert entry["subject"] == cert.subject.rfc4514_string()
        assert entry["not_after"] == utc_attr(cert, "not_valid_after").strftime("%Y-%m-%dT%H:%M:%SZ")
        assert entry["ocsp_urls"] == aia(cert)[0]
        assert entry["issuer"] in manifest["authorities"]
    leaf = manifest["leaves"]["www-rsa"]
    assert set(leaf["paths"]) == {"cert", "key", "chain", "fullchain", "issuer"}
    assert leaf["hostnames"] == ["www.tlsfleet.test", "198.18.1.10"]
    assert manifest["authorities"]["int-a-rsa"]["ocsp_url"] == OCSP_BASE + "/int-a-rsa"
    assert lab_pki.roots_path.read_bytes().count(b"BEGIN CERTIFICATE") == 3


# ----------------------------------------------------------------------------- changing leaves


def test_issue_is_idempotent_and_new_parameters_give_a_new_serial(lab_pki):
    first = lab_pki.issue_leaf("api", ["api.tlsfleet.test"])
    assert lab_pki.issue_leaf("api", ["api.tlsfleet.test"]) == first
    changed = lab_pki.issue_leaf("api", ["api.tlsfleet.test", "api2.tlsfleet.test"])
    assert changed.serial != first.serial
    assert changed.previous_serials == (first.serial,)
    assert load_cert(changed.directory / "cert.prev.pem").serial_number == int(first.serial, 16)
    # same key type: the key is kept, as when a CA reissues for the same CSR
    assert (changed.directory / "key.prev.pem").read_bytes() == changed.key_path.read_bytes()
    switched = lab_pki.issue_leaf("api", ["api.tlsfleet.test"], key_type="ecdsa")
    assert isinstance(load_key(switched.key_path), ec.EllipticCurvePrivateKey)
    assert switched.previous_serials == (first.serial, changed.serial)


def test_renew_keeps_name_and_parameters_with_new_serial_and_key(lab_pki):
    before = lab_pki.issue_leaf("renew-me", ["renew.tlsfleet.test"], issuer="int-a-ec", must_staple=True)
    old_cert, old_key = before.cert_path.read_bytes(), before.key_path.read_bytes()
    after = lab_pki.renew_leaf("renew-me")
    assert after.serial != before.serial
    assert (after.hostnames, after.issuer, after.must_staple) == (before.hostnames, before.issuer, True)
    assert after.key_path.read_bytes() != old_key
    directory = after.directory
    assert (directory / "cert.prev.pem").read_bytes() == old_cert
    assert (directory / "key.prev.pem").read_bytes() == old_key
    assert stat.S_IMODE((directory / "key.prev.pem").stat().st_mode) == 0o600
    previous = lab_pki.manifest["leaves"]["renew-me"]["previous"]
    assert previous["serial"] == before.serial and previous["paths"]["cert"] == str(directory / "cert.prev.pem")
    with pytest.raises(PkiError, match="no such leaf"):
        lab_pki.renew_leaf("never-issued")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "../escape"}, "invalid leaf name"),
        ({"name": "int-b"}, "not a CA name"),
        ({"hostnames": []}, "at least one hostname"),
        ({"key_type": "dsa"}, "key_type"),
        ({"issuer": "ocsp-signer-b"}, "unknown issuer"),
        ({"preset": "ancient"}, "unknown preset"),
        ({"not_after": "yesterday"}, "invalid date"),
        ({"not_before": "2026-02-01T00:00:00Z", "not_after": "2026-01-01T00:00:00Z"}, "ends"),
    ],
)
def test_bad_leaf_requests_are_refused_clearly(lab_pki, kwargs, message):
    arguments = {"name": "bad", "hostnames": ["bad.tlsfleet.test"], **kwargs}
    with pytest.raises(PkiError, match=message):
        lab_pki.issue_leaf(**arguments)
    assert "bad" not in lab_pki.leaves


def test_build_reuses_intact_material_and_regenerates_otherwise(tmp_path):
    first = build_pki(tmp_path, OCSP_BASE, CA_BASE)
    first.issue_leaf("keep", ["keep.tlsfleet.test"])
    serials = {name: a.serial for name, a in first.authorities.items()}
    again = build_pki(tmp_path, OCSP_BASE, CA_BASE)
    assert {name: a.serial for name, a in again.authorities.items()} == serials
    assert "keep" in again.leaves

    moved = build_pki(tmp_path, "http://ocsp.elsewhere.test", CA_BASE)
    assert moved.authority("root-a").serial != serials["root-a"]
    assert moved.leaves == {}  # leaves of the old hierarchy would not chain any more
    assert aia(load_cert(moved.authority("int-a-rsa").cert_path))[0] == ["http://ocsp.elsewhere.test/root-a"]

    moved.authority("int-b").key_path.write_bytes(b"damaged")
    repaired = build_pki(tmp_path, "http://ocsp.elsewhere.test", CA_BASE)
    assert repaired.authority("int-b").serial != moved.authority("int-b").serial

    forced = build_pki(tmp_path, "http://ocsp.elsewhere.test", CA_BASE, force=True)
    assert forced.authority("root-n").serial != repaired.authority("root-n").serial


def test_load_reports_missing_and_corrupt_state_clearly(tmp_path):
    with pytest.raises(PkiError, match=r"no lab PKI at .*build it first"):
        Pki.load(tmp_path / "nothing")
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "manifest.json").write_text("{not json")
    with pytest.raises(PkiError, match="corrupt PKI manifest"):
        Pki.load(tmp_path)
    with pytest.raises(PkiError, match="no leaf named"):
        build_pki(tmp_path, OCSP_BASE, CA_BASE).leaf("ghost")


def test_command_line_issues_and_reports_errors_without_traceback(lab_pki, tmp_path):
    def run(*args):
        command = [sys.executable, "-m", "tlslab.pki", *args]
        return subprocess.run(command, capture_output=True, text=True, env=lab_env(), timeout=60, check=False)

    state = str(lab_pki.state_dir)
    built = run("--state", state, "build", "--ocsp-url-base", OCSP_BASE, "--ca-issuers-url-base", CA_BASE)
    assert built.returncode == 0, built.stderr
    issued = run("--state", state, "issue", "cli-leaf", "cli.tlsfleet.test", "--issuer", "int-b", "--no-ocsp")
    assert issued.returncode == 0, issued.stderr
    lab_pki.refresh()
    assert json.loads(issued.stdout)["serial"] == lab_pki.leaf("cli-leaf").serial
    assert lab_pki.leaf("cli-leaf").ocsp_urls == ()
    missing = run("--state", str(tmp_path / "none"), "issue", "x", "x.tlsfleet.test")
    assert missing.returncode == 2
    assert "no lab PKI" in missing.stderr and "Traceback" not in missing.stderr
