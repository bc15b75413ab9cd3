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
from cryptography.x509 import ocsp as cocsp

from ansible_collections.tlsfleet.stapling.plugins.module_utils import ocsp
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
MULTI_SUPPORTED = hasattr(cocsp.OCSPResponse, "responses")


@pytest.fixture
def ca(pki):
    root, (inter,), leaf = pki.chain()
    return pki, root, inter, leaf


def check(pki, response, leaf, issuer, **kw):
    kw.setdefault("at", pki.now)
    verdict = ocsp.validate_response(response, leaf.cert, issuer.cert, **kw)
    json.dumps(verdict.to_dict())
    return verdict


# ------------------------------------------------------------------------------------------------
# requests and CertIDs


@pytest.mark.parametrize("hash_name", ["sha1", "sha256", "sha384"])
def test_request_cert_id_matches_a_response(ca, hash_name):
    pki, _root, inter, leaf = ca
    algorithm = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[hash_name]  # noqa: S303
    response = cocsp.load_der_ocsp_response(pki.ocsp_response(leaf, inter, cert_id_hash=algorithm))
    cert_id = ocsp.request_cert_id(leaf.cert, inter.cert, hash_name)
    assert cert_id.hash_algorithm == hash_name
    assert cert_id.issuer_key_hash == response.issuer_key_hash.hex()
    assert cert_id.issuer_name_hash == response.issuer_name_hash.hex()
    assert cert_id.serial == format(leaf.cert.serial_number, "x").rjust(4, "0")
    # the key hash is SHA-x of the issuer's subjectPublicKey: SKI (sha1) for sha1
    if hash_name == "sha1":
        ski = cx509.SubjectKeyIdentifier.from_public_key(inter.key.public_key()).digest
        assert cert_id.issuer_key_hash == ski.hex()


def test_build_request(ca):
    _pki, _root, inter, leaf = ca
    der = ocsp.build_request(leaf.cert, inter.cert)
    request = cocsp.load_der_ocsp_request(der)
    assert request.serial_number == leaf.cert.serial_number
    assert request.hash_algorithm.name == "sha1"
    request = cocsp.load_der_ocsp_request(ocsp.build_request(leaf.cert, inter.cert, "sha256"))
    assert request.hash_algorithm.name == "sha256"


# ------------------------------------------------------------------------------------------------
# loading


def test_load_response_der_base64_pem(ca):
    pki, _root, inter, leaf = ca
    der = pki.ocsp_response(leaf, inter)
    assert ocsp.load_response(der, "r").serial_number == leaf.cert.serial_number
    text = base64.encodebytes(der)  # 76-column lines
    assert ocsp.load_response(b"  " + text + b"\n\n", "r").serial_number == leaf.cert.serial_number
    assert ocsp.load_response(text.decode(), "r").serial_number == leaf.cert.serial_number
    pem = b"-----BEGIN OCSP RESPONSE-----\n" + text + b"-----END OCSP RESPONSE-----\n"
    assert ocsp.load_response(pem, "r").serial_number == leaf.cert.serial_number


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", r"^ocsp response /r\.ocsp is empty, not an OCSP response\.$"),
        (b"\n \n", r"^ocsp response /r\.ocsp contains only whitespace, not an OCSP response\.$"),
        (
            b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>",
            r"^ocsp response /r\.ocsp is an HTML page, not an OCSP response \(starts with '<!DOCTYPE html>'\)\.$",
        ),
        (b"<?xml version='1.0'?>", r"looks like HTML or XML, not an OCSP response"),
        (b"Service Unavailable: try again", r"^ocsp response /r\.ocsp is text, not an OCSP response \(starts with"),
        (b"QUJD$$$", r"is text, not an OCSP response"),
        (b"QUJDRA=", r"looks like base64 text but does not decode"),
        (base64.b64encode(b"plain words"), r"is base64 text, but what it decodes to is not an OCSP response"),
        (b"\x30\x82\x01\x00\x0a\x01", r"is not a valid DER OCSP response: it is truncated or damaged \(6 bytes;"),
        (b"\x00\xffbinary", r"is 8 bytes of binary data, not an OCSP response\.$"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", r"is a PEM CERTIFICATE block"),
    ],
)
def test_load_response_errors(data, expected):
    with pytest.raises(InputError, match=expected):
        ocsp.load_response(data, "ocsp response /r.ocsp")


