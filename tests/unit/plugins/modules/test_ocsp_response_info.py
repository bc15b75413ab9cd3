# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import datetime
import json

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes

from ansible_collections.tlsfleet.stapling.plugins.modules import ocsp_response_info
from ansible_collections.tlsfleet.stapling.tests.unit import modrun

DAY = datetime.timedelta(days=1)


def run_module(args, capsys, monkeypatch):
    return modrun.run_module(ocsp_response_info.main, args, capsys, monkeypatch)


@pytest.fixture
def files(pki, tmp_path):
    root, (inter,), leaf = pki.chain()
    paths = {
        "leaf": tmp_path / "leaf.pem",
        "bundle": tmp_path / "bundle.pem",
        "issuer": tmp_path / "issuer.pem",
        "good": tmp_path / "good.ocsp",
    }
    paths["leaf"].write_bytes(leaf.pem)
    paths["bundle"].write_bytes(leaf.pem + inter.pem + leaf.key_pem())  # HAProxy style, with the key
    paths["issuer"].write_bytes(root.pem + inter.pem)
    paths["good"].write_bytes(pki.ocsp_response(leaf, inter))
    return pki, root, inter, leaf, paths


def test_good_with_issuer_from_bundle(files, capsys, monkeypatch):
    _pki, _root, inter, leaf, paths = files
    result, out = run_module(
        {"path": str(paths["good"]), "certificate_path": str(paths["bundle"])}, capsys, monkeypatch
    )
    assert result["changed"] is False
    assert "failed" not in result
    assert result["valid"] is True
    assert result["good"] is True
    assert result["cert_status"] == "good"
    assert result["signer"] == "issuer"
    assert result["problems"] == []
    assert result["certificate"]["subject"] == leaf.subject
    assert result["certificate"]["serial"] == format(leaf.cert.serial_number, "x").rjust(4, "0")
    assert result["issuer"] == {
        "subject": inter.subject,
        "sha256": inter.cert.fingerprint(hashes.SHA256()).hex(),
        "source": "certificate_path",
    }
    # the private key in the bundle never reaches the output
    key_lines = leaf.key_pem().decode().splitlines()
    assert "PRIVATE KEY" not in out
    assert all(line not in out for line in key_lines[1:-1])


def test_explicit_issuer_file_with_several_certificates(files, capsys, monkeypatch):
    _pki, _root, inter, _leaf, paths = files
    result, _out = run_module(
        {"path": str(paths["good"]), "certificate_path": str(paths["leaf"]), "issuer_path": str(paths["issuer"])},
        capsys,
        monkeypatch,
    )
    assert result["good"] is True
    assert result["issuer"]["subject"] == inter.subject
    assert result["issuer"]["source"] == "issuer_path"


def test_content_options(files, capsys, monkeypatch):
    pki, _root, inter, leaf, _paths = files
    response = base64.encodebytes(pki.ocsp_response(leaf, inter, status="revoked", reason=cx509.ReasonFlags.superseded))
    result, _out = run_module(
        {
            "content": response.decode(),
            "certificate_content": leaf.pem.decode(),
            "issuer_content": inter.pem.decode(),
        },
        capsys,
        monkeypatch,
    )
    assert result["valid"] is True
    assert result["good"] is False
    assert result["cert_status"] == "revoked"
    assert result["revocation_reason"] == "superseded"
    assert result["issuer"]["source"] == "issuer_content"


