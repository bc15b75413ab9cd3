# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Loading and describing X.509 certificates and keys, with compatibility helpers.

All parsing is done by the ``cryptography`` library (minimum version in ``deps.py``). The
helpers below hide the differences between cryptography 3.4 and current releases, so the rest of
the collection never tests versions itself:

- ``not_before``/``not_after`` return timezone-aware UTC datetimes (``*_utc`` attributes from 42 on,
  the naive ones before; the naive ones are never touched on 42+, so no deprecation warning);
- ``is_issued_by`` uses ``Certificate.verify_directly_issued_by`` (40+) when present and falls back
  to an explicit signature check (RSA PKCS#1 v1.5 and PSS, ECDSA, Ed25519, Ed448, DSA);
- RSA-PSS parameters come from ``signature_algorithm_parameters`` (41+) when present.

Conventions of the records: names are RFC 4514 strings, serial numbers are lowercase hexadecimal
with an even number of digits and no separators (``04a1f3``), fingerprints are lowercase hex SHA-256
(or SHA-1) without colons, times are ISO 8601 UTC strings such as ``2026-11-23T19:31:00Z``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import os
import re
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils import files
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
    from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID
except ImportError:  # reported by deps.require_cryptography() in the module
    pass

UTC = datetime.timezone.utc

#: Largest input file the loaders read (certificate bundles and OCSP responses are a few KiB).
MAX_INPUT_BYTES = 10 * 1024 * 1024

_PEM_BLOCK_RE = re.compile(
    rb"-----BEGIN ([A-Z0-9][A-Z0-9 ]*?)-----[ \t]*\r?\n(.*?)-----END \1-----",
    re.DOTALL,
)
_CERT_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE")
_WHITESPACE = b" \t\n\r\x0b\x0c"  # the bytes rb"\s" matches


# ---------------------------------------------------------------------------------------------
# time helpers


def utc_now() -> datetime.datetime:
    """The current time as an aware UTC datetime."""
    return datetime.datetime.now(tz=UTC)


def to_utc(value: Optional[datetime.datetime]) -> Optional[datetime.datetime]:
    """Make ``value`` an aware UTC datetime; naive values are taken as UTC (as cryptography returns them)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_time(value: Optional[datetime.datetime]) -> Optional[str]:
    """ISO 8601 UTC with a ``Z`` suffix and whole seconds, or ``None``."""
    value = to_utc(value)
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, source: str = "time") -> datetime.datetime:
    """Parse an ISO 8601 timestamp (``Z``, an offset, or naive meaning UTC) to an aware UTC datetime."""
    value = str(text).strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{source} {text!r} is not an ISO 8601 timestamp (expected e.g. '2026-11-23T19:31:00Z')."
        ) from None
    return to_utc(parsed)


def compat_time(obj, name: str) -> Optional[datetime.datetime]:
    """Read ``obj.<name>_utc`` when the installed cryptography has it, else the naive attribute as UTC."""
    utc_name = name + "_utc"
    if hasattr(type(obj), utc_name) or hasattr(obj, utc_name):
        return getattr(obj, utc_name)
    return to_utc(getattr(obj, name))


def not_before(cert) -> datetime.datetime:
    """Start of the certificate's validity, aware UTC."""
    return compat_time(cert, "not_valid_before")


def not_after(cert) -> datetime.datetime:
    """End of the certificate's validity, aware UTC."""
    return compat_time(cert, "not_valid_after")


#: A short-lived certificate (CA/Browser Forum Baseline Requirements, from 2026-03-15): its validity period, from
#: notBefore through notAfter inclusive, is 7 days or less. It needs no OCSP or CRL (docs/causes.md).
SHORT_LIVED_SECONDS = 7 * 86400


def is_short_lived(start: Optional[datetime.datetime], end: Optional[datetime.datetime]) -> bool:
    """Whether a validity window is short-lived (both ends inclusive, so the period is ``end - start + 1 s``)."""
    if start is None or end is None:
        return False
    return (end - start).total_seconds() + 1 <= SHORT_LIVED_SECONDS


# ---------------------------------------------------------------------------------------------
# reading inputs


def read_input_file(path: str, description: str) -> bytes:
    """Read a whole file for a loader; every failure becomes an :class:`InputError` naming the file.

    ``description`` says what the file should be, e.g. ``"certificate file"`` or ``"ocsp response"``.
    """
    # Only regular files, opened without blocking: a FIFO or device named in a configuration never hangs us.
    return files.read_bounded(path, description, MAX_INPUT_BYTES)


def describe_unusable(data: bytes):
    """Say what some unusable input looks like, as ``(phrase, detail)``.

    ``phrase`` completes "<source> ...", e.g. ``"is an HTML page"``; ``detail`` is ``""`` or a
    parenthesised excerpt such as ``" (starts with '<!DOCTYPE html')"``. Binary data and key
    material are never quoted.
    """
    stripped = data.lstrip()
    if not stripped:
        return ("is empty" if not data else "contains only whitespace"), ""
    head = stripped[:64]
    lowered = stripped[:512].lower()
    excerpt = f" (starts with '{_printable_excerpt(head, 15)}')"
    if head[:1] == b"<":
        if any(tag in lowered for tag in (b"<html", b"<!doctype html", b"<head", b"<body")):
            return "is an HTML page", excerpt
        return "looks like HTML or XML", excerpt
    if stripped[:1] in (b"{", b"["):
        return "looks like JSON", excerpt
    if b"PRIVATE KEY-----" in stripped[:200]:
        return "contains a private key", ""
    if _is_text(head):
        return "is text", excerpt
    return f"is {len(data)} bytes of binary data", ""


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def _printable_excerpt(data: bytes, limit: int) -> str:
    text = data.decode("utf-8", "replace").splitlines()[0] if data.strip() else ""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text[:limit]


def _pem_body_to_der(body: bytes) -> bytes:
    """Decode a PEM body (RFC 7468, tolerating RFC 1421 headers) to DER bytes; raises ValueError."""
    if b":" in body:
        # RFC 1421 encapsulated headers ("Proc-Type: ...") end at the first empty line
        lines = body.splitlines()
        while lines and lines[0].strip():
            lines.pop(0)
        body = b"".join(lines)
    encoded = body.translate(None, _WHITESPACE)  # what rb"\s" matches, deleted in C (a CA bundle has ~150 bodies)
    if not encoded:
        raise ValueError("empty")
    return base64.b64decode(encoded, validate=True)


def _der_outer_length(der: bytes) -> int:
    """Length of the first DER element (tag + length + contents).

    Only used to drop the OpenSSL trust data that follows the certificate inside a
    ``TRUSTED CERTIFICATE`` block; the certificate itself is parsed by cryptography.
    """
    if len(der) < 2:
        raise ValueError("truncated")
    first = der[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 4 or len(der) < 2 + count:
        raise ValueError("bad length")
    return 2 + count + int.from_bytes(der[2 : 2 + count], "big")


def pem_blocks(data: bytes):
    """Yield ``(label, body)`` for each PEM block in ``data`` (label and body are bytes)."""
    for match in _PEM_BLOCK_RE.finditer(data):
        yield match.group(1).strip(), match.group(2)


# ---------------------------------------------------------------------------------------------
# certificates


def load_certificates(data: bytes, source: str) -> list:
    """Load every certificate in ``data``.

    Accepts PEM (one or many ``CERTIFICATE``, ``X509 CERTIFICATE`` or ``TRUSTED CERTIFICATE`` blocks,
    with any text, headers or other PEM blocks between them, e.g. a private key in an HAProxy bundle)
    or a single DER certificate. The order of the input is kept. ``source`` names the input in error
    messages, e.g. ``"certificate file /etc/ssl/site.pem"``.

    Raises :class:`InputError` when no certificate can be loaded, or when a certificate block is damaged.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if not data or not data.strip():
        phrase, _detail = describe_unusable(data)
        raise InputError(f"{source} {phrase}, not a certificate.")
    blocks = list(pem_blocks(data))
    if blocks:
        certs = []
        other_labels = []
        for index, (label, body) in enumerate(blocks, start=1):
            if label not in _CERT_LABELS:
                other_labels.append(label.decode("ascii", "replace"))
                continue
            try:
                der = _pem_body_to_der(body)
            except (ValueError, binascii.Error):
                raise InputError(
                    f"{source}: PEM block {index} ({label.decode('ascii')}) does not contain valid base64."
                ) from None
            if label == b"TRUSTED CERTIFICATE":
                try:
                    der = der[: _der_outer_length(der)]
                except ValueError:
                    raise InputError(f"{source}: PEM block {index} (TRUSTED CERTIFICATE) is truncated.") from None
            try:
                certs.append(x509.load_der_x509_certificate(der))
            except Exception as exc:  # cryptography raises ValueError, or a Rust panic wrapper on odd input
                raise InputError(
                    f"{source}: PEM block {index} ({label.decode('ascii')}) is not a valid certificate ({exc})."
                ) from None
        if not certs:
            found = ", ".join(sorted(set(other_labels)))
            raise InputError(f"{source} contains no certificate (PEM blocks found: {found}).")
        return certs
    if b"-----BEGIN" in data:
        raise InputError(f"{source} has a PEM '-----BEGIN' line without a matching '-----END' line (truncated?).")
    if data[:1] == b"\x30":
        try:
            return [x509.load_der_x509_certificate(data)]
        except Exception as exc:
            raise InputError(f"{source} is neither PEM nor a valid DER certificate ({exc}).") from None
    phrase, detail = describe_unusable(data)
    raise InputError(f"{source} {phrase}, not a PEM or DER certificate{detail}.")


def load_certificates_from_path(path: str, description: str = "certificate file") -> list:
    """Read ``path`` and load its certificates; errors name ``"<description> <path>"``."""
    return load_certificates(read_input_file(path, description), f"{description} {path}")


SYSTEM_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")


def system_trust_anchors(bundles=SYSTEM_CA_BUNDLES) -> list:
    """The roots of the first system CA bundle found, or ``[]``.

    Lenient on purpose: a distribution bundle may hold a root that a newer cryptography refuses or warns about
    (Debian 12's has one with a negative serial number). That one root is skipped; the others still count, and
    the user never asked for this file, so it must not fail a run.
    """
    for path in bundles:
        if not os.path.isfile(path):
            continue
        try:
            data = read_input_file(path, "system CA bundle")
        except InputError:
            return []
        anchors = []
        for label, body in pem_blocks(data):
            if label not in _CERT_LABELS:
                continue
            try:
                der = _pem_body_to_der(body)
                if label == b"TRUSTED CERTIFICATE":
                    der = der[: _der_outer_length(der)]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    anchors.append(x509.load_der_x509_certificate(der))
            except Exception:  # noqa: S112 (one unusable root must not hide the rest)
                continue
        return anchors
    return []


def load_private_key(data: bytes, source: str, password=None):
    """Load the first private key in ``data`` (PEM anywhere in the text, or DER).

    Error messages name ``source`` only; key contents are never echoed. ``password`` may be str or bytes.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if isinstance(password, str):
        password = password.encode("utf-8")
    if not data or not data.strip():
        raise InputError(f"{source} {describe_unusable(data)[0]}, not a private key.")
    key_blocks = [m.group(0) for m in _PEM_BLOCK_RE.finditer(data) if m.group(1).strip().endswith(b"PRIVATE KEY")]
    try:
        if key_blocks:
            return _load_key(serialization.load_pem_private_key, key_blocks[0], password)
        if b"-----BEGIN" in data:
            raise InputError(f"{source} contains no PEM private key block.")
        if data[:1] == b"\x30":
            return _load_key(serialization.load_der_private_key, data, password)
    except InputError:
        raise
    except TypeError:
        raise InputError(f"{source} is an encrypted private key and no password was given.") from None
    except UnsupportedAlgorithm:
        raise InputError(f"{source} holds a private key of a type the cryptography library does not support.") from None
    except Exception:  # ValueError on damaged data or a wrong password; never include details
        raise InputError(f"{source} could not be loaded as a private key (damaged, or wrong password).") from None
    raise InputError(f"{source} {describe_unusable(data)[0]}, not a private key.")


#: DER of the rsaEncryption algorithm identifier's OID (1.2.840.113549.1.1.1), in a PKCS #8 PrivateKeyInfo.
_RSA_ENCRYPTION_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"


def _der_item(der: bytes, pos: int):
    """``(tag, content start, content end)`` of the DER item at ``pos``; ValueError when it does not fit."""
    if pos + 2 > len(der):
        raise ValueError("truncated")
    tag, length, start = der[pos], der[pos + 1], pos + 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or start + count > len(der):
            raise ValueError("bad length")
        length, start = int.from_bytes(der[start : start + count], "big"), start + count
    if start + length > len(der):
        raise ValueError("truncated")
    return tag, start, start + length


def rsa_public_key_of_private_pem(data: bytes):
    """The public key of the first private key in ``data`` when it is an unencrypted PEM RSA key, else None.

    Read from the key's own DER (PKCS #1 ``RSAPrivateKey``, or PKCS #8 ``PrivateKeyInfo`` holding one): the
    modulus and public exponent, which is all that matching a certificate compares, once the primes p and q are
    checked to be above 1 and to make the modulus (p * q == n). Loading the whole key costs far more: cryptography
    before 39 checks an RSA key's consistency on every load (about 50 ms for a 2048-bit key with OpenSSL 3, the
    nodes' cryptography 38 - docs/performance.md). None for anything else (encrypted, EC, damaged, primes that do
    not make the modulus), which :func:`load_private_key` then loads and judges as before.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    block = next((m for m in _PEM_BLOCK_RE.finditer(data or b"") if m.group(1).strip().endswith(b"PRIVATE KEY")), None)
    if block is None or block.group(1) not in (b"RSA PRIVATE KEY", b"PRIVATE KEY") or b":" in block.group(2):
        return None  # not RSA-shaped, or RFC 1421 headers (Proc-Type: 4,ENCRYPTED)
    try:
        der = _pem_body_to_der(block.group(2))
        tag, start, end = _der_item(der, 0)
        if tag != 0x30:
            return None
        tag, pos, version_end = _der_item(der, start)  # version
        if tag != 0x02:
            return None
        if block.group(1) == b"PRIVATE KEY":
            tag, pos, algorithm_end = _der_item(der, version_end)
            if tag != 0x30 or not der[pos:algorithm_end].startswith(_RSA_ENCRYPTION_OID):
                return None
            tag, pos, octets_end = _der_item(der, algorithm_end)
            if tag != 0x04:
                return None
            der = der[pos:octets_end]
            tag, start, end = _der_item(der, 0)
            if tag != 0x30:
                return None
            tag, pos, version_end = _der_item(der, start)
            if tag != 0x02:
                return None
        tag, pos, modulus_end = _der_item(der, version_end)
        if tag != 0x02:
            return None
        modulus = int.from_bytes(der[pos:modulus_end], "big")
        tag, pos, exponent_end = _der_item(der, modulus_end)
        if tag != 0x02 or exponent_end > end:
            return None
        exponent = int.from_bytes(der[pos:exponent_end], "big")
        # The primes must make the modulus (the one consistency check that matters for a key match, and cheap):
        # a key whose p * q is not n is damaged, and the full loader refuses it.
        tag, pos, field_end = _der_item(der, exponent_end)  # privateExponent
        if tag != 0x02 or field_end > end:
            return None
        primes = []
        for _index in range(2):
            tag, pos, field_end = _der_item(der, field_end)
            if tag != 0x02 or field_end > end:
                return None
            primes.append(int.from_bytes(der[pos:field_end], "big", signed=True))
        if min(primes) <= 1 or primes[0] * primes[1] != modulus:
            return None
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except Exception:  # pylint: disable=broad-exception-caught  # anything odd: the full loader judges it
        return None


def _load_key(loader, data, password):
    try:
        return loader(data, password)
    except TypeError:
        if password is not None:  # a password was given for a key that is not encrypted
            return loader(data, None)
        raise


def _spki_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


_PUBLIC_KEYS: Dict[bytes, object] = {}


def certificate_public_key(cert):
    """``cert.public_key()``, cached per certificate (loading a key from DER is the costly part of a link check)."""
    digest = der_sha256(cert)
    key = _PUBLIC_KEYS.get(digest)
    if key is None:
        if len(_PUBLIC_KEYS) >= 4096:
            _PUBLIC_KEYS.clear()
        key = _PUBLIC_KEYS[digest] = cert.public_key()
    return key


def public_key_of(cert_or_key):
    """The public key of a certificate, private key or public key."""
    if isinstance(cert_or_key, x509.Certificate):
        return certificate_public_key(cert_or_key)
    if hasattr(cert_or_key, "private_bytes"):
        return cert_or_key.public_key()
    return cert_or_key


_SPKI_SHA256_BY_CERT: Dict[bytes, Optional[str]] = {}


def public_key_sha256(cert_or_key) -> Optional[str]:
    """Lowercase hex SHA-256 of the SubjectPublicKeyInfo of a certificate or key (safe to print).

    Cached per certificate: loading and re-encoding a public key costs far more than hashing the certificate.
    """
    cert_key = None
    if isinstance(cert_or_key, x509.Certificate):
        cert_key = der_sha256(cert_or_key)
        if cert_key in _SPKI_SHA256_BY_CERT:
            return _SPKI_SHA256_BY_CERT[cert_key]
    try:
        value: Optional[str] = hashlib.sha256(_spki_der(public_key_of(cert_or_key))).hexdigest()
    except Exception:
        value = None
    if cert_key is not None:
        if len(_SPKI_SHA256_BY_CERT) >= 16384:
            _SPKI_SHA256_BY_CERT.clear()
        _SPKI_SHA256_BY_CERT[cert_key] = value
    return value


def same_subject_and_key(cert, other) -> bool:
    """True when two certificates name the same subject with the same public key: the same CA, even when one is a
    cross-signed (or re-issued) copy of the other. Never raises."""
    try:
        if cert.subject != other.subject:
            return False
    except Exception:  # pylint: disable=broad-exception-caught  # a name that cannot be read matches nothing
        return False
    key = public_key_sha256(cert)
    return key is not None and key == public_key_sha256(other)


def public_key_matches(cert, key) -> bool:
    """True when ``key`` (a private or public key) belongs to ``cert``; works for RSA, EC, Ed25519, Ed448, DSA."""
    try:
        return _spki_der(certificate_public_key(cert)) == _spki_der(public_key_of(key))
    except Exception:
        return False


def key_type(public_key) -> str:
    """``RSA-2048``, ``EC-secp256r1``, ``Ed25519``, ``Ed448``, ``DSA-2048``, or the class name."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC-{public_key.curve.name}"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(public_key, dsa.DSAPublicKey):
        return f"DSA-{public_key.key_size}"
    return type(public_key).__name__


def serial_hex(serial: int) -> str:
    """Lowercase hex, even number of digits, no separators (``0x1234`` -> ``1234``, ``0x123`` -> ``0123``); a
    negative serial (not RFC 5280, but real CAs issued them) is its sign and its magnitude (``-0x12`` -> ``-12``)."""
    text = format(abs(serial), "x")
    return ("-" if serial < 0 else "") + (text if len(text) % 2 == 0 else "0" + text)


def name_string(name) -> str:
    """RFC 4514 string of an ``x509.Name`` (never raises)."""
    try:
        return name.rfc4514_string()
    except Exception:
        return repr(name)


def fingerprint(cert, algorithm: str = "sha256") -> str:
    """Lowercase hex fingerprint of the certificate's DER encoding."""
    return hashlib.new(algorithm, cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def der_sha256(cert) -> bytes:
    """The SHA-256 of the certificate's DER encoding, as bytes: the key of the per-certificate caches.

    ``cert.fingerprint(hashes.SHA256())`` is the same value at ten times the cost (0.16 ms against 0.014 ms with
    cryptography 38 on OpenSSL 3, Debian 12: it looks the digest up by name on every call), and an audit asks it
    about a hundred times.
    """
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


_EXTENSIONS_LOCK = threading.Lock()


def extensions_of(cert):
    """``cert.extensions``, safe to call from several threads at once.

    cryptography before 42 (Debian 12 ships 38) takes an exclusive borrow of the certificate to cache its
    extensions and raises RuntimeError ("Already borrowed") when another thread holds the same certificate at that
    moment. The audit's responder probes and handshakes share certificates across threads, so retry briefly.
    """
    with _EXTENSIONS_LOCK:  # the borrow conflicts with itself: serialise our own readers ...
        for attempt in range(40):
            try:
                return cert.extensions
            except RuntimeError:  # ... and wait out any other holder
                time.sleep(0.0005 * (attempt + 1))
        return cert.extensions


def _extension_value(cert, oid):
    try:
        return extensions_of(cert).get_extension_for_oid(oid).value
    except Exception:  # ExtensionNotFound, or ValueError for a damaged/duplicated extension
        return None


def subject_key_id(cert) -> Optional[bytes]:
    ski = _extension_value(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    return ski.digest if ski is not None else None


def authority_key_id(cert) -> Optional[bytes]:
    aki = _extension_value(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    return aki.key_identifier if aki is not None else None


def _aia_urls(cert, method_oid) -> List[str]:
    aia = _extension_value(cert, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    if aia is None:
        return []
    urls = []
    for desc in aia:
        if desc.access_method == method_oid and isinstance(desc.access_location, x509.UniformResourceIdentifier):
            urls.append(desc.access_location.value)
    return urls


def ocsp_urls(cert) -> List[str]:
    """Every OCSP responder URL in the certificate's AIA extension, in order."""
    return _aia_urls(cert, x509.AuthorityInformationAccessOID.OCSP)


def ca_issuers_urls(cert) -> List[str]:
    """Every caIssuers URL in the certificate's AIA extension, in order."""
    return _aia_urls(cert, x509.AuthorityInformationAccessOID.CA_ISSUERS)


def must_staple(cert) -> bool:
    """True when the certificate has the TLS Feature extension with status_request (RFC 7633)."""
    feature = _extension_value(cert, ExtensionOID.TLS_FEATURE)
    if feature is None:
        return False
    return any(item == x509.TLSFeatureType.status_request for item in feature)


def san_dns_names(cert) -> List[str]:
    san = _extension_value(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if san is None:
        return []
    return list(san.get_values_for_type(x509.DNSName))


def is_ca(cert) -> bool:
    bc = _extension_value(cert, ExtensionOID.BASIC_CONSTRAINTS)
    return bool(bc is not None and bc.ca)


def extended_key_usages(cert) -> list:
    """The EKU OIDs of the certificate (empty when it has no EKU extension)."""
    eku = _extension_value(cert, ExtensionOID.EXTENDED_KEY_USAGE)
    return list(eku) if eku is not None else []


# ---------------------------------------------------------------------------------------------
# signatures


def _rsa_paddings(hash_algorithm, padding_hint):
    if padding_hint is not None and not isinstance(padding_hint, str):
        return [padding_hint]
    if padding_hint == "pss":
        mgf = padding.MGF1(hash_algorithm)
        if hasattr(padding.PSS, "AUTO"):  # cryptography >= 37
            return [padding.PSS(mgf=mgf, salt_length=padding.PSS.AUTO)]
        return [
            padding.PSS(mgf=mgf, salt_length=hash_algorithm.digest_size),
            padding.PSS(mgf=mgf, salt_length=padding.PSS.MAX_LENGTH),
        ]
    return [padding.PKCS1v15()]


def verify_signature(public_key, signature: bytes, data: bytes, hash_algorithm, padding_hint=None) -> bool:
    """Verify ``signature`` over ``data`` with ``public_key``; returns a bool, never raises.

    ``hash_algorithm`` is a cryptography hash instance (``None`` for Ed25519/Ed448). For RSA,
    ``padding_hint`` is ``None``/``"pkcs1v15"``, ``"pss"`` (salt length detected), or a padding instance.
    """
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if hash_algorithm is None:
                return False
            for pad in _rsa_paddings(hash_algorithm, padding_hint):
                try:
                    public_key.verify(signature, data, pad, hash_algorithm)
                    return True
                except InvalidSignature:
                    continue
            return False
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            if hash_algorithm is None:
                return False
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
            return True
        if isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            public_key.verify(signature, data)
            return True
        if isinstance(public_key, dsa.DSAPublicKey):
            if hash_algorithm is None:
                return False
            public_key.verify(signature, data, hash_algorithm)
            return True
    except InvalidSignature:
        return False
    except Exception:  # unsupported algorithm or parameters, damaged key: the signature is not verified
        return False
    return False


def signature_padding_hint(obj):
    """The RSA padding to verify ``obj``'s signature with (certificate or OCSP response)."""
    try:
        oid = obj.signature_algorithm_oid
    except Exception:
        return None
    if oid != SignatureAlgorithmOID.RSASSA_PSS:
        return None
    if hasattr(type(obj), "signature_algorithm_parameters"):  # cryptography >= 41, certificates
        try:
            params = obj.signature_algorithm_parameters
            if isinstance(params, padding.PSS):
                return params
        except Exception:  # noqa: S110 (fall back to detecting the salt length)
            pass
    return "pss"


def signature_hash(obj):
    """The hash algorithm of ``obj``'s signature, ``None`` for Ed25519/Ed448 or when unsupported."""
    try:
        return obj.signature_hash_algorithm
    except Exception:
        return None


_ISSUED_BY: Dict[tuple, bool] = {}


def is_issued_by(cert, candidate_issuer) -> bool:
    """True when ``candidate_issuer`` issued ``cert``.

    Checks that the issuer name matches the candidate's subject, that the authority key identifier
    matches the candidate's subject key identifier when both are present, and that the signature
    verifies with the candidate's public key. Results are cached per pair of certificates (DER digests): an
    audit checks the same links for every protocol, the configured files and the trusted file.
    """
    try:
        pair = (der_sha256(cert), der_sha256(candidate_issuer))
    except Exception:
        return False
    if pair not in _ISSUED_BY:
        if len(_ISSUED_BY) >= 16384:
            _ISSUED_BY.clear()
        _ISSUED_BY[pair] = _is_issued_by(cert, candidate_issuer)
    return _ISSUED_BY[pair]


def _is_issued_by(cert, candidate_issuer) -> bool:
    try:
        if cert.issuer != candidate_issuer.subject:
            return False
    except Exception:
        return False
    aki = authority_key_id(cert)
    ski = subject_key_id(candidate_issuer)
    if aki is not None and ski is not None and aki != ski:
        return False
    if hasattr(type(cert), "verify_directly_issued_by"):  # cryptography >= 40
        try:
            cert.verify_directly_issued_by(candidate_issuer)
            return True
        except InvalidSignature:
            return False
        except Exception:  # noqa: S110 (unsupported there: try the explicit check below)
            pass
    try:
        public_key = certificate_public_key(candidate_issuer)
    except Exception:
        return False
    return verify_signature(
        public_key,
        cert.signature,
        cert.tbs_certificate_bytes,
        signature_hash(cert),
        signature_padding_hint(cert),
    )


def is_self_signed(cert) -> bool:
    """True when the certificate's issuer is its own subject and it verifies with its own key."""
    return is_issued_by(cert, cert)


def signature_algorithm_name(obj) -> str:
    try:
        oid = obj.signature_algorithm_oid
    except Exception:
        return "unknown"
    return getattr(oid, "_name", None) or oid.dotted_string


# ---------------------------------------------------------------------------------------------
# records


@dataclass(repr=False)
class CertInfo(Record):
    """What the collection reports about one certificate (JSON-safe through ``to_dict()``)."""

    subject: str
    issuer: str
    serial: str
    sha256: str
    sha1: str
    not_before: str
    not_after: str
    san_dns: List[str] = field(default_factory=list)
    ocsp_urls: List[str] = field(default_factory=list)
    ca_issuers_urls: List[str] = field(default_factory=list)
    must_staple: bool = False
    short_lived: bool = False
    is_ca: bool = False
    self_signed: bool = False
    key_type: str = "unknown"
    public_key_sha256: Optional[str] = None
    signature_algorithm: str = "unknown"
    subject_key_id: Optional[str] = None
    authority_key_id: Optional[str] = None

    def to_dict(self) -> dict:
        # Flat record: a shallow copy with fresh lists is what asdict() would give, at a tenth of the cost.
        out = dict(self.__dict__)
        for name in ("san_dns", "ocsp_urls", "ca_issuers_urls"):
            out[name] = list(out[name])
        return out


_DESCRIBED: Dict[bytes, CertInfo] = {}


def describe(cert) -> CertInfo:
    """Describe a certificate as a :class:`CertInfo` record (a fresh copy; the work is cached per certificate).

    An audit describes the same intermediates and roots for every hostname; the self-signature check and the
    name formatting dominated a 200-hostname audit before the cache.
    """
    key = der_sha256(cert)
    info = _DESCRIBED.get(key)
    if info is None:
        if len(_DESCRIBED) >= 4096:
            _DESCRIBED.clear()
        info = _DESCRIBED[key] = _describe(cert)
    return replace(
        info, san_dns=list(info.san_dns), ocsp_urls=list(info.ocsp_urls), ca_issuers_urls=list(info.ca_issuers_urls)
    )


def _describe(cert) -> CertInfo:
    try:
        ktype = key_type(certificate_public_key(cert))
    except Exception:
        ktype = "unknown"
    ski = subject_key_id(cert)
    aki = authority_key_id(cert)
    return CertInfo(
        subject=name_string(cert.subject),
        issuer=name_string(cert.issuer),
        serial=serial_hex(cert.serial_number),
        sha256=fingerprint(cert, "sha256"),
        sha1=fingerprint(cert, "sha1"),
        not_before=format_time(not_before(cert)),
        not_after=format_time(not_after(cert)),
        san_dns=san_dns_names(cert),
        ocsp_urls=ocsp_urls(cert),
        ca_issuers_urls=ca_issuers_urls(cert),
        must_staple=must_staple(cert),
        short_lived=is_short_lived(not_before(cert), not_after(cert)),
        is_ca=is_ca(cert),
        self_signed=is_self_signed(cert),
        key_type=ktype,
        public_key_sha256=public_key_sha256(cert),
        signature_algorithm=signature_algorithm_name(cert),
        subject_key_id=ski.hex() if ski is not None else None,
        authority_key_id=aki.hex() if aki is not None else None,
    )


def hash_by_name(name: str):
    """A cryptography hash instance for ``sha1``, ``sha224``, ``sha256``, ``sha384`` or ``sha512``."""
    table = {
        "sha1": hashes.SHA1,
        "sha224": hashes.SHA224,
        "sha256": hashes.SHA256,
        "sha384": hashes.SHA384,
        "sha512": hashes.SHA512,
    }
    key = str(name).lower().replace("-", "")
    if key not in table:
        raise InputError(f"hash algorithm {name!r} is not supported (use one of {', '.join(table)}).")
    return table[key]()
