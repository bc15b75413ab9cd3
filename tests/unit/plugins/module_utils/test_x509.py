# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import warnings

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa

from ansible_collections.tlsfleet.stapling.plugins.module_utils import x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.tests.unit import pki as pkimod

HEX_RE = re.compile(r"^[0-9a-f]+$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# ------------------------------------------------------------------------------------------------
# loading certificates


def test_load_single_pem_and_der(pki):
    root = pki.root()
    assert x509.load_certificates(root.pem, "t")[0] == root.cert
    assert x509.load_certificates(root.der, "t")[0] == root.cert
    assert x509.load_certificates(root.pem.decode(), "t")[0] == root.cert


def test_load_bundle_with_junk_and_key_keeps_order(pki):
    root, (inter,), leaf = pki.chain()
    data = (
        b"subject=CN = www\nissuer=CN = int\n"
        + leaf.pem
        + b"\nsome text between\n"
        + leaf.key_pem()
        + b"Bag Attributes\n    friendlyName: int\n"
        + inter.pem.replace(b"\n", b"\r\n")
        + root.pem
    )
    certs = x509.load_certificates(data, "bundle")
    assert certs == [leaf.cert, inter.cert, root.cert]


def test_load_x509_and_trusted_certificate_labels(pki):
    root = pki.root()
    body = base64.encodebytes(root.der)
    old_style = b"-----BEGIN X509 CERTIFICATE-----\n" + body + b"-----END X509 CERTIFICATE-----\n"
    assert x509.load_certificates(old_style, "t") == [root.cert]
    aux = pkimod._seq(pkimod._seq(pkimod._oid("1.3.6.1.5.5.7.3.1")))  # OpenSSL trust settings after the cert
    trusted = (
        b"-----BEGIN TRUSTED CERTIFICATE-----\n"
        + base64.encodebytes(root.der + aux)
        + b"-----END TRUSTED CERTIFICATE-----\n"
    )
    assert x509.load_certificates(trusted, "t") == [root.cert]


def test_load_pem_with_rfc1421_headers(pki):
    root = pki.root()
    lines = root.pem.splitlines(keepends=True)
    with_headers = lines[0] + b"Proc-Type: 4,CLEAR\nComment: test\n\n" + b"".join(lines[1:])
    assert x509.load_certificates(with_headers, "t") == [root.cert]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", r"^certificate file /x\.pem is empty, not a certificate\.$"),
        (b"  \n\t\n", r"contains only whitespace, not a certificate\."),
        (
            b"<!DOCTYPE html>\n<html><body>404</body></html>",
            r"^certificate file /x\.pem is an HTML page, not a PEM or DER certificate "
            r"\(starts with '<!DOCTYPE html>'\)\.$",
        ),
        (b'{"error": "nope"}', r"looks like JSON"),
        (b"hello world\n", r"is text, not a PEM or DER certificate \(starts with 'hello world'\)"),
        (b"\x00\x01\x02\xff" * 10, r"is 40 bytes of binary data, not a PEM or DER certificate\."),
        (b"\x30\x82\x05\x00\x30\x82", r"is neither PEM nor a valid DER certificate"),
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n", r"'-----BEGIN' line without a matching '-----END' line"),
        (
            b"-----BEGIN CERTIFICATE-----\nnot*base64!!\n-----END CERTIFICATE-----\n",
            r"PEM block 1 \(CERTIFICATE\) does not contain valid base64",
        ),
        (
            b"-----BEGIN CERTIFICATE-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END CERTIFICATE-----\n",
            r"PEM block 1 \(CERTIFICATE\) is not a valid certificate",
        ),
    ],
)
def test_load_certificates_errors(data, expected):
    with pytest.raises(InputError, match=expected):
        x509.load_certificates(data, "certificate file /x.pem")