def test_valid_at_and_clock_skew(files, capsys, monkeypatch):
    pki, _root, _inter, _leaf, paths = files
    later = (pki.now + 4 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    result, _out = run_module(
        {"path": str(paths["good"]), "certificate_path": str(paths["bundle"]), "valid_at": later},
        capsys,
        monkeypatch,
    )
    assert result["valid"] is False
    assert result["checked_at"] == later
    assert result["seconds_until_next_update"] == -86400
    assert any("expired" in p for p in result["problems"])
    almost = (pki.now + 3 * DAY + datetime.timedelta(seconds=200)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    result, _out = run_module(
        {"path": str(paths["good"]), "certificate_path": str(paths["bundle"]), "valid_at": almost},
        capsys,
        monkeypatch,
    )
    assert result["valid"] is True
    result, _out = run_module(
        {"path": str(paths["good"]), "certificate_path": str(paths["bundle"]), "valid_at": almost, "clock_skew": 0},
        capsys,
        monkeypatch,
    )
    assert result["valid"] is False


def test_check_mode(files, capsys, monkeypatch):
    _pki, _root, _inter, _leaf, paths = files
    result, _out = run_module(
        {"path": str(paths["good"]), "certificate_path": str(paths["bundle"]), "_ansible_check_mode": True},
        capsys,
        monkeypatch,
    )
    assert result["changed"] is False
    assert result["good"] is True


@pytest.mark.parametrize(
    ("response_bytes", "expected"),
    [
        (b"<!DOCTYPE html>\n<html>", "is an HTML page, not an OCSP response (starts with '<!DOCTYPE html>')."),
        (b"", "is empty, not an OCSP response."),
        (b"\x30\x82\x02\x00\x0a\x01\x00", "is not a valid DER OCSP response: it is truncated or damaged"),
    ],
)
def test_bad_response_files(files, capsys, monkeypatch, response_bytes, expected):
    _pki, _root, _inter, _leaf, paths = files
    bad = paths["good"].parent / "bad.ocsp"
    bad.write_bytes(response_bytes)
    result, _out = run_module({"path": str(bad), "certificate_path": str(paths["bundle"])}, capsys, monkeypatch)
    assert result["failed"] is True
    assert result["msg"].startswith(f"ocsp response {bad} ")
    assert expected in result["msg"]
    assert "Traceback" not in json.dumps(result)


def test_missing_files(files, capsys, monkeypatch):
    _pki, _root, _inter, _leaf, paths = files
    missing = str(paths["good"].parent / "missing.ocsp")
    result, _out = run_module({"path": missing, "certificate_path": str(paths["bundle"])}, capsys, monkeypatch)
    assert result["failed"] is True
    assert result["msg"] == f"ocsp response {missing} does not exist."
    result, _out = run_module({"path": str(paths["good"]), "certificate_path": missing + ".pem"}, capsys, monkeypatch)
    assert result["msg"] == f"certificate file {missing}.pem does not exist."


def test_issuer_not_found(files, capsys, monkeypatch):
    _pki, root, inter, leaf, paths = files
    result, _out = run_module({"path": str(paths["good"]), "certificate_path": str(paths["leaf"])}, capsys, monkeypatch)
    assert result["failed"] is True
    assert result["msg"] == (
        f"the issuer '{inter.subject}' of the certificate '{leaf.subject}' is not in certificate file "
        f"{paths['leaf']}; give it with issuer_path or issuer_content."
    )
    result, _out = run_module(
        {"path": str(paths["good"]), "certificate_path": str(paths["leaf"]), "issuer_content": root.pem.decode()},
        capsys,
        monkeypatch,
    )
    assert result["failed"] is True
    assert result["msg"].startswith("none of the certificates in issuer content issued the certificate")


def test_bad_options(files, capsys, monkeypatch):
    _pki, _root, _inter, _leaf, paths = files
    result, _out = run_module(
        {"path": str(paths["good"]), "certificate_path": str(paths["bundle"]), "valid_at": "next tuesday"},
        capsys,
        monkeypatch,
    )
    assert result["failed"] is True
    assert result["msg"].startswith("valid_at 'next tuesday' is not an ISO 8601 timestamp")
    result, _out = run_module(
        {"path": str(paths["good"]), "certificate_path": str(paths["bundle"]), "clock_skew": -1},
        capsys,
        monkeypatch,
    )
    assert result["msg"] == "clock_skew must be between 0 and 86400 seconds (one day), not -1."
    result, _out = run_module(
        {"path": str(paths["good"]), "content": "AAAA", "certificate_path": str(paths["bundle"])},
        capsys,
        monkeypatch,
    )
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]
    result, _out = run_module({"certificate_path": str(paths["bundle"])}, capsys, monkeypatch)
    assert result["failed"] is True
    assert "one of the following is required: path, content" in result["msg"]


def test_missing_cryptography(files, capsys, monkeypatch):
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import deps

    _pki, _root, _inter, _leaf, paths = files
    monkeypatch.setattr(deps, "HAS_CRYPTOGRAPHY", False)
    monkeypatch.setattr(deps, "CRYPTOGRAPHY_IMPORT_ERROR", "Traceback (most recent call last): ImportError")
    result, _out = run_module(
        {"path": str(paths["good"]), "certificate_path": str(paths["bundle"])}, capsys, monkeypatch
    )
    assert result["failed"] is True
    assert "cryptography >= 3.4" in result["msg"]
