# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OCSP requests and full validation of OCSP responses (RFC 6960 section 3.2).

``validate_response`` checks everything a client checks before it trusts a staple: response status,
signature, that the signer is the issuer or a responder certificate the issuer delegated OCSP signing
to, that the CertID is the certificate's, and thisUpdate/nextUpdate against the clock. Its
:class:`OcspVerdict` is self-contained and JSON-safe through ``to_dict()``.

All ASN.1 work is done by cryptography. A CertID for any hash is computed by building an OCSP
request for the certificate and reading the hashes back from it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record
from ansible_collections.tlsfleet.stapling.plugins.module_utils.x509 import (
    certificate_public_key,
    compat_time,
    describe_unusable,
    extended_key_usages,
    format_time,
    hash_by_name,
    is_issued_by,
    name_string,
    not_after,
    not_before,
    pem_blocks,
    read_input_file,
    serial_hex,
    signature_algorithm_name,
    signature_hash,
    signature_padding_hint,
    to_utc,
    utc_now,
    verify_signature,
)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import ExtendedKeyUsageOID
except ImportError:  # reported by deps.require_cryptography() in the module
    pass

DEFAULT_SKEW_SECONDS = 300
# A tolerance beyond a day would let a replayed, long expired response pass as fresh: refuse it.
MAX_SKEW_SECONDS = 86400


def skew_problem(seconds) -> Optional[str]:
    """Why ``seconds`` is not a usable clock-skew tolerance, or None."""
    if seconds is None or 0 <= seconds <= MAX_SKEW_SECONDS:
        return None
    return "clock_skew must be between 0 and %d seconds (one day), not %s." % (MAX_SKEW_SECONDS, seconds)


SIGNER_ISSUER = "issuer"
SIGNER_DELEGATED = "delegated"
SIGNER_UNKNOWN = "unknown"

_BASE64_RE = re.compile(rb"^[A-Za-z0-9+/=\s]+$")
_WHITESPACE_RE = re.compile(rb"\s+")

_STATUS_EXPLANATIONS = {
    "malformed_request": "the responder could not parse the request (malformedRequest)",
    "internal_error": "the responder had an internal error (internalError)",
    "try_later": "the responder is busy or not ready and asks to try later (tryLater)",
    "sig_required": "the responder requires signed requests (sigRequired)",
    "unauthorized": "the responder is not authoritative for this certificate (unauthorized)",
}


# ---------------------------------------------------------------------------------------------
# requests and CertIDs


@dataclass(repr=False)
class CertId(Record):
    """An OCSP CertID: hashes are lowercase hex, the serial lowercase hex (see ``x509.serial_hex``)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial: str

    def to_dict(self) -> dict:
        return asdict(self)


def _request(cert, issuer, hash_name: str):
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hash_by_name(hash_name))
    return builder.build()


def build_request(cert, issuer, hash_name: str = "sha1") -> bytes:
    """A DER OCSP request for ``cert`` (no nonce, as servers and most responders expect)."""
    return _request(cert, issuer, hash_name).public_bytes(serialization.Encoding.DER)


def request_cert_id(cert, issuer, hash_name: str = "sha1") -> CertId:
    """The CertID of ``cert`` issued by ``issuer`` for ``hash_name`` (sha1, sha224, sha256, sha384, sha512)."""
    req = _request(cert, issuer, hash_name)
    return CertId(
        hash_algorithm=req.hash_algorithm.name,
        issuer_name_hash=req.issuer_name_hash.hex(),
        issuer_key_hash=req.issuer_key_hash.hex(),
        serial=serial_hex(req.serial_number),
    )


# ---------------------------------------------------------------------------------------------
# loading


def load_response(data, source: str = "ocsp response"):
    """Load an OCSP response from DER, base64 text (whitespace tolerated) or a PEM block.

    Raises :class:`InputError` with one sentence naming ``source`` when the data is empty, HTML,
    other text, truncated or damaged DER.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if not data or not data.strip():
        phrase, _detail = describe_unusable(data or b"")
        raise InputError(f"{source} {phrase}, not an OCSP response.")
    if data[:1] == b"\x30":
        return _load_der(data, source, "")
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        for label, body in pem_blocks(stripped):
            if b"OCSP RESPONSE" in label:
                try:
                    der = base64.b64decode(_WHITESPACE_RE.sub(b"", body), validate=True)
                except (ValueError, binascii.Error):
                    raise InputError(f"{source}: the PEM block {label.decode('ascii')} is not valid base64.") from None
                return _load_der(der, source, " (from PEM)")
        label = stripped[11:].split(b"-----", 1)[0].decode("ascii", "replace")
        raise InputError(f"{source} is a PEM {label} block, not an OCSP response.")
    if _BASE64_RE.match(stripped):
        try:
            der = base64.b64decode(_WHITESPACE_RE.sub(b"", stripped), validate=True)
        except (ValueError, binascii.Error):
            raise InputError(f"{source} looks like base64 text but does not decode (damaged or truncated).") from None
        if der[:1] != b"\x30":
            raise InputError(f"{source} is base64 text, but what it decodes to is not an OCSP response.")
        return _load_der(der, source, " (decoded from base64)")
    phrase, detail = describe_unusable(data)
    raise InputError(f"{source} {phrase}, not an OCSP response{detail}.")