def test_load_certificates_truncated_der_and_pem(pki):
    der = pki.root().der
    with pytest.raises(InputError, match=r"^t is neither PEM nor a valid DER certificate"):
        x509.load_certificates(der[: len(der) // 2], "t")
    pem = pki.root().pem
    lines = pem.splitlines(keepends=True)
    broken = b"".join(lines[:3] + lines[-1:])  # body cut short, armor intact
    with pytest.raises(InputError, match=r"PEM block 1 \(CERTIFICATE\) is not a valid certificate"):
        x509.load_certificates(broken, "t")


def test_key_only_file_names_labels_not_contents(pki):
    leaf = pki.root()
    key_pem = leaf.key_pem()
    with pytest.raises(InputError) as info:
        x509.load_certificates(key_pem, "certificate file /k.pem")
    message = str(info.value)
    assert message == "certificate file /k.pem contains no certificate (PEM blocks found: PRIVATE KEY)."
    body_line = key_pem.splitlines()[1].decode()
    assert body_line not in message


def test_load_from_path(tmp_path, pki):
    root = pki.root()
    good = tmp_path / "c.pem"
    good.write_bytes(root.pem)
    assert x509.load_certificates_from_path(str(good)) == [root.cert]
    with pytest.raises(InputError, match=r"^certificate file .*/missing\.pem does not exist\.$"):
        x509.load_certificates_from_path(str(tmp_path / "missing.pem"))
    with pytest.raises(InputError, match=r"is a directory, not a file\.$"):
        x509.load_certificates_from_path(str(tmp_path))
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"^certificate file .*/empty\.pem is empty, not a certificate\.$"):
        x509.load_certificates_from_path(str(empty))


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.pem"
    path.write_bytes(b"x")
    real_open = os.open

    def fake_open(name, *args, **kwargs):
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    with pytest.raises(InputError, match=r"^certificate file .*/secret\.pem cannot be read: permission denied\.$"):
        x509.load_certificates_from_path(str(path))


def test_oversized_file(tmp_path, monkeypatch):
    path = tmp_path / "big"
    path.write_bytes(b"x" * 100)
    monkeypatch.setattr(x509, "MAX_INPUT_BYTES", 10)
    with pytest.raises(InputError, match=r"is 100 bytes long, larger than the 10 bytes accepted"):
        x509.read_input_file(str(path), "ocsp response")


# ------------------------------------------------------------------------------------------------
# private keys


@pytest.mark.parametrize("kind", ["rsa", "ec", "ed25519"])
def test_key_match_and_mismatch(pki, kind):
    root = pki.root(kind=kind)
    other = pki.root(kind=kind)
    key = x509.load_private_key(root.key_pem(), "key file /k")
    assert x509.public_key_matches(root.cert, key) is True
    assert x509.public_key_matches(root.cert, key.public_key()) is True
    assert x509.public_key_matches(other.cert, key) is False
    assert x509.public_key_sha256(key) == x509.public_key_sha256(root.cert)
    assert x509.public_key_sha256(key) != x509.public_key_sha256(other.cert)


def test_key_mismatch_across_types(pki):
    rsa_root = pki.root(kind="rsa")
    ec_root = pki.root(kind="ec")
    assert x509.public_key_matches(rsa_root.cert, ec_root.key) is False


def test_load_private_key_from_bundle_and_der(pki):
    leaf = pki.root(kind="ec")
    bundle = leaf.pem + leaf.key_pem()
    assert x509.public_key_matches(leaf.cert, x509.load_private_key(bundle, "bundle"))
    der = leaf.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert x509.public_key_matches(leaf.cert, x509.load_private_key(der, "der"))


def test_load_private_key_errors_never_echo_key(pki):
    root = pki.root(kind="rsa")
    encrypted = root.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    )
    assert x509.public_key_matches(root.cert, x509.load_private_key(encrypted, "k", password="s3cret"))
    # a password for an unencrypted key is ignored
    assert x509.public_key_matches(root.cert, x509.load_private_key(root.key_pem(), "k", password="unused"))
    messages = []
    for data, password, expected in [
        (encrypted, None, r"^key file /k is an encrypted private key and no password was given\.$"),
        (encrypted, "wrong", r"^key file /k could not be loaded as a private key \(damaged, or wrong password\)\.$"),
        (b"", None, r"^key file /k is empty, not a private key\.$"),
        (root.pem, None, r"^key file /k contains no PEM private key block\.$"),
        (b'<?xml version="1.0"?><a/>', None, r"^key file /k looks like HTML or XML, not a private key\.$"),
        (b"<html>", None, r"^key file /k is an HTML page, not a private key\.$"),
        (root.key_pem()[:200] + b"\n-----END PRIVATE KEY-----\n", None, r"could not be loaded as a private key"),
    ]:
        with pytest.raises(InputError, match=expected) as info:
            x509.load_private_key(data, "key file /k", password=password)
        messages.append(str(info.value))
    secret_line = root.key_pem().splitlines()[2].decode()
    assert all(secret_line not in m and "PRIVATE KEY-----" not in m for m in messages)


# ------------------------------------------------------------------------------------------------
# describe