def test_load_response_truncated_and_certificate(ca):
    pki, _root, inter, leaf = ca
    der = pki.ocsp_response(leaf, inter)
    for cut in (len(der) - 1, len(der) // 2, 10):
        with pytest.raises(InputError, match=r"truncated or damaged"):
            ocsp.load_response(der[:cut], "ocsp response /r")
    with pytest.raises(InputError, match=r"^ocsp response /r is a DER certificate, not an OCSP response\.$"):
        ocsp.load_response(leaf.der, "ocsp response /r")


def test_load_response_from_path(tmp_path):
    with pytest.raises(InputError, match=r"^ocsp response .*/nope\.ocsp does not exist\.$"):
        ocsp.load_response_from_path(str(tmp_path / "nope.ocsp"))


def test_validate_response_accepts_bytes_and_reports_load_errors(ca):
    pki, _root, inter, leaf = ca
    verdict = ocsp.validate_response(base64.b64encode(pki.ocsp_response(leaf, inter)), leaf.cert, inter.cert)
    assert verdict.good is True
    with pytest.raises(InputError, match=r"^staple is an HTML page"):
        ocsp.validate_response(b"<html></html>", leaf.cert, inter.cert, source="staple")


# ------------------------------------------------------------------------------------------------
# verdicts


@pytest.mark.parametrize("kind", ["rsa", "ec", "ed25519"])
def test_good_signed_by_issuer(pki, kind):
    _root, (inter,), leaf = pki.chain(kind=kind)
    verdict = check(pki, pki.ocsp_response(leaf, inter), leaf, inter)
    assert verdict.response_status == "successful"
    assert verdict.cert_status == "good"
    assert verdict.signer == "issuer"
    assert verdict.signer_subject == inter.subject
    assert verdict.signer_authorized is True
    assert verdict.signature_valid is True
    assert verdict.cert_id_matches is True
    assert verdict.cert_id_hash == "sha1"
    assert verdict.valid is True
    assert verdict.good is True
    assert verdict.problems == []
    assert verdict.this_update == (pki.now - HOUR).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert verdict.next_update == (pki.now + 3 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert verdict.seconds_until_next_update == 3 * 86400
    assert verdict.single_responses == 1
    assert verdict.revocation_time is None
    assert verdict.produced_at is not None
    assert len(verdict.response_sha256) == 64


def test_responder_by_name(ca):
    pki, _root, inter, leaf = ca
    verdict = check(pki, pki.ocsp_response(leaf, inter, responder_by="name"), leaf, inter)
    assert verdict.good is True
    assert verdict.responder_id == inter.subject


def test_revoked_with_reason(ca):
    pki, _root, inter, leaf = ca
    when = pki.now - 2 * DAY
    response = pki.ocsp_response(
        leaf, inter, status="revoked", revocation_time=when, reason=cx509.ReasonFlags.key_compromise
    )
    verdict = check(pki, response, leaf, inter)
    assert verdict.valid is True  # a correctly signed "revoked" is a valid response
    assert verdict.good is False
    assert verdict.cert_status == "revoked"
    assert verdict.revocation_reason == "key_compromise"
    assert verdict.revocation_time == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert verdict.problems == [
        f"the responder reports the certificate as revoked since {verdict.revocation_time} (reason: key_compromise)."
    ]


def test_revoked_without_reason(ca):
    pki, _root, inter, leaf = ca
    verdict = check(pki, pki.ocsp_response(leaf, inter, status="revoked"), leaf, inter)
    assert verdict.cert_status == "revoked"
    assert verdict.revocation_reason is None
    assert verdict.valid is True


def test_unknown(ca):
    pki, _root, inter, leaf = ca
    verdict = check(pki, pki.ocsp_response(leaf, inter, status="unknown"), leaf, inter)
    assert verdict.cert_status == "unknown"
    assert verdict.valid is True
    assert verdict.good is False
    assert verdict.problems == ["the responder does not know the certificate (status unknown)."]


def test_expired(ca):
    pki, _root, inter, leaf = ca
    response = pki.ocsp_response(leaf, inter, this_update=pki.now - 8 * DAY, next_update=pki.now - DAY)
    verdict = check(pki, response, leaf, inter)
    assert verdict.valid is False
    assert verdict.good is False
    assert verdict.signature_valid is True
    assert verdict.seconds_until_next_update == -86400
    assert any(p.startswith("the response expired: its nextUpdate") for p in verdict.problems)


def test_expired_within_skew_is_fine(ca):
    pki, _root, inter, leaf = ca
    response = pki.ocsp_response(leaf, inter, next_update=pki.now - datetime.timedelta(seconds=100))
    assert check(pki, response, leaf, inter).valid is True
    assert check(pki, response, leaf, inter, skew_seconds=30).valid is False


def test_not_yet_valid(ca):
    pki, _root, inter, leaf = ca
    response = pki.ocsp_response(leaf, inter, this_update=pki.now + HOUR, next_update=pki.now + 2 * DAY)
    verdict = check(pki, response, leaf, inter)
    assert verdict.valid is False
    assert any(p.startswith("the response is not valid yet") for p in verdict.problems)


def test_this_update_in_future_within_skew_is_fine(ca):
    pki, _root, inter, leaf = ca
    response = pki.ocsp_response(leaf, inter, this_update=pki.now + datetime.timedelta(seconds=120))
    verdict = check(pki, response, leaf, inter)
    assert verdict.valid is True
    assert verdict.good is True
    assert check(pki, response, leaf, inter, skew_seconds=60).valid is False


def test_judged_at_another_time(ca):
    pki, _root, inter, leaf = ca
    response = pki.ocsp_response(leaf, inter)
    assert check(pki, response, leaf, inter, at=pki.now + 4 * DAY).valid is False
    assert check(pki, response, leaf, inter, at=pki.now - 2 * HOUR).valid is False
    naive = (pki.now + DAY).replace(tzinfo=None)
    assert check(pki, response, leaf, inter, at=naive).seconds_until_next_update == 2 * 86400


def test_no_next_update(ca):
    pki, _root, inter, leaf = ca
    verdict = check(pki, pki.ocsp_response(leaf, inter, next_update=None), leaf, inter)
    assert verdict.next_update is None
    assert verdict.seconds_until_next_update is None
    assert verdict.valid is True  # RFC 6960: nextUpdate is optional
    assert verdict.good is True
    assert len(verdict.problems) == 1
    assert "no nextUpdate" in verdict.problems[0]


def test_signed_by_unrelated_key_claiming_the_issuer(ca):
    pki, _root, inter, leaf = ca
    evil = pki.root(cn="Evil")
    verdict = check(pki, pki.ocsp_response(leaf, inter, signing_key=evil.key), leaf, inter)
    assert verdict.signer == "issuer"
    assert verdict.signature_valid is False
    assert verdict.valid is False
    assert verdict.good is False
    assert f"the response signature does not verify with the public key of the issuer '{inter.subject}'." in (
        verdict.problems
    )


def test_tampered_signature(ca):
    pki, _root, inter, leaf = ca
    responder = pki.ocsp_signer(inter)
    for signer in (inter, responder):
        verdict = check(pki, pki.ocsp_response(leaf, inter, signer=signer, tamper_signature=True), leaf, inter)
        assert verdict.signature_valid is False
        assert verdict.valid is False
        assert any("does not verify" in p for p in verdict.problems)


def test_signed_by_unrelated_certificate(ca):
    pki, _root, inter, leaf = ca
    evil = pki.root(cn="Evil")
    verdict = check(pki, pki.ocsp_response(leaf, inter, signer=evil), leaf, inter)
    assert verdict.signature_valid is True  # Evil's own signature is fine ...
    assert verdict.signer == "unknown"  # ... but Evil may not speak for the issuer
    assert verdict.signer_subject == evil.subject
    assert verdict.signer_authorized is False
    assert verdict.valid is False
    assert any(
        p.startswith(f"the response was signed by '{evil.subject}' which is neither the issuer nor a responder")
        for p in verdict.problems
    )


def test_signed_by_unknown_responder_not_included(ca):
    pki, _root, inter, leaf = ca
    evil = pki.root(cn="Evil")
    verdict = check(pki, pki.ocsp_response(leaf, inter, signer=evil, include_certs=[]), leaf, inter)
    assert verdict.signer == "unknown"
    assert verdict.signature_valid is False
    assert verdict.valid is False
    assert any("no such certificate is included" in p for p in verdict.problems)


@pytest.mark.parametrize("responder_by", ["hash", "name"])
def test_authorized_delegated_responder(ca, responder_by):
    pki, _root, inter, leaf = ca
    responder = pki.ocsp_signer(inter)
    verdict = check(pki, pki.ocsp_response(leaf, inter, signer=responder, responder_by=responder_by), leaf, inter)
    assert verdict.signer == "delegated"
    assert verdict.signer_subject == responder.subject
    assert verdict.signer_authorized is True
    assert verdict.signature_valid is True
    assert verdict.valid is True
    assert verdict.good is True
    assert verdict.problems == []


def test_delegated_without_ocsp_signing_eku(ca):
    pki, _root, inter, leaf = ca
    responder = pki.ocsp_signer(inter, eku=False)
    verdict = check(pki, pki.ocsp_response(leaf, inter, signer=responder), leaf, inter)
    assert verdict.signature_valid is True
    assert verdict.signer == "unknown"
    assert verdict.signer_authorized is False
    assert verdict.valid is False
    assert any("lacks the OCSP Signing extended key usage" in p for p in verdict.problems)


def test_delegated_issued_by_another_ca(ca):
    pki, root, inter, leaf = ca
    other_inter = pki.intermediate(root, cn="Other Intermediate")
    responder = pki.ocsp_signer(other_inter)
    verdict = check(pki, pki.ocsp_response(leaf, inter, signer=responder), leaf, inter)
    assert verdict.signature_valid is True
    assert verdict.signer == "unknown"
    assert verdict.valid is False
    assert any(f"(it was not issued by '{inter.subject}')" in p for p in verdict.problems)


def test_delegated_responder_expired(ca):
    pki, _root, inter, leaf = ca
    responder = pki.ocsp_signer(inter, not_before=pki.now - 10 * DAY, not_after=pki.now - DAY)
    verdict = check(pki, pki.ocsp_response(leaf, inter, signer=responder), leaf, inter)
    assert verdict.valid is False
    assert any("is not valid at" in p for p in verdict.problems)


def test_response_for_another_serial(ca):
    pki, _root, inter, leaf = ca
    other = pki.leaf(inter, cn="other.example.test")
    verdict = check(pki, pki.ocsp_response(other, inter), leaf, inter)
    assert verdict.signature_valid is True
    assert verdict.cert_id_matches is False
    assert verdict.valid is False
    assert verdict.good is False
    assert (
        f"the response is for serial {format(other.cert.serial_number, 'x').rjust(4, '0')}, not for the certificate's "
        f"serial {format(leaf.cert.serial_number, 'x').rjust(4, '0')}." in verdict.problems
    )


def test_same_serial_other_issuer(pki):
    """A response from another CA for a certificate with the same serial: the CertID hashes differ."""
    root, (inter,), leaf = pki.chain()
    other_ca = pki.intermediate(root, cn="Other CA")
    twin = pki.leaf(other_ca, serial=leaf.cert.serial_number)
    response = pki.ocsp_response(twin, other_ca, signer=pki.ocsp_signer(inter))
    verdict = check(pki, response, leaf, inter)
    assert verdict.cert_id_matches is False
    assert verdict.valid is False
    assert any("names a different issuer" in p for p in verdict.problems)


@pytest.mark.parametrize("status", ["try_later", "unauthorized", "malformed_request", "internal_error", "sig_required"])
def test_unsuccessful_statuses(ca, status):
    pki, _root, inter, leaf = ca
    verdict = check(pki, pki.ocsp_unsuccessful(status), leaf, inter)
    assert verdict.response_status == status
    assert verdict.cert_status is None
    assert verdict.valid is False
    assert verdict.good is False
    assert verdict.this_update is None
    assert len(verdict.problems) == 1
    assert verdict.problems[0].startswith(f"the responder answered '{status}'")


def test_sha256_cert_id(ca):
    pki, _root, inter, leaf = ca
    verdict = check(pki, pki.ocsp_response(leaf, inter, cert_id_hash=hashes.SHA256()), leaf, inter)
    assert verdict.cert_id_hash == "sha256"
    assert verdict.cert_id_matches is True
    assert verdict.good is True


def test_wrong_issuer_given(ca):
    pki, root, inter, leaf = ca
    verdict = check(pki, pki.ocsp_response(leaf, inter), leaf, root)
    assert verdict.valid is False
    assert any(p.startswith(f"the issuer given, '{root.subject}', did not issue") for p in verdict.problems)


def test_multiple_single_responses_ours_second(ca):
    pki, _root, inter, leaf = ca
    other = pki.leaf(inter, cn="other.example.test")
    response = pki.ocsp_multi_response([(other, "good"), (leaf, "revoked")], inter)
    if not MULTI_SUPPORTED:
        with pytest.raises(InputError, match="cryptography >= 37 is needed"):
            check(pki, response, leaf, inter)
        return
    verdict = check(pki, response, leaf, inter)
    assert verdict.single_responses == 2
    assert verdict.cert_id_matches is True
    assert verdict.signature_valid is True
    assert verdict.cert_status == "revoked"
    assert verdict.valid is True
    # and for the first certificate, the first status is picked
    first = check(pki, response, other, inter)
    assert first.cert_status == "good"
    assert first.good is True
    # a third certificate is in neither
    third = pki.leaf(inter, cn="third.example.test")
    verdict = check(pki, response, third, inter)
    assert verdict.cert_id_matches is False
    assert any("none of the 2 certificate statuses" in p for p in verdict.problems)


def test_multiple_single_responses_bad_signature(ca):
    if not MULTI_SUPPORTED:
        pytest.skip("cryptography < 37 cannot read responses with several statuses")
    pki, _root, inter, leaf = ca
    other = pki.leaf(inter, cn="other.example.test")
    response = bytearray(pki.ocsp_multi_response([(other, "good"), (leaf, "good")], inter))
    response[-5] ^= 0x01  # flip a bit inside the signature
    verdict = check(pki, bytes(response), leaf, inter)
    assert verdict.signature_valid is False
    assert verdict.valid is False


def test_verdict_is_never_valid_when_any_check_fails(ca):
    """Property: every failing variant yields valid False, and good implies valid."""
    pki, _root, inter, leaf = ca
    evil = pki.root(cn="Evil")
    variants = [
        pki.ocsp_response(leaf, inter, signing_key=evil.key),
        pki.ocsp_response(leaf, inter, signer=evil),
        pki.ocsp_response(leaf, inter, signer=pki.ocsp_signer(inter, eku=False)),
        pki.ocsp_response(leaf, inter, next_update=pki.now - DAY, this_update=pki.now - 2 * DAY),
        pki.ocsp_response(leaf, inter, this_update=pki.now + DAY, next_update=pki.now + 2 * DAY),
        pki.ocsp_response(pki.leaf(inter), inter),
        pki.ocsp_unsuccessful("try_later"),
    ]
    for response in variants:
        verdict = check(pki, response, leaf, inter)
        assert verdict.valid is False
        assert verdict.good is False
        assert verdict.problems