def _load_der(der: bytes, source: str, how: str):
    try:
        return ocsp.load_der_ocsp_response(der)
    except Exception as exc:  # ValueError from the parser (Rust panics surface as other types on old releases)
        reason = str(exc) or type(exc).__name__
    if "more than one SINGLERESP" in reason:  # cryptography < 37 cannot read multi-status responses
        raise InputError(
            f"{source} holds several certificate statuses, which the installed cryptography library cannot read "
            "(cryptography >= 37 is needed for such responses)."
        )
    try:
        x509.load_der_x509_certificate(der)
    except Exception:  # noqa: S110 (not a certificate either: report the OCSP parse error)
        pass
    else:
        raise InputError(f"{source} is a DER certificate{how}, not an OCSP response.")
    raise InputError(
        f"{source} is not a valid DER OCSP response{how}: it is truncated or damaged ({len(der)} bytes; {reason})."
    )


def load_response_from_path(path: str, description: str = "ocsp response"):
    """Read ``path`` and load the OCSP response in it; errors name ``"<description> <path>"``."""
    return load_response(read_input_file(path, description), f"{description} {path}")


# ---------------------------------------------------------------------------------------------
# verdict


@dataclass(repr=False)
class OcspVerdict(Record):
    """Everything known about one OCSP response for one certificate (JSON-safe via ``to_dict()``).

    ``valid`` means the response can be trusted (status successful, signature valid, signer
    authorized, CertID is the certificate's, and fresh at ``checked_at`` within the clock skew); it
    says nothing about the certificate's status: a valid response can say "revoked". ``good`` is
    ``valid`` and ``cert_status == "good"``. ``problems`` has one sentence per failed check, plus
    the certificate's revoked/unknown status and a missing nextUpdate; it is empty only when
    ``good`` is true and the response has a nextUpdate.
    """

    response_status: str
    cert_status: Optional[str] = None
    revocation_time: Optional[str] = None
    revocation_reason: Optional[str] = None
    this_update: Optional[str] = None
    next_update: Optional[str] = None
    produced_at: Optional[str] = None
    seconds_until_next_update: Optional[int] = None
    signer: str = SIGNER_UNKNOWN
    signer_subject: Optional[str] = None
    signer_authorized: bool = False
    responder_id: Optional[str] = None
    signature_valid: bool = False
    signature_algorithm: Optional[str] = None
    cert_id_matches: bool = False
    cert_id_hash: Optional[str] = None
    single_responses: int = 0
    valid: bool = False
    good: bool = False
    problems: List[str] = field(default_factory=list)
    checked_at: Optional[str] = None
    clock_skew: int = DEFAULT_SKEW_SECONDS
    response_sha256: Optional[str] = None

    def to_dict(self) -> dict:
        return asdict(self)


def _single_responses(response) -> list:
    """All SingleResponses (cryptography >= 37 exposes them; before, the response holds exactly one)."""
    if hasattr(type(response), "responses"):
        try:
            return list(response.responses)
        except Exception:  # noqa: S110 (fall back to the top-level accessors)
            pass
    return [response]


def _match_single(singles, cert, issuer):
    """Return ``(single, matched, problem)`` for our certificate among ``singles``."""
    expected = {}
    serial = cert.serial_number
    serial_only = None
    for single in singles:
        try:
            algorithm = single.hash_algorithm.name
            if algorithm not in expected:
                req = _request(cert, issuer, algorithm)
                expected[algorithm] = (req.issuer_name_hash, req.issuer_key_hash)
            name_hash, key_hash = expected[algorithm]
            if single.serial_number != serial:
                continue
            if single.issuer_name_hash == name_hash and single.issuer_key_hash == key_hash:
                return single, True, None
            serial_only = single
        except Exception:  # noqa: S112 (an unsupported CertID hash cannot be ours)
            continue
    if serial_only is not None:
        return (
            serial_only,
            False,
            "the response is for the certificate's serial number but names a different issuer "
            "(issuer name or key hash does not match the issuer).",
        )
    first = singles[0]
    try:
        their = serial_hex(first.serial_number)
    except Exception:
        their = "?"
    if len(singles) > 1:
        problem = (
            f"none of the {len(singles)} certificate statuses in the response is for the certificate "
            f"(serial {serial_hex(serial)})."
        )
    else:
        problem = f"the response is for serial {their}, not for the certificate's serial {serial_hex(serial)}."
    return first, False, problem