def test_describe_leaf_fields(pki):
    _root, (inter,), _leaf = pki.chain()
    leaf = pki.leaf(
        inter,
        cn="shop.example.test",
        dns=["shop.example.test", "*.shop.example.test"],
        ocsp_urls=["http://ocsp1.example.test/", "http://ocsp2.example.test/ocsp"],
        ca_issuers_urls=["http://ca.example.test/a.der", "http://ca2.example.test/b.p7c"],
        must_staple=True,
        serial=0xABC,
    )
    info = x509.describe(leaf.cert)
    assert info.subject == "CN=shop.example.test,O=tlsfleet test"
    assert info.issuer == inter.subject
    assert info.serial == "0abc"
    assert info.san_dns == ["shop.example.test", "*.shop.example.test"]
    assert info.ocsp_urls == ["http://ocsp1.example.test/", "http://ocsp2.example.test/ocsp"]
    assert info.ca_issuers_urls == ["http://ca.example.test/a.der", "http://ca2.example.test/b.p7c"]
    assert info.must_staple is True
    assert info.is_ca is False
    assert info.self_signed is False
    assert info.key_type == "EC-secp256r1"
    assert info.sha256 == leaf.cert.fingerprint(hashes.SHA256()).hex()
    assert info.sha1 == leaf.cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303
    assert HEX_RE.match(info.sha256)
    assert len(info.sha256) == 64
    assert TIME_RE.match(info.not_before)
    assert TIME_RE.match(info.not_after)
    assert info.subject_key_id == cx509.SubjectKeyIdentifier.from_public_key(leaf.key.public_key()).digest.hex()
    assert (
        info.authority_key_id
        == inter.cert.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier).value.digest.hex()
    )
    assert info.signature_algorithm == "ecdsa-with-SHA256"
    json.dumps(info.to_dict())


def test_describe_root_and_key_types(pki):
    for kind, expected in [
        ("rsa", "RSA-2048"),
        ("ec", "EC-secp256r1"),
        ("ec384", "EC-secp384r1"),
        ("ed25519", "Ed25519"),
    ]:
        root = pki.root(kind=kind)
        info = x509.describe(root.cert)
        assert info.key_type == expected
        assert info.self_signed is True
        assert info.is_ca is True
        assert info.must_staple is False
        assert info.ocsp_urls == []
        assert info.authority_key_id is None


def test_no_must_staple_and_no_aia(pki):
    root = pki.root()
    leaf = pki.leaf(root, ocsp_urls=[], ca_issuers_urls=[])
    info = x509.describe(leaf.cert)
    assert info.must_staple is False
    assert info.ocsp_urls == []
    assert info.ca_issuers_urls == []


def test_serial_hex():
    assert x509.serial_hex(0x1234) == "1234"
    assert x509.serial_hex(0x123) == "0123"
    assert x509.serial_hex(0) == "00"
    # a negative serial (non-conforming, but issued): the sign, then the magnitude in whole octets
    assert x509.serial_hex(-0x12) == "-12"
    assert x509.serial_hex(-0x123) == "-0123"


