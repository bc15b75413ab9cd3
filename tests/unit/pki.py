# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An in-memory test PKI built with cryptography (nothing is written to the tree).

Roots, intermediates, leaves (RSA, ECDSA, Ed25519) with AIA OCSP and caIssuers URLs, Must-Staple
leaves, delegated OCSP signers with or without id-kp-OCSPSigning, and OCSP responses: good,
revoked (with reason), unknown, expired, not yet valid, signed by any key, for another serial,
unsuccessful statuses, SHA-256 CertIDs, and responses with several SingleResponses.

Standalone on purpose (only cryptography is imported): the integration target's fixture script
loads this same file. Works with cryptography 3.4 and later.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass, field
from typing import List, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = datetime.timezone.utc
_serials = itertools.count(0x1000)


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(tz=UTC).replace(microsecond=0)


def _naive(value: datetime.datetime) -> datetime.datetime:
    """cryptography < 42 builders want naive UTC datetimes; all versions accept them."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def make_key(kind: str = "ec"):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


def sign_hash(key):
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlsfleet test"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


@dataclass
class Issued:
    """A certificate and its key (the key stays in memory)."""

    cert: x509.Certificate
    key: object
    parent: Optional[Issued] = None

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()


@dataclass
class Pki:
    """Factory for certificates; ``now`` anchors every validity period."""

    now: datetime.datetime = field(default_factory=now_utc)

    def _build(
        self,
        subject: x509.Name,
        key,
        parent: Optional[Issued],
        *,
        ca: bool,
        path_length: Optional[int] = None,
        dns: Optional[List[str]] = None,
        ocsp_urls: Optional[List[str]] = None,
        ca_issuers_urls: Optional[List[str]] = None,
        must_staple: bool = False,
        eku: Optional[list] = None,
        not_before: Optional[datetime.datetime] = None,
        not_after: Optional[datetime.datetime] = None,
        serial: Optional[int] = None,
        signing_key=None,
        aki: bool = True,
        crl_urls: Optional[List[str]] = None,
    ) -> Issued:
        issuer_name = parent.cert.subject if parent else subject
        signer = signing_key or (parent.key if parent else key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(serial if serial is not None else next(_serials))
            .not_valid_before(_naive(not_before or self.now - datetime.timedelta(days=30)))
            .not_valid_after(_naive(not_after or self.now + datetime.timedelta(days=365 if ca else 60)))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        if parent is not None and aki:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False
            )
        if dns:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
        access = [
            x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u))
            for u in ocsp_urls or []
        ] + [
            x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u))
            for u in ca_issuers_urls or []
        ]
        if access:
            builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
        if crl_urls:
            point = x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(u) for u in crl_urls],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        if must_staple:
            builder = builder.add_extension(x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False)
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        cert = builder.sign(signer, sign_hash(signer))
        return Issued(cert=cert, key=key, parent=parent)

    def root(self, cn: str = "tlsfleet Test Root", kind: str = "ec", **kw) -> Issued:
        return self._build(_name(cn), make_key(kind), None, ca=True, **kw)

    def intermediate(self, parent: Issued, cn: str = "tlsfleet Test Intermediate", kind: str = "ec", **kw) -> Issued:
        kw.setdefault("ocsp_urls", ["http://ocsp.root.test/"])
        kw.setdefault("ca_issuers_urls", ["http://ca.root.test/root.der"])
        return self._build(_name(cn), make_key(kind), parent, ca=True, path_length=kw.pop("path_length", None), **kw)

    def leaf(self, parent: Issued, cn: str = "www.example.test", kind: str = "ec", **kw) -> Issued:
        kw.setdefault("dns", [cn])
        kw.setdefault("ocsp_urls", ["http://ocsp.example.test/"])
        kw.setdefault("ca_issuers_urls", ["http://ca.example.test/int.der"])
        kw.setdefault("eku", [ExtendedKeyUsageOID.SERVER_AUTH])
        return self._build(_name(cn), make_key(kind), parent, ca=False, **kw)

    def crl(
        self,
        issuer: Issued,
        revoked=(),
        *,
        this_update: Optional[datetime.datetime] = None,
        next_update: Optional[datetime.datetime] = None,
        signing_key=None,
        issuer_name: Optional[x509.Name] = None,
        reason: Optional[x509.ReasonFlags] = None,
        pem: bool = False,
        extensions=(),
    ) -> bytes:
        """A CRL of ``issuer`` listing the certificates (or serial numbers) in ``revoked``; DER unless ``pem``.
        ``extensions``: (extension value, critical) pairs added to the CRL."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer_name or issuer.cert.subject)
            .last_update(_naive(this_update or self.now - datetime.timedelta(hours=1)))
            .next_update(_naive(next_update or self.now + datetime.timedelta(days=7)))
        )
        for item in revoked:
            serial = item if isinstance(item, int) else item.cert.serial_number
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(_naive(self.now - datetime.timedelta(days=1)))
            )
            if reason is not None:
                entry = entry.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        for value, critical in extensions:
            builder = builder.add_extension(value, critical=critical)
        key = signing_key or issuer.key
        crl = builder.sign(key, sign_hash(key))
        return crl.public_bytes(serialization.Encoding.PEM if pem else serialization.Encoding.DER)

    def crl_without_next_update(self, issuer: Issued, this_update: datetime.datetime) -> bytes:
        """A DER CRL of ``issuer`` (an EC key) with no nextUpdate and no entries: cryptography's builder cannot
        make one (RFC 5280 requires nextUpdate of conforming CAs, but CRLs without it exist)."""
        algorithm = _seq(_oid("1.2.840.10045.4.3.2"))  # ecdsa-with-SHA256
        when = _tlv(0x17, this_update.astimezone(UTC).strftime("%y%m%d%H%M%SZ").encode("ascii"))
        tbs = _seq(_int(1), algorithm, issuer.cert.subject.public_bytes(), when)
        signature = issuer.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
        return _seq(tbs, algorithm, _tlv(0x03, b"\x00" + signature))

    def ocsp_signer(
        self, parent: Issued, cn: str = "tlsfleet OCSP Responder", kind: str = "ec", eku: bool = True, **kw
    ):
        return self._build(
            _name(cn),
            make_key(kind),
            parent,
            ca=False,
            eku=[ExtendedKeyUsageOID.OCSP_SIGNING] if eku else [ExtendedKeyUsageOID.SERVER_AUTH],
            **kw,
        )

    def chain(self, kind: str = "ec", depth: int = 1, **leaf_kw):
        """root, [intermediates...], leaf: ``depth`` intermediates below the root."""
        root = self.root(kind=kind)
        parent = root
        intermediates = []
        for index in range(depth):
            parent = self.intermediate(parent, cn=f"tlsfleet Test Intermediate {index + 1}", kind=kind)
            intermediates.append(parent)
        leaf = self.leaf(parent, kind=kind, **leaf_kw)
        return root, intermediates, leaf

    # -----------------------------------------------------------------------------------------
    # OCSP

    def ocsp_response(
        self,
        cert: Issued,
        issuer: Issued,
        *,
        status: str = "good",
        signer: Optional[Issued] = None,
        signing_key=None,
        responder_by: str = "hash",
        revocation_time: Optional[datetime.datetime] = None,
        reason: Optional[x509.ReasonFlags] = None,
        this_update: Optional[datetime.datetime] = None,
        next_update: Optional[datetime.datetime] = "default",
        cert_id_hash=None,
        include_certs: Optional[list] = None,
        tamper_signature: bool = False,
    ) -> bytes:
        """A DER OCSP response for ``cert`` (an Issued or a Certificate) as ``issuer`` would see it.

        ``signer`` (default the issuer) names the responder and, unless ``signing_key`` is given,
        signs it. ``include_certs`` defaults to ``[signer.cert]`` for a delegated signer.

        With ``signing_key``, the response is a forgery: its responder ID is the signer's *name*, but
        it is signed with ``signing_key`` (through a throwaway certificate with that name and key).
        ``tamper_signature`` flips one bit of the signature of an otherwise correct response.
        """
        signer = signer or issuer
        key = signing_key or signer.key
        this_update = this_update or self.now - datetime.timedelta(hours=1)
        if next_update == "default":
            next_update = self.now + datetime.timedelta(days=3)
        cert_status = {
            "good": ocsp.OCSPCertStatus.GOOD,
            "revoked": ocsp.OCSPCertStatus.REVOKED,
            "unknown": ocsp.OCSPCertStatus.UNKNOWN,
        }[status]
        if status == "revoked" and revocation_time is None:
            revocation_time = self.now - datetime.timedelta(days=1)
        leaf_cert = cert.cert if isinstance(cert, Issued) else cert
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=leaf_cert,
            issuer=issuer.cert,
            algorithm=cert_id_hash or hashes.SHA1(),  # noqa: S303 (SHA-1 CertIDs are what servers send)
            cert_status=cert_status,
            this_update=_naive(this_update),
            next_update=_naive(next_update) if next_update else None,
            revocation_time=_naive(revocation_time) if revocation_time else None,
            revocation_reason=reason if status == "revoked" else None,
        )
        encoding = ocsp.OCSPResponderEncoding.HASH if responder_by == "hash" else ocsp.OCSPResponderEncoding.NAME
        responder_cert = signer.cert
        if signing_key is not None:
            responder_cert = self._build(signer.cert.subject, signing_key, None, ca=True).cert
            encoding = ocsp.OCSPResponderEncoding.NAME
        builder = builder.responder_id(encoding, responder_cert)
        if include_certs is None and signer is not issuer:
            include_certs = [signer.cert]
        if include_certs:
            builder = builder.certificates(include_certs)
        response = builder.sign(key, sign_hash(key))
        der = response.public_bytes(serialization.Encoding.DER)
        if tamper_signature:
            signature = response.signature
            start = der.rindex(signature)
            middle = start + len(signature) // 2
            der = der[:middle] + bytes([der[middle] ^ 0x01]) + der[middle + 1 :]
        return der

    @staticmethod
    def ocsp_unsuccessful(status: str) -> bytes:
        value = {
            "try_later": ocsp.OCSPResponseStatus.TRY_LATER,
            "unauthorized": ocsp.OCSPResponseStatus.UNAUTHORIZED,
            "malformed_request": ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
            "internal_error": ocsp.OCSPResponseStatus.INTERNAL_ERROR,
            "sig_required": ocsp.OCSPResponseStatus.SIG_REQUIRED,
        }[status]
        return ocsp.OCSPResponseBuilder.build_unsuccessful(value).public_bytes(serialization.Encoding.DER)

    def ocsp_multi_response(self, entries: list, issuer: Issued, *, signer: Optional[Issued] = None) -> bytes:
        """A response with several SingleResponses, one per ``(cert, status)`` in ``entries``.

        cryptography's builder makes one SingleResponse only, so this assembles the DER with the small
        encoder below (test-only; the library never encodes or parses ASN.1 itself).
        """
        signer = signer or issuer
        this_update = self.now - datetime.timedelta(hours=1)
        next_update = self.now + datetime.timedelta(days=3)
        singles = []
        for cert, status in entries:
            leaf_cert = cert.cert if isinstance(cert, Issued) else cert
            req = ocsp.OCSPRequestBuilder().add_certificate(leaf_cert, issuer.cert, hashes.SHA1()).build()  # noqa: S303
            cert_id = _seq(
                _seq(_oid("1.3.14.3.2.26"), b"\x05\x00"),
                _tlv(0x04, req.issuer_name_hash),
                _tlv(0x04, req.issuer_key_hash),
                _int(req.serial_number),
            )
            if status == "good":
                cert_status = b"\x80\x00"
            elif status == "unknown":
                cert_status = b"\x82\x00"
            else:
                cert_status = _tlv(0xA1, _gentime(self.now - datetime.timedelta(days=1)))
            singles.append(_seq(cert_id, cert_status, _gentime(this_update), _tlv(0xA0, _gentime(next_update))))
        key_hash = x509.SubjectKeyIdentifier.from_public_key(signer.key.public_key()).digest
        tbs = _seq(_tlv(0xA2, _tlv(0x04, key_hash)), _gentime(self.now), _seq(*singles))
        key = signer.key
        if isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
            algorithm = _seq(_oid("1.2.840.113549.1.1.11"), b"\x05\x00")
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
            algorithm = _seq(_oid("1.2.840.10045.4.3.2"))
        else:
            signature = key.sign(tbs)
            algorithm = _seq(_oid("1.3.101.112"))
        basic = _seq(tbs, algorithm, _tlv(0x03, b"\x00" + signature))
        if signer is not issuer:
            basic = _seq(tbs, algorithm, _tlv(0x03, b"\x00" + signature), _tlv(0xA0, _seq(signer.der)))
        response_bytes = _seq(_oid("1.3.6.1.5.5.7.48.1.1"), _tlv(0x04, basic))
        return _seq(b"\x0a\x01\x00", _tlv(0xA0, response_bytes))


# -------------------------------------------------------------------------------------------------
# minimal DER encoder, only for ocsp_multi_response


def _tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        header = bytes([length])
    else:
        size = (length.bit_length() + 7) // 8
        header = bytes([0x80 | size]) + length.to_bytes(size, "big")
    return bytes([tag]) + header + content


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _int(value: int) -> bytes:
    size = value.bit_length() // 8 + 1
    return _tlv(0x02, value.to_bytes(size, "big", signed=True))


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([parts[0] * 40 + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        rest = part >> 7
        while rest:
            chunk.insert(0, 0x80 | (rest & 0x7F))
            rest >>= 7
        body += bytes(chunk)
    return _tlv(0x06, body)


def _gentime(value: datetime.datetime) -> bytes:
    return _tlv(0x18, value.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii"))