def _responder_matches(response, candidate) -> bool:
    try:
        name = response.responder_name
        if name is not None:
            return candidate.subject == name
        key_hash = response.responder_key_hash
        if key_hash is not None:
            return x509.SubjectKeyIdentifier.from_public_key(certificate_public_key(candidate)).digest == key_hash
    except Exception:
        return False
    return False


def _responder_id(response) -> Optional[str]:
    try:
        if response.responder_name is not None:
            return name_string(response.responder_name)
        if response.responder_key_hash is not None:
            return "key hash " + response.responder_key_hash.hex()
    except Exception:
        return None
    return None


def _signature_ok(response, cert) -> bool:
    try:
        public_key = certificate_public_key(cert)
    except Exception:
        return False
    return verify_signature(
        public_key,
        response.signature,
        response.tbs_response_bytes,
        signature_hash(response),
        signature_padding_hint(response),
    )


def _same_cert(a, b) -> bool:
    try:
        return a.public_bytes(serialization.Encoding.DER) == b.public_bytes(serialization.Encoding.DER)
    except Exception:
        return False


def _check_signer(response, issuer, at, verdict: OcspVerdict, problems: List[str]) -> None:
    """Fill the signer fields of ``verdict``; append a sentence to ``problems`` for each failure."""
    responder = _responder_id(response) or "an unidentified responder"
    verdict.responder_id = _responder_id(response)
    try:
        embedded = list(response.certificates)
    except Exception:
        embedded = []
        problems.append("the certificates embedded in the response cannot be parsed.")

    if issuer is not None and _responder_matches(response, issuer):
        verdict.signer = SIGNER_ISSUER
        verdict.signer_subject = name_string(issuer.subject)
        verdict.signature_valid = _signature_ok(response, issuer)
        verdict.signer_authorized = True
        if not verdict.signature_valid:
            problems.append(_bad_signature_sentence(response, f"the issuer '{verdict.signer_subject}'"))
        return

    matching = [c for c in embedded if _responder_matches(response, c) and not _same_cert(c, issuer)]
    if not matching:
        verdict.signer = SIGNER_UNKNOWN
        verdict.signer_subject = responder if not responder.startswith("key hash") else None
        problems.append(
            f"the response was signed by '{responder}' which is neither the issuer nor a responder certificate "
            "the issuer signed for OCSP signing (no such certificate is included in the response)."
        )
        return

    signer_cert = next((c for c in matching if _signature_ok(response, c)), matching[0])
    subject = name_string(signer_cert.subject)
    verdict.signer_subject = subject
    verdict.signature_valid = _signature_ok(response, signer_cert)
    if not verdict.signature_valid:
        problems.append(_bad_signature_sentence(response, f"the responder certificate '{subject}'"))

    reasons = []
    issuer_subject = name_string(issuer.subject) if issuer is not None else "?"
    issued = issuer is not None and is_issued_by(signer_cert, issuer)
    if not issued:
        problems.append(
            f"the response was signed by '{subject}' which is neither the issuer nor a responder certificate "
            f"the issuer signed for OCSP signing (it was not issued by '{issuer_subject}')."
        )
        reasons.append("not issued by the issuer")
    elif ExtendedKeyUsageOID.OCSP_SIGNING not in extended_key_usages(signer_cert):
        problems.append(
            f"the response was signed by '{subject}', a certificate issued by '{issuer_subject}' that lacks the "
            "OCSP Signing extended key usage (id-kp-OCSPSigning), so it may not sign OCSP responses."
        )
        reasons.append("no OCSPSigning EKU")
    start, end = not_before(signer_cert), not_after(signer_cert)
    if not start <= at <= end:
        problems.append(
            f"the delegated responder certificate '{subject}' is not valid at {format_time(at)} "
            f"(valid from {format_time(start)} to {format_time(end)})."
        )
        reasons.append("outside its validity")
    verdict.signer_authorized = not reasons
    verdict.signer = SIGNER_DELEGATED if not reasons else SIGNER_UNKNOWN


def _bad_signature_sentence(response, who: str) -> str:
    hash_algorithm = signature_hash(response)
    algorithm = signature_algorithm_name(response)
    if hash_algorithm is None and "ed25519" not in algorithm.lower() and "ed448" not in algorithm.lower():
        return (
            f"the response signature ({algorithm}) cannot be verified with the installed cryptography library, "
            f"so it is not trusted (signer: {who})."
        )
    return f"the response signature does not verify with the public key of {who}."