def test_times_are_aware_utc_without_deprecation_warnings(pki):
    root = pki.root()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        start = x509.not_before(root.cert)
        end = x509.not_after(root.cert)
    assert start.tzinfo is not None
    assert end.utcoffset() == datetime.timedelta(0)
    assert start == pki.now - datetime.timedelta(days=30)
    assert x509.format_time(end) == (pki.now + datetime.timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_parse_and_format_time():
    expected = datetime.datetime(2026, 11, 23, 19, 31, tzinfo=datetime.timezone.utc)
    assert x509.parse_time("2026-11-23T19:31:00Z") == expected
    assert x509.parse_time("2026-11-23T20:31:00+01:00") == expected
    assert x509.parse_time("2026-11-23T19:31:00") == expected
    assert x509.format_time(expected) == "2026-11-23T19:31:00Z"
    assert x509.format_time(None) is None
    with pytest.raises(InputError, match=r"^valid_at 'tomorrow' is not an ISO 8601 timestamp"):
        x509.parse_time("tomorrow", "valid_at")


# ------------------------------------------------------------------------------------------------
# issued-by and signatures


@pytest.mark.parametrize("kind", ["rsa", "ec", "ed25519"])
def test_is_issued_by(pki, kind):
    root, (inter,), leaf = pki.chain(kind=kind)
    assert x509.is_issued_by(leaf.cert, inter.cert)
    assert x509.is_issued_by(inter.cert, root.cert)
    assert not x509.is_issued_by(leaf.cert, root.cert)
    assert not x509.is_issued_by(inter.cert, leaf.cert)
    # manual path (what cryptography < 40 uses)
    assert x509.verify_signature(
        inter.cert.public_key(),
        leaf.cert.signature,
        leaf.cert.tbs_certificate_bytes,
        x509.signature_hash(leaf.cert),
        x509.signature_padding_hint(leaf.cert),
    )
    assert not x509.verify_signature(
        root.cert.public_key(),
        leaf.cert.signature,
        leaf.cert.tbs_certificate_bytes,
        x509.signature_hash(leaf.cert),
    )


def test_is_issued_by_same_name_other_key(pki):
    root, (inter,), leaf = pki.chain()
    impostor = pki.intermediate(root, cn="tlsfleet Test Intermediate 1")  # same subject, different key
    assert impostor.cert.subject == inter.cert.subject
    assert not x509.is_issued_by(leaf.cert, impostor.cert)


def test_is_issued_by_without_aki_checks_signature(pki):
    root = pki.root()
    inter = pki.intermediate(root, aki=False)
    other = pki.root()  # another root with a different name
    assert x509.is_issued_by(inter.cert, root.cert)
    assert not x509.is_issued_by(inter.cert, other.cert)


def test_is_issued_by_manual_fallback(pki, monkeypatch):
    """Force the explicit signature check used when verify_directly_issued_by is unavailable (< 40)."""
    root, (inter,), leaf = pki.chain(kind="rsa")

    class Wrapped:
        def __init__(self, cert):
            self._cert = cert

        def __getattr__(self, name):
            if name == "verify_directly_issued_by":
                raise AttributeError(name)
            return getattr(self._cert, name)

    assert x509.is_issued_by(Wrapped(leaf.cert), inter.cert)
    assert not x509.is_issued_by(Wrapped(leaf.cert), pki.intermediate(root, cn="tlsfleet Test Intermediate 1").cert)


def test_rsa_pss_signed_certificate(pki):
    from cryptography.hazmat.primitives.asymmetric import padding

    root = pki.root(kind="rsa")
    key = pkimod.make_key("ec")
    builder = (
        cx509.CertificateBuilder()
        .subject_name(pkimod._name("pss leaf"))
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(77)
        .not_valid_before(pkimod._naive(pki.now - datetime.timedelta(days=1)))
        .not_valid_after(pkimod._naive(pki.now + datetime.timedelta(days=1)))
    )
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    try:
        cert = builder.sign(root.key, hashes.SHA256(), rsa_padding=pss)
    except TypeError:
        pytest.skip("this cryptography cannot sign certificates with RSA-PSS (needs 41)")
    assert x509.signature_padding_hint(cert) is not None
    assert x509.is_issued_by(cert, root.cert)
    assert x509.verify_signature(
        root.cert.public_key(), cert.signature, cert.tbs_certificate_bytes, hashes.SHA256(), "pss"
    )
    assert not x509.verify_signature(
        root.cert.public_key(), cert.signature, cert.tbs_certificate_bytes, hashes.SHA256(), "pkcs1v15"
    )


def test_dsa_signature(pki):
    key = dsa.generate_private_key(key_size=2048)
    name = pkimod._name("dsa root")
    try:
        cert = (
            cx509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(5)
            .not_valid_before(pkimod._naive(pki.now - datetime.timedelta(days=1)))
            .not_valid_after(pkimod._naive(pki.now + datetime.timedelta(days=1)))
            .sign(key, hashes.SHA256())
        )
    except Exception as exc:  # DSA signing may be disabled in some OpenSSL builds
        pytest.skip(f"DSA certificates unavailable: {exc}")
    assert x509.is_self_signed(cert)
    assert x509.describe(cert).key_type == "DSA-2048"
    data = b"payload"
    signature = key.sign(data, hashes.SHA256())
    assert x509.verify_signature(key.public_key(), signature, data, hashes.SHA256())
    assert not x509.verify_signature(key.public_key(), signature, b"other", hashes.SHA256())


def test_verify_signature_never_raises(pki):
    root = pki.root(kind="ec")
    assert x509.verify_signature(root.cert.public_key(), b"junk", b"data", hashes.SHA256()) is False
    assert x509.verify_signature(root.cert.public_key(), b"junk", b"data", None) is False
    assert x509.verify_signature(object(), b"junk", b"data", hashes.SHA256()) is False


def test_hash_by_name():
    assert x509.hash_by_name("SHA-256").name == "sha256"
    with pytest.raises(InputError, match="hash algorithm 'md5' is not supported"):
        x509.hash_by_name("md5")


def test_extensions_are_read_through_a_busy_certificate(pki):
    """cryptography < 42 raises RuntimeError('Already borrowed') when two threads read one certificate's
    extensions at once; Debian 12's 38 does. A busy certificate must not read as one without extensions."""

    class Busy:
        def __init__(self, real, busy_times):
            self.real, self.left = real, busy_times

        @property
        def extensions(self):
            if self.left:
                self.left -= 1
                raise RuntimeError("Already borrowed")
            return self.real.extensions

    _root, (_inter,), leaf = pki.chain(ocsp_urls=["http://ocsp.example.test/"])
    busy = Busy(leaf.cert, 3)
    assert x509.ocsp_urls(busy) == ["http://ocsp.example.test/"]
    assert busy.left == 0


@pytest.mark.parametrize("private_format", ["TraditionalOpenSSL", "PKCS8"])
def test_rsa_public_key_of_private_pem_reads_the_public_part(pki, private_format):
    rsa_root, other = pki.root(kind="rsa"), pki.root(kind="rsa")
    pem = rsa_root.key.private_bytes(
        serialization.Encoding.PEM, getattr(serialization.PrivateFormat, private_format), serialization.NoEncryption()
    )
    public = x509.rsa_public_key_of_private_pem(b"junk\n" + rsa_root.pem + pem)
    assert public.public_numbers() == rsa_root.key.public_key().public_numbers()
    assert x509.public_key_matches(rsa_root.cert, public) is True
    assert x509.public_key_matches(other.cert, public) is False


def test_rsa_public_key_of_private_pem_leaves_everything_else_to_the_full_loader(pki):
    rsa_key, ec_key = pki.root(kind="rsa").key, pki.root(kind="ec").key
    encrypted = [
        rsa_key.private_bytes(
            serialization.Encoding.PEM, private_format, serialization.BestAvailableEncryption(b"secret")
        )
        for private_format in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL)
    ]
    pkcs8 = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    lines = pkcs8.splitlines(keepends=True)
    damaged = b"".join([lines[0], lines[1][:10] + b"\n", *lines[-1:]])
    for data in [
        *encrypted,
        ec_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        rsa_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        damaged,
        b"",
        b"no key here",
    ]:
        assert x509.rsa_public_key_of_private_pem(data) is None


def _rsa_private_pem(numbers, pkcs8: bool) -> bytes:
    """A PEM RSA private key built field by field, so that a test can damage one of them."""
    fields = (0, numbers.public_numbers.n, numbers.public_numbers.e, numbers.d, numbers.p, numbers.q)
    fields += (numbers.dmp1, numbers.dmq1, numbers.iqmp)
    der = pkimod._seq(*(pkimod._int(value) for value in fields))
    label = b"RSA PRIVATE KEY"
    if pkcs8:
        algorithm = pkimod._seq(pkimod._oid("1.2.840.113549.1.1.1"), b"\x05\x00")
        der = pkimod._seq(pkimod._int(0), algorithm, pkimod._tlv(0x04, der))
        label = b"PRIVATE KEY"
    body = base64.encodebytes(der)
    return b"-----BEGIN " + label + b"-----\n" + body + b"-----END " + label + b"-----\n"


@pytest.mark.parametrize("pkcs8", [False, True])
def test_rsa_public_key_of_private_pem_refuses_primes_that_do_not_make_the_modulus(pki, pkcs8):
    """The fast read checks p * q == n (p, q > 1): a damaged key goes to the full loader, which refuses it."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    root = pki.root(kind="rsa")
    numbers = root.key.private_numbers()
    intact = _rsa_private_pem(numbers, pkcs8)
    assert x509.rsa_public_key_of_private_pem(intact).public_numbers() == numbers.public_numbers
    n = numbers.public_numbers.n
    for p, q in [(numbers.p + 2, numbers.q), (numbers.p, numbers.q - 1), (1, n), (n, 1), (0, 0)]:
        damaged = rsa.RSAPrivateNumbers(
            p, q, numbers.d, numbers.dmp1, numbers.dmq1, numbers.iqmp, numbers.public_numbers
        )
        data = _rsa_private_pem(damaged, pkcs8)
        assert x509.rsa_public_key_of_private_pem(data) is None, (p == 1, q == 1)
        with pytest.raises(InputError):
            x509.load_private_key(data, "key")