def _verdict_time_fields(verdict: OcspVerdict, single) -> None:
    status = single.certificate_status
    verdict.cert_status = status.name.lower()
    verdict.this_update = format_time(compat_time(single, "this_update"))
    next_update = compat_time(single, "next_update")
    verdict.next_update = format_time(next_update)
    if verdict.cert_status == "revoked":
        verdict.revocation_time = format_time(compat_time(single, "revocation_time"))
        reason = single.revocation_reason
        verdict.revocation_reason = reason.name if reason is not None else None


def validate_response(
    response_or_bytes,
    cert,
    issuer,
    *,
    at: Optional[datetime.datetime] = None,
    skew_seconds: int = DEFAULT_SKEW_SECONDS,
    source: str = "ocsp response",
) -> OcspVerdict:
    """Validate an OCSP response (object, DER or base64) for ``cert`` issued by ``issuer``.

    ``at`` is the time to judge freshness at (default now, aware or naive UTC); ``skew_seconds``
    is the clock skew allowed on both thisUpdate and nextUpdate. Raises :class:`InputError` only
    when ``response_or_bytes`` is bytes/str that cannot be loaded; every other failure is reported
    in the verdict.
    """
    if isinstance(response_or_bytes, (bytes, bytearray, str)):
        data = response_or_bytes if isinstance(response_or_bytes, str) else bytes(response_or_bytes)
        response = load_response(data, source)
    else:
        response = response_or_bytes
    at = to_utc(at) or utc_now()
    skew = datetime.timedelta(seconds=int(skew_seconds))
    problems: List[str] = []

    status = response.response_status.name.lower()
    verdict = OcspVerdict(response_status=status, checked_at=format_time(at), clock_skew=int(skew_seconds))
    with contextlib.suppress(Exception):  # informational only
        verdict.response_sha256 = hashlib.sha256(response.public_bytes(serialization.Encoding.DER)).hexdigest()
    if status != "successful":
        explanation = _STATUS_EXPLANATIONS.get(status, status)
        problems.append(f"the responder answered '{status}' instead of a certificate status: {explanation}.")
        verdict.problems = problems
        return verdict

    issuer_ok = issuer is not None and is_issued_by(cert, issuer)
    if issuer is None:
        problems.append("no issuer certificate was given, so the response cannot be checked.")
    elif not issuer_ok:
        problems.append(
            f"the issuer given, '{name_string(issuer.subject)}', did not issue the certificate "
            f"'{name_string(cert.subject)}' (its issuer is '{name_string(cert.issuer)}')."
        )

    try:
        verdict.produced_at = format_time(compat_time(response, "produced_at"))
        verdict.signature_algorithm = signature_algorithm_name(response)
    except Exception:  # noqa: S110 (informational only)
        pass

    _check_signer(response, issuer, at, verdict, problems)

    singles = _single_responses(response)
    verdict.single_responses = len(singles)
    single, matched, id_problem = _match_single(singles, cert, issuer)
    verdict.cert_id_matches = matched
    if id_problem:
        problems.append(id_problem)
    try:
        verdict.cert_id_hash = single.hash_algorithm.name
    except Exception:
        verdict.cert_id_hash = None

    fresh = True
    try:
        _verdict_time_fields(verdict, single)
        this_update = compat_time(single, "this_update")
        next_update = compat_time(single, "next_update")
    except Exception as exc:
        problems.append(f"the certificate status in the response cannot be read ({exc}).")
        fresh = False
        this_update = next_update = None

    if this_update is not None and this_update > at + skew:
        fresh = False
        problems.append(
            f"the response is not valid yet: its thisUpdate {format_time(this_update)} is later than "
            f"{format_time(at)} plus the allowed clock skew of {int(skew_seconds)} seconds."
        )
    if next_update is not None:
        verdict.seconds_until_next_update = int((next_update - at).total_seconds())
        if next_update < at - skew:
            fresh = False
            problems.append(
                f"the response expired: its nextUpdate {format_time(next_update)} is before {format_time(at)} "
                f"(allowing {int(skew_seconds)} seconds of clock skew)."
            )
    elif this_update is not None:
        problems.append(
            "the response has no nextUpdate: RFC 6960 accepts it (newer status is always available), "
            "but servers and clients cannot tell when to refresh it."
        )

    verdict.valid = bool(
        issuer_ok and verdict.signature_valid and verdict.signer_authorized and verdict.cert_id_matches and fresh
    )
    verdict.good = verdict.valid and verdict.cert_status == "good"
    if verdict.cert_status == "revoked":
        reason = f" (reason: {verdict.revocation_reason})" if verdict.revocation_reason else ""
        problems.append(f"the responder reports the certificate as revoked since {verdict.revocation_time}{reason}.")
    elif verdict.cert_status == "unknown":
        problems.append("the responder does not know the certificate (status unknown).")
    verdict.problems = problems
    return verdict
