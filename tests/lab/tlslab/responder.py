"""The lab's controllable OCSP responder (RFC 6960 over HTTP) and caIssuers service.

    PYTHONPATH=tests/lab python -m tlslab.responder --state STATE_DIR \\
        --listen 198.18.0.2:80 --ca-listen 198.18.0.3:80 --control 198.18.0.2:8080 \\
        [--behaviour FILE] [--log FILE] [--pidfile FILE]

Three kinds of listener, so a node's firewall can block each independently:
  --listen     OCSP: POST /<ca-name> (or /) and GET /<ca-name>/<base64 request> (or /<base64>)
  --ca-listen  caIssuers: GET /ca/<ca-name>.der|.pem|.p7c (also without the /ca prefix);
               CRLs: GET /crl/<leaf>.crl, the files tlslab.services publishes in STATE/svc/crl
  --control    JSON control API: /health, /behaviour, /reset, /requests, /reload

Per-certificate behaviour (good, revoked, try_later, silent, ...) comes from --behaviour and can
be changed at run time through the control API; see MODES and tests/lab/README.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import email.utils
import hashlib
import http.server
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlslab.pki import PkiError, lab_name, load_cert, load_key, normalize_serial, read_manifest, serial_hex

UTC = datetime.timezone.utc
MAX_REQUEST_BYTES = 64 * 1024  # a real OCSP request is a few hundred bytes
MAX_LOGGED_REQUESTS = 10000
OCSP_CONTENT_TYPE = "application/ocsp-response"
CA_CONTENT_TYPES = {"der": "application/pkix-cert", "pem": "application/x-pem-file", "p7c": "application/pkcs7-mime"}
CRL_CONTENT_TYPE = "application/pkix-crl"
REQUEST_HASHES = (
    hashes.SHA1(),  # noqa: S303 - CertIDs use SHA-1 (RFC 5019); we must match them
    hashes.SHA224(),
    hashes.SHA256(),
    hashes.SHA384(),
    hashes.SHA512(),
)
DEFAULT_BEHAVIOUR: Dict[str, Any] = {"default": {"mode": "good"}, "certs": {}}

# ----------------------------------------------------------------------------- behaviour rules

SIGNED_PARAMS = ("next_update", "this_update_ago")
UNSUCCESSFUL = {
    "malformed_request": ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
    "internal_error": ocsp.OCSPResponseStatus.INTERNAL_ERROR,
    "try_later": ocsp.OCSPResponseStatus.TRY_LATER,
    "sig_required": ocsp.OCSPResponseStatus.SIG_REQUIRED,
    "unauthorized": ocsp.OCSPResponseStatus.UNAUTHORIZED,
}
# Modes that produce one HTTP answer at once ("content" modes); slow wraps one of them.
CONTENT_MODES: Dict[str, Tuple[str, ...]] = {
    "good": SIGNED_PARAMS,
    "expiring": SIGNED_PARAMS,  # good, but nextUpdate soon (default 15 minutes)
    "revoked": (*SIGNED_PARAMS, "reason", "revoked_at"),
    "unknown": SIGNED_PARAMS,
    "expired": ("expired_ago", "validity"),
    "unauthorized_signer": (*SIGNED_PARAMS, "signer"),
    "other_serial": (*SIGNED_PARAMS, "serial"),
    "wrong_content_type": (*SIGNED_PARAMS, "content_type"),
    "malformed": ("body",),
    "html": ("status", "body"),
    "http_error": ("status", "body"),
}
CONTENT_MODES.update({name: () for name in UNSUCCESSFUL})
# Modes that misbehave at the transport level.
TRANSPORT_MODES: Dict[str, Tuple[str, ...]] = {
    "slow": ("delay", "then"),  # plus the parameters of the `then` mode
    "silent": ("hold",),
    "down": ("how",),
    "flood": ("bytes", "rate", "content_type"),
}
MODES = tuple(sorted(list(CONTENT_MODES) + list(TRANSPORT_MODES)))
REASONS = tuple(flag.name for flag in x509.ReasonFlags)


class BehaviourError(ValueError):
    """A behaviour document or rule that cannot be used; the message says which part."""


def check_number(
    value: Any, name: str, unit: str = "seconds", allow_null: bool = False, allow_negative: bool = False
) -> None:
    if value is None and allow_null:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BehaviourError(f"{name} must be a number of {unit}, not {value!r}")
    if value < 0 and not allow_negative:
        raise BehaviourError(f"{name} must not be negative")


def check_param(name: str, value: Any) -> None:
    """Type-check one rule parameter (values are used as they are, so reject bad ones early)."""
    checks: Dict[str, Callable[[], None]] = {
        "next_update": lambda: check_number(value, name, allow_null=True),
        "this_update_ago": lambda: check_number(value, name, allow_negative=True),
        "expired_ago": lambda: check_number(value, name),
        "validity": lambda: check_number(value, name),
        "delay": lambda: check_number(value, name),
        "hold": lambda: check_number(value, name),
        "rate": lambda: check_number(value, name, "bytes per second"),
        "revoked_at": lambda: revocation_time(value),
        "bytes": lambda: check_typed(name, value, int, lambda v: v >= 0),
        "status": lambda: check_typed(name, value, int, lambda v: 100 <= v <= 599),
        "reason": lambda: check_choice(name, value, REASONS),
        "signer": lambda: check_choice(name, value, ("rogue", "no_eku", "other_ca")),
        "how": lambda: check_choice(name, value, ("reset", "close")),
        "then": lambda: check_choice(name, value, tuple(CONTENT_MODES)),
        "serial": lambda: check_typed(name, value, str, lambda v: re.fullmatch(r"(0x)?[0-9a-fA-F:]+", v)),
        "content_type": lambda: check_typed(name, value, str, bool),
        "body": lambda: check_typed(name, value, str, lambda v: True),
        "comment": lambda: None,
    }
    checks[name]()


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise BehaviourError("{} must be one of {}, not {!r}".format(name, ", ".join(choices), value))


def check_typed(name: str, value: Any, kind: type, valid: Callable[[Any], Any]) -> None:
    if isinstance(value, bool) or not isinstance(value, kind) or not valid(value):
        raise BehaviourError(f"invalid {name}: {value!r}")


def validate_rule(rule: Any, where: str) -> Dict[str, Any]:
    """A rule is {"mode": NAME, params...} or just "NAME"; returns the dict form."""
    if isinstance(rule, str):
        rule = {"mode": rule}
    if not isinstance(rule, dict) or "mode" not in rule:
        raise BehaviourError(f'{where}: a rule needs a mode, e.g. {{"mode": "good"}}')
    mode = rule["mode"]
    if mode not in MODES:
        raise BehaviourError("{}: unknown mode {!r}; modes: {}".format(where, mode, ", ".join(MODES)))
    allowed = ("mode", "comment", *CONTENT_MODES.get(mode, ()), *TRANSPORT_MODES.get(mode, ()))
    if mode == "slow":
        allowed += CONTENT_MODES.get(rule.get("then", "good"), ())
    for name, value in rule.items():
        if name not in allowed:
            raise BehaviourError(
                "{}: mode {} takes no {!r} (it takes: {})".format(where, mode, name, ", ".join(allowed[1:]))
            )
        if name != "mode":
            try:
                check_param(name, value)
            except BehaviourError as error:
                raise BehaviourError(f"{where}: {error}") from None
    return dict(rule)


def behaviour_key(key: str) -> str:
    """Serial-looking keys are normalized so '0x0A:1B' and 'a1b' name the same certificate."""
    if re.fullmatch(r"0x[0-9a-fA-F:]+|[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+|[0-9a-fA-F]{8,}", key):
        return normalize_serial(key)
    return key


def validate_behaviour(doc: Any) -> Dict[str, Any]:
    if not isinstance(doc, dict) or set(doc) - {"default", "certs", "leaves"}:
        raise BehaviourError('a behaviour document is {"default": RULE, "certs": {NAME_OR_SERIAL: RULE}}')
    certs = cert_rules(doc)
    return {
        "default": validate_rule(doc.get("default", "good"), "default"),
        "certs": {behaviour_key(str(key)): validate_rule(rule, "certs." + str(key)) for key, rule in certs.items()},
    }


def cert_rules(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The "certs" map; "leaves" is accepted as another spelling of it."""
    certs, leaves = doc.get("certs") or {}, doc.get("leaves") or {}
    if not isinstance(certs, dict) or not isinstance(leaves, dict):
        raise BehaviourError("certs must map leaf names or serials to rules")
    return {**leaves, **certs}


def load_behaviour_file(path: Path) -> Dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as error:
        raise BehaviourError(f"cannot read behaviour file {path}: {error.strerror}") from None
    try:
        doc = json.loads(text) if path.suffix == ".json" else load_yaml(text)
    except ValueError as error:
        raise BehaviourError(f"behaviour file {path} is not valid JSON/YAML: {error}") from None
    try:
        return validate_behaviour(doc)
    except BehaviourError as error:
        raise BehaviourError(f"behaviour file {path}: {error}") from None


def load_yaml(text: str) -> Any:
    import yaml  # only needed for YAML behaviour files (JSON is YAML too)

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(str(error).replace("\n", " ")) from None


class Behaviour:
    """The rules in force, changeable at run time; thread safe."""

    def __init__(self, source: Optional[Path]):
        self.source = source
        self.lock = threading.Lock()
        self.doc = self.initial()

    def initial(self) -> Dict[str, Any]:
        if self.source is None:
            return validate_behaviour(DEFAULT_BEHAVIOUR)
        return load_behaviour_file(self.source)

    def snapshot(self) -> Dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.doc))

    def rule_for(self, serial: Optional[str], name: Optional[str]) -> Tuple[str, Dict[str, Any]]:
        """(what matched: serial|name|default, rule); a serial key beats a name key."""
        with self.lock:
            certs = self.doc["certs"]
            if serial is not None and serial in certs:
                return "serial", dict(certs[serial])
            if name is not None and name in certs:
                return "name", dict(certs[name])
            return "default", dict(self.doc["default"])

    def replace(self, doc: Any) -> None:
        valid = validate_behaviour(doc)
        with self.lock:
            self.doc = valid

    def merge(self, doc: Any) -> None:
        """Set the default if given; set each cert rule given, and drop those given as null."""
        if not isinstance(doc, dict):
            raise BehaviourError('merge takes {"default": RULE, "certs": {KEY: RULE or null}}')
        certs = cert_rules(doc)
        removals = {behaviour_key(str(k)) for k, v in certs.items() if v is None}
        additions = {k: v for k, v in certs.items() if v is not None}
        partial = validate_behaviour({"default": doc.get("default", "good"), "certs": additions})
        with self.lock:
            if "default" in doc:
                self.doc["default"] = partial["default"]
            self.doc["certs"].update(partial["certs"])
            for key in removals:
                self.doc["certs"].pop(key, None)

    def reset(self) -> None:
        fresh = self.initial()
        with self.lock:
            self.doc = fresh


def revocation_time(value: Any) -> datetime.datetime:
    """revoked_at is ISO 8601 or a number of seconds ago."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return utcnow() - datetime.timedelta(seconds=value)
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BehaviourError(f"revoked_at must be ISO 8601 or seconds ago, not {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(UTC).replace(microsecond=0)


# ----------------------------------------------------------------------------- what the manifest says


class CaRecord:
    """One CA the responder answers for, with the key (or delegated signer) it signs with."""

    def __init__(self, entry: Dict[str, Any], signer_entry: Optional[Dict[str, Any]]):
        self.source = (entry, signer_entry)  # what it was built from: a reload keeps it while these are equal
        self.name: str = entry["name"]
        self.cert = load_cert(Path(entry["paths"]["cert"]))
        self.key = load_key(Path(entry["paths"]["key"]))
        signer_source = signer_entry or entry
        self.signer_cert = load_cert(Path(signer_source["paths"]["cert"]))
        self.signer_key = load_key(Path(signer_source["paths"]["key"]))
        self.der = self.cert.public_bytes(serialization.Encoding.DER)
        self.request_hashes = {algorithm.name: certid_hashes(self.cert, algorithm) for algorithm in REQUEST_HASHES}


class Registry:
    """CAs and issued serials from the PKI manifest, reloaded when the manifest file changes."""

    def __init__(self, state_dir: Path):
        self.manifest_path = state_dir / "pki" / "manifest.json"
        self.lock = threading.Lock()
        self.stamp: Optional[Tuple[int, int, int]] = None
        self.cas: Dict[str, CaRecord] = {}
        self.serials: Dict[str, Tuple[str, Optional[str]]] = {}  # serial -> (name, issuing CA or None)
        self.rogue_signers: Dict[Tuple[str, str], Tuple[x509.Certificate, Any]] = {}
        self.reload()

    def file_stamp(self) -> Optional[Tuple[int, int, int]]:
        try:
            stat = self.manifest_path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def reload(self, only_if_changed: bool = False) -> None:
        """Read the manifest; raises PkiError, and keeps the previous state on failure."""
        with self.lock:
            stamp = self.file_stamp()
            if only_if_changed and stamp == self.stamp:
                return  # another request's thread reloaded it while this one waited for the lock
            manifest = read_manifest(self.manifest_path)
            try:
                cas, serials = index_manifest(manifest, self.cas if only_if_changed else None)
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise PkiError(f"PKI in {self.manifest_path.parent} is damaged ({error}); rebuild it") from None
            self.cas, self.serials, self.stamp = cas, serials, stamp
            self.rogue_signers = {}

    def reload_if_changed(self) -> Optional[str]:
        """Cheap check done per request; returns an error text when a changed manifest is unusable.

        A renewal changes the manifest while the fleet is asking: every request that saw the old stamp
        waits for the lock, and only the first reloads (loading nine CA keys takes about half a second,
        so one reload per waiting request stalled the responder past the servers' 5 s timeout)."""
        if self.file_stamp() == self.stamp:
            return None
        try:
            self.reload(only_if_changed=True)
        except PkiError as error:
            return str(error)
        return None

    def ca_by_hashes(self, algorithm: str, name_hash: bytes, key_hash: bytes) -> Optional[CaRecord]:
        for record in self.cas.values():
            if record.request_hashes.get(algorithm) == (name_hash, key_hash):
                return record
        return None

    def rogue_signer(self, ca: CaRecord, kind: str) -> Tuple[x509.Certificate, Any]:
        """A signer the CA never authorized (made once per CA and kind, kept in memory only)."""
        with self.lock:
            cached = self.rogue_signers.get((ca.name, kind))
            if cached is None:
                cached = self.rogue_signers[(ca.name, kind)] = make_rogue_signer(ca, kind, self.cas)
            return cached


def index_manifest(
    manifest: Dict[str, Any], previous: Optional[Dict[str, CaRecord]] = None
) -> Tuple[Dict[str, CaRecord], Dict[str, Tuple[str, Optional[str]]]]:
    """CAs and serials; a CA whose manifest entries are unchanged keeps its record (its keys stay loaded)."""
    authorities = manifest["authorities"]
    previous = previous or {}
    cas = {}
    for name, entry in authorities.items():
        if entry["kind"] not in ("root", "intermediate"):
            continue
        signer_entry = authorities.get(entry.get("ocsp_signer") or "")
        kept = previous.get(name)
        if kept is not None and kept.source == (entry, signer_entry):
            cas[name] = kept
        else:
            cas[name] = CaRecord(entry, signer_entry)
    serials: Dict[str, Tuple[str, Optional[str]]] = {}
    for name, entry in list(authorities.items()) + list(manifest["leaves"].items()):
        for old_serial in entry.get("history", []):
            serials[old_serial] = (name, None)  # earlier issuer not recorded: accept under any CA
        serials[entry["serial"]] = (name, entry["issuer"] if entry["kind"] != "root" else None)
    return cas, serials


def certid_hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> Tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) a client computes for certificates this CA issued."""
    request = ocsp.OCSPRequestBuilder().add_certificate(stub_certificate(issuer, 1), issuer, algorithm).build()
    return request.issuer_name_hash, request.issuer_key_hash


_STUB_KEY = ec.generate_private_key(ec.SECP256R1())


def stub_certificate(issuer: x509.Certificate, serial: int) -> x509.Certificate:
    """A throwaway certificate carrying only the serial and issuer name that a CertID needs.

    cryptography < 43 can build a single response only from certificate objects, and the
    responder must also answer for serials it never issued.
    """
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(lab_name("stub"))
        .issuer_name(issuer.subject)
        .public_key(_STUB_KEY.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(_STUB_KEY, hashes.SHA256())
    )


def make_rogue_signer(ca: CaRecord, kind: str, cas: Dict[str, CaRecord]) -> Tuple[x509.Certificate, Any]:
    """rogue: self-signed OCSP signer; no_eku: issued by the CA but without id-kp-OCSPSigning;
    other_ca: another CA of the lab signs (its certificate is sent along)."""
    if kind == "other_ca":
        other = next(record for name, record in sorted(cas.items()) if name != ca.name)
        return other.cert, other.key
    key = ec.generate_private_key(ec.SECP256R1())
    now = utcnow()
    issuer_name = ca.cert.subject if kind == "no_eku" else lab_name("tlsfleet lab rogue OCSP signer")
    usage = ExtendedKeyUsageOID.SERVER_AUTH if kind == "no_eku" else ExtendedKeyUsageOID.OCSP_SIGNING
    cert = (
        x509.CertificateBuilder()
        .subject_name(lab_name("tlsfleet lab rogue OCSP signer"))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(ca.key if kind == "no_eku" else key, hashes.SHA256())
    )
    return cert, key


# ----------------------------------------------------------------------------- OCSP requests and answers


class Query:
    """What one OCSP request asks."""

    def __init__(self, request: ocsp.OCSPRequest, ca: Optional[CaRecord]):
        self.serial = serial_hex(request.serial_number)
        self.serial_number = request.serial_number
        self.algorithm = request.hash_algorithm
        self.name_hash = request.issuer_name_hash
        self.key_hash = request.issuer_key_hash
        self.ca = ca
        self.name: Optional[str] = None  # the manifest's name for this serial
        self.issued = False  # whether query.ca issued this serial (per the manifest)
        self.nonce = None
        try:
            self.nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            pass


class Reply:
    """One complete HTTP answer."""

    def __init__(self, body: bytes, content_type: str = OCSP_CONTENT_TYPE, status: int = 200):
        self.body = body
        self.content_type = content_type
        self.status = status
        self.headers: Dict[str, str] = {"Cache-Control": "no-cache"}
        self.ocsp_status: Optional[str] = None
        self.cert_status: Optional[str] = None


def parse_query(der: bytes, registry: Registry, path_ca: Optional[str]) -> Tuple[Optional[Query], Optional[str]]:
    """(query, None), or (query or None, reason) when the request must be refused."""
    try:
        request = ocsp.load_der_ocsp_request(der)
        query = Query(request, None)
    except (ValueError, NotImplementedError, UnsupportedAlgorithm, TypeError) as error:
        return None, f"malformed request: {str(error) or type(error).__name__}"
    query.ca = registry.ca_by_hashes(query.algorithm.name, query.name_hash, query.key_hash)
    if query.ca is None:
        return query, "issuer not served by this responder"
    known = registry.serials.get(query.serial)
    if known is not None:
        query.name = known[0]
        query.issued = known[1] in (None, query.ca.name)
    if path_ca is not None and path_ca != query.ca.name:
        return query, f"request for {query.ca.name} sent to the responder of {path_ca}"
    return query, None


def unsuccessful(status: ocsp.OCSPResponseStatus) -> Reply:
    reply = Reply(ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER))
    reply.ocsp_status = status.name.lower()
    return reply


def signed_reply(
    query: Query,
    rule: Dict[str, Any],
    cert_status: str,
    window: Optional[Tuple[datetime.datetime, Optional[datetime.datetime]]] = None,
    signer: Optional[Tuple[x509.Certificate, Any]] = None,
    serial: Optional[int] = None,
) -> Reply:
    """A successful, signed BasicOCSPResponse about query's serial (or `serial`)."""
    ca = query.ca
    this_update, next_update = window or validity_window(rule)
    signer_cert, signer_key = signer or (ca.signer_cert, ca.signer_key)
    revocation = {"revocation_time": None, "revocation_reason": None}
    if cert_status == "revoked":
        revocation["revocation_time"] = revocation_time(rule.get("revoked_at", 86400))
        reason = rule.get("reason")
        revocation["revocation_reason"] = x509.ReasonFlags[reason] if reason else None
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=stub_certificate(ca.cert, query.serial_number if serial is None else serial),
        issuer=ca.cert,
        algorithm=query.algorithm,
        cert_status=ocsp.OCSPCertStatus[cert_status.upper()],
        this_update=this_update,
        next_update=next_update,
        **revocation,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer_cert)
    if signer_cert != ca.cert:
        builder = builder.certificates([signer_cert])  # a delegated signer must travel with the answer
    if query.nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(query.nonce), critical=False)
    response = builder.sign(signer_key, hashes.SHA256())
    reply = Reply(response.public_bytes(serialization.Encoding.DER))
    reply.ocsp_status, reply.cert_status = "successful", cert_status
    reply.headers = cache_headers(reply.body, this_update, next_update)
    return reply


def validity_window(rule: Dict[str, Any]) -> Tuple[datetime.datetime, Optional[datetime.datetime]]:
    now = utcnow()
    this_update = now - datetime.timedelta(seconds=rule.get("this_update_ago", 60))
    next_seconds = rule.get("next_update", 3600)
    next_update = None if next_seconds is None else now + datetime.timedelta(seconds=next_seconds)
    return this_update, next_update


def cache_headers(
    body: bytes, this_update: datetime.datetime, next_update: Optional[datetime.datetime]
) -> Dict[str, str]:
    """RFC 5019 style caching: cacheable until nextUpdate, never beyond it."""
    headers = {
        "ETag": f'"{hashlib.sha256(body).hexdigest()}"',
        "Last-Modified": email.utils.format_datetime(this_update, usegmt=True),
    }
    if next_update is None:
        headers["Cache-Control"] = "no-cache"
        return headers
    remaining = max(0, int((next_update - utcnow()).total_seconds()))
    headers["Cache-Control"] = f"max-age={remaining}, public, no-transform, must-revalidate"
    headers["Expires"] = email.utils.format_datetime(next_update, usegmt=True)
    return headers


def content_reply(mode: str, rule: Dict[str, Any], query: Query, registry: Registry) -> Reply:
    """The answer of a content mode for a valid query."""
    if mode in UNSUCCESSFUL:
        return unsuccessful(UNSUCCESSFUL[mode])
    if mode in ("good", "revoked", "unknown"):
        return signed_reply(query, rule, answered_status(mode, query))
    if mode == "expiring":
        return signed_reply(query, dict({"next_update": 900}, **rule), answered_status("good", query))
    if mode == "expired":
        next_update = utcnow() - datetime.timedelta(seconds=rule.get("expired_ago", 3600))
        this_update = next_update - datetime.timedelta(seconds=rule.get("validity", 3600))
        return signed_reply(query, rule, "good", window=(this_update, next_update))
    if mode == "unauthorized_signer":
        return signed_reply(query, rule, "good", signer=registry.rogue_signer(query.ca, rule.get("signer", "rogue")))
    if mode == "other_serial":
        other = int(normalize_serial(rule["serial"]), 16) if "serial" in rule else query.serial_number + 1
        return signed_reply(query, rule, "good", serial=other)
    if mode == "wrong_content_type":
        reply = signed_reply(query, rule, "good")
        reply.content_type = rule.get("content_type", "text/plain")
        return reply
    return broken_reply(mode, rule)


def answered_status(mode: str, query: Query) -> str:
    """A responder never vouches for a serial it did not issue: good becomes unknown then."""
    return "unknown" if mode == "good" and not query.issued else mode


def broken_reply(mode: str, rule: Dict[str, Any]) -> Reply:
    """Answers that are not OCSP at all: garbage, HTML error pages, HTTP errors."""
    if mode == "malformed":
        body = rule.get("body", "0\x82\x05\x00 this is not DER, just garbage with an OCSP content type\n")
        return Reply(body.encode("latin-1", "replace"))
    if mode == "html":
        page = rule.get(
            "body", "<html><head><title>Proxy error</title></head><body><h1>Access denied</h1></body></html>\n"
        )
        return Reply(page.encode(), "text/html; charset=utf-8", rule.get("status", 200))
    status = rule.get("status", 503)
    text = rule.get(
        "body", "{} {}\n".format(status, http.server.BaseHTTPRequestHandler.responses.get(status, ("",))[0])
    )
    return Reply(text.encode(), "text/plain; charset=utf-8", status)


def decode_get_payload(payload: str) -> bytes:
    """Base64 from a GET path: url-encoded, standard or url-safe alphabet, padding optional."""
    text = "".join(unquote(payload).split())
    if not text:
        raise ValueError("empty request")
    text += "=" * (-len(text) % 4)
    altchars = b"-_" if ("-" in text or "_" in text) else None
    try:
        return base64.b64decode(text.encode("ascii"), altchars=altchars, validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ValueError("request is not base64") from None


# ----------------------------------------------------------------------------- request log


class RequestLog:
    """Every request, in memory (for the control API) and as JSON lines in the log file."""

    def __init__(self, path: Optional[Path]):
        self.lock = threading.Lock()
        self.entries: deque = deque(maxlen=MAX_LOGGED_REQUESTS)
        self.stream = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.stream = open(str(path), "a", buffering=1)  # noqa: SIM115 - open for the service lifetime

    def add(self, entry: Dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.entries.append(entry)
            if self.stream is not None:
                self.stream.write(line + "\n")

    def select(self, filters: Dict[str, str]) -> List[Dict[str, Any]]:
        with self.lock:
            entries = list(self.entries)
        since = float(filters.pop("since", "0") or 0)
        limit = int(filters.pop("limit", "0") or 0)
        chosen = [e for e in entries if e["epoch"] >= since and all(matches(e, k, v) for k, v in filters.items())]
        return chosen[-limit:] if limit else chosen

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()

    def close(self) -> None:
        with self.lock:
            if self.stream is not None:
                self.stream.close()
                self.stream = None


def matches(entry: Dict[str, Any], key: str, wanted: str) -> bool:
    if key == "serial":
        return normalize_serial(wanted) in entry.get("serials", [])
    return str(entry.get(key)) == wanted


def new_entry(handler: http.server.BaseHTTPRequestHandler, service: str) -> Dict[str, Any]:
    now = time.time()
    host, port = handler.client_address[:2]
    return {
        "time": datetime.datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epoch": now,
        "service": service,
        "client": host,
        "client_port": port,
        "listener": format_address(handler.server.server_address),
        "method": handler.command,
        "path": handler.path,
        "host": handler.headers.get("Host"),
        "user_agent": handler.headers.get("User-Agent"),
        "ca": None,
        "serials": [],
        "serial": None,
        "name": None,
        "matched": None,
        "mode": None,
        "http_status": None,
        "content_type": None,
        "ocsp_status": None,
        "cert_status": None,
        "bytes": 0,
        "duration_ms": None,
        "error": None,
    }


# ----------------------------------------------------------------------------- HTTP services


class LabServer(http.server.ThreadingHTTPServer):
    """One listener; a thread per connection so slow or silent answers never block others."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: Tuple[str, int], handler: type, app: Responder):
        self.app = app
        super().__init__(address, handler)

    def handle_error(self, request, client_address) -> None:
        # One line instead of a traceback on stderr; details go to the request log.
        print(f"tlslab.responder: error serving {client_address}: {sys.exc_info()[1]}", file=sys.stderr)


class LabServer6(LabServer):
    address_family = socket.AF_INET6


class QuietHandler(http.server.BaseHTTPRequestHandler):
    server_version = "tlslab-responder/1"
    timeout = 30  # bounds how long a client may take to send its request

    def version_string(self) -> str:
        return self.server_version

    @property
    def app(self) -> Responder:
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are logged as JSON by the services themselves

    def begin(self, service: str) -> Dict[str, Any]:
        self.started = time.monotonic()
        self.logged = False
        return new_entry(self, service)

    def log_once(self, entry: Dict[str, Any]) -> None:
        """Log the request; done before a complete answer is sent, so a client that has its
        answer always finds it in GET /requests."""
        if not self.logged:
            self.logged = True
            entry["duration_ms"] = round((time.monotonic() - self.started) * 1000, 1)
            self.app.requests.add(entry)

    def send_reply(self, reply: Reply, entry: Dict[str, Any]) -> None:
        entry.update(http_status=reply.status, content_type=reply.content_type)
        entry["bytes"] = 0 if self.command == "HEAD" else len(reply.body)
        self.log_once(entry)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


class OcspHandler(QuietHandler):
    """OCSP over HTTP (RFC 6960 appendix A): POST DER bodies and GET base64 paths."""

    def do_GET(self) -> None:
        self.serve("GET")

    def do_POST(self) -> None:
        self.serve("POST")

    def serve(self, method: str) -> None:
        entry = self.begin("ocsp")
        try:
            self.answer(method, entry)
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as error:
            entry["error"] = f"client went away: {type(error).__name__}"
        except Exception as error:
            entry["error"] = f"internal error: {error!r}"
            if entry["http_status"] is None:
                self.try_send(unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR), entry)
        finally:
            self.log_once(entry)  # transport faults (silent, down, flood) are logged when they end

    def try_send(self, reply: Reply, entry: Dict[str, Any]) -> None:
        try:
            self.send_reply(reply, entry)
        except OSError:
            pass

    def answer(self, method: str, entry: Dict[str, Any]) -> None:
        registry = self.app.registry
        reload_error = registry.reload_if_changed()
        if reload_error:
            entry["error"] = reload_error
        path_ca, der, problem = self.read_request(method, registry)
        entry["ca"] = path_ca
        query = None
        if der is not None:
            query, problem = parse_query(der, registry, path_ca)
        if query is not None:
            entry.update(serials=[query.serial], serial=query.serial, name=query.name)
            entry["ca"] = query.ca.name if query.ca else path_ca
        if problem is not None:
            self.refuse(query, problem, entry)
            return
        matched, rule = self.app.behaviour.rule_for(query.serial, entry["name"])
        entry.update(matched=matched, mode=rule["mode"])
        self.apply(rule, query, entry)

    def read_request(self, method: str, registry: Registry) -> Tuple[Optional[str], Optional[bytes], Optional[str]]:
        """(CA named by the path or None, request DER or None, problem or None)."""
        path = urlsplit(self.path).path.lstrip("/")
        first, _unused, rest = path.partition("/")
        path_ca = unquote(first) if unquote(first) in registry.cas else None
        if method == "POST":
            return path_ca, *self.read_body()
        payload = rest if path_ca is not None else path
        try:
            return path_ca, decode_get_payload(payload), None
        except ValueError as error:
            return path_ca, None, f"malformed request: {error}"

    def read_body(self) -> Tuple[Optional[bytes], Optional[str]]:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return None, "malformed request: POST without a valid Content-Length"
        if not 0 < length <= MAX_REQUEST_BYTES:
            return None, f"malformed request: body of {length} bytes"
        return self.rfile.read(length), None

    def refuse(self, query: Optional[Query], problem: str, entry: Dict[str, Any]) -> None:
        """Broken requests get malformedRequest, requests for CAs not served here unauthorized."""
        status = ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        if query is not None and problem.startswith(("issuer not served", "request for")):
            status = ocsp.OCSPResponseStatus.UNAUTHORIZED
        entry.update(error=problem, mode="refused")
        reply = unsuccessful(status)
        entry["ocsp_status"] = reply.ocsp_status
        self.send_reply(reply, entry)

    def apply(self, rule: Dict[str, Any], query: Query, entry: Dict[str, Any]) -> None:
        mode = rule["mode"]
        if mode == "slow":
            if self.app.stopping.wait(rule.get("delay", 5)):
                return
            mode = rule.get("then", "good")
        if mode == "silent":
            self.hold_silently(rule.get("hold", 120), entry)
        elif mode == "down":
            self.drop_connection(rule.get("how", "reset"), entry)
        elif mode == "flood":
            self.flood(rule, entry)
        else:
            reply = content_reply(mode, rule, query, self.app.registry)
            entry.update(ocsp_status=reply.ocsp_status, cert_status=reply.cert_status)
            self.send_reply(reply, entry)

    def hold_silently(self, hold: float, entry: Dict[str, Any]) -> None:
        """Never answer: wait until the client hangs up (or `hold` seconds pass), then close."""
        deadline = time.monotonic() + hold
        while not self.app.stopping.is_set() and time.monotonic() < deadline:
            readable, _unused, _unused = select.select([self.connection], [], [], 0.2)
            if readable and not self.connection.recv(4096):
                entry["error"] = "client gave up"
                break
        self.close_connection = True

    def drop_connection(self, how: str, entry: Dict[str, Any]) -> None:
        """Close without any HTTP answer; 'reset' sends a TCP RST instead of a FIN."""
        if how == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # detach: rfile holds a reference, so close() alone would not close the descriptor now
        os.close(self.connection.detach())
        self.close_connection = True
        entry["error"] = "connection {} without an answer".format("reset" if how == "reset" else "closed")

    def flood(self, rule: Dict[str, Any], entry: Dict[str, Any]) -> None:
        """A huge body, at `rate` bytes per second (0: as fast as the client reads)."""
        total, rate = rule.get("bytes", 16 * 1024 * 1024), rule.get("rate", 0)
        content_type = rule.get("content_type", OCSP_CONTENT_TYPE)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(total))
        self.send_header("Connection", "close")
        self.end_headers()
        entry.update(http_status=200, content_type=content_type)
        chunk = b"\x30" * (16384 if rate else 262144)
        started = time.monotonic()
        while entry["bytes"] < total and not self.app.stopping.is_set():
            if rate and self.app.stopping.wait(max(0.0, started + entry["bytes"] / rate - time.monotonic())):
                break
            size = min(len(chunk), total - entry["bytes"])
            self.wfile.write(chunk[:size])
            entry["bytes"] += size


class CaIssuersHandler(QuietHandler):
    """caIssuers (AIA) downloads: the CA certificates as DER, PEM or a PKCS#7 bundle."""

    def do_GET(self) -> None:
        entry = self.begin("ca_issuers")
        try:
            self.send_reply(self.certificate_reply(entry), entry)
        except OSError as error:
            entry["error"] = f"client went away: {type(error).__name__}"
        finally:
            self.log_once(entry)

    do_HEAD = do_GET

    def certificate_reply(self, entry: Dict[str, Any]) -> Reply:
        crl = re.fullmatch(r"/crl/([A-Za-z0-9._-]+)\.crl", urlsplit(self.path).path)
        if crl:
            return self.crl_reply(crl.group(1), entry)
        registry = self.app.registry
        registry.reload_if_changed()
        match = re.fullmatch(r"/(?:ca/)?([A-Za-z0-9._-]+)\.(der|pem|p7c)", urlsplit(self.path).path)
        record = registry.cas.get(match.group(1)) if match else None
        if record is None:
            entry["error"] = "no such CA certificate"
            return Reply(b"not found\n", "text/plain; charset=utf-8", 404)
        entry["ca"] = record.name
        encoding = match.group(2)
        if encoding == "der":
            body = record.der
        elif encoding == "pem":
            body = record.cert.public_bytes(serialization.Encoding.PEM)
        else:
            body = pkcs7.serialize_certificates([record.cert], serialization.Encoding.DER)
        reply = Reply(body, CA_CONTENT_TYPES[encoding])
        reply.headers = {"Cache-Control": "max-age=86400, public"}
        return reply

    def crl_reply(self, name: str, entry: Dict[str, Any]) -> Reply:
        """A published CRL, as it is on disk (its behaviour was decided when it was signed)."""
        entry["crl"] = name
        try:
            body = (self.app.state_dir / "svc" / "crl" / f"{name}.crl").read_bytes()
        except OSError:
            entry["error"] = "no such CRL"
            return Reply(b"not found\n", "text/plain; charset=utf-8", 404)
        reply = Reply(body, CRL_CONTENT_TYPE)
        reply.headers = {"Cache-Control": "max-age=60, public"}
        return reply


class ControlHandler(QuietHandler):
    """JSON control API for tests and scenarios (never behind a node's firewall)."""

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def do_PUT(self) -> None:
        self.route("PUT")

    def do_DELETE(self) -> None:
        self.route("DELETE")

    def route(self, method: str) -> None:
        parts = urlsplit(self.path)
        routes: Dict[Tuple[str, str], Callable[[], Any]] = {
            ("GET", "/health"): self.app.health,
            ("GET", "/behaviour"): self.app.behaviour.snapshot,
            ("PUT", "/behaviour"): lambda: self.app.change_behaviour(self.json_body(), merge=False),
            ("POST", "/behaviour"): lambda: self.app.change_behaviour(self.json_body(), merge=True),
            ("POST", "/reset"): self.app.reset,
            ("GET", "/requests"): lambda: self.app.requests.select(query_filters(parts.query)),
            ("DELETE", "/requests"): self.app.clear_requests,
            ("POST", "/reload"): self.app.reload,
        }
        action = routes.get((method, parts.path.rstrip("/") or "/"))
        if action is None:
            self.send_json(404, {"error": f"no {method} {parts.path}; see tests/lab/README.md"})
            return
        try:
            self.send_json(200, action())
        except (BehaviourError, PkiError, ValueError) as error:
            self.send_json(400, {"error": str(error)})

    def json_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw.decode() or "null")
        except (ValueError, UnicodeDecodeError):
            raise BehaviourError("the request body must be JSON") from None

    def send_json(self, status: int, payload: Any) -> None:
        body = (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def query_filters(query: str) -> Dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(query).items()}


# ----------------------------------------------------------------------------- the service


class Responder:
    """Shared state of all listeners."""

    def __init__(self, state_dir: Path, behaviour_file: Optional[Path], log_file: Optional[Path]):
        self.state_dir = state_dir
        self.registry = Registry(state_dir)
        self.behaviour = Behaviour(behaviour_file)
        self.requests = RequestLog(log_file)
        self.stopping = threading.Event()
        self.servers: List[Tuple[str, LabServer]] = []
        self.serving = False
        self.started = time.time()

    def health(self) -> Dict[str, Any]:
        return {
            "status": "ok",
            "pid": os.getpid(),
            "uptime": round(time.time() - self.started, 1),
            "cas": sorted(self.registry.cas),
            "known_serials": len(self.registry.serials),
            "listeners": {
                role: [format_address(s.server_address) for r, s in self.servers if r == role]
                for role in ("ocsp", "ca_issuers", "control")
            },
            "modes": list(MODES),
        }

    def change_behaviour(self, doc: Any, merge: bool) -> Dict[str, Any]:
        if merge:
            self.behaviour.merge(doc)
        else:
            self.behaviour.replace(doc)
        return self.behaviour.snapshot()

    def reset(self) -> Dict[str, Any]:
        self.behaviour.reset()
        self.requests.clear()
        return self.behaviour.snapshot()

    def clear_requests(self) -> Dict[str, Any]:
        self.requests.clear()
        return {"cleared": True}

    def reload(self) -> Dict[str, Any]:
        self.registry.reload()
        return {"cas": sorted(self.registry.cas), "known_serials": len(self.registry.serials)}

    def listen(self, role: str, address: Tuple[str, int], handler: type) -> None:
        server_class = LabServer6 if ":" in address[0] else LabServer
        self.servers.append((role, server_class(address, handler, self)))

    def serve(self) -> None:
        self.serving = True
        for _unused, server in self.servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    def shutdown(self) -> None:
        self.stopping.set()
        for _unused, server in self.servers:
            if self.serving:  # shutdown() waits for serve_forever, so only call it once that runs
                server.shutdown()
            server.server_close()
        self.requests.close()


def parse_address(text: str) -> Tuple[str, int]:
    """'198.18.0.2:80', '[::1]:8080' -> (host, port)."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\s]+):(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected ADDR:PORT or [IPv6]:PORT, not {text!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if port > 65535:
        raise argparse.ArgumentTypeError(f"port out of range in {text!r}")
    return host, port


def format_address(address: Tuple) -> str:
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tlslab.responder", description="Controllable OCSP responder and caIssuers service."
    )
    parser.add_argument("--state", required=True, type=Path, help="lab state directory holding pki/manifest.json")
    parser.add_argument("--listen", action="append", required=True, type=parse_address, help="OCSP ADDR:PORT")
    parser.add_argument("--ca-listen", action="append", default=[], type=parse_address, help="caIssuers ADDR:PORT")
    parser.add_argument("--control", type=parse_address, help="control API ADDR:PORT")
    parser.add_argument("--behaviour", type=Path, help="initial behaviour, JSON or YAML")
    parser.add_argument("--log", type=Path, help="append one JSON line per request here")
    parser.add_argument("--pidfile", type=Path)
    return parser.parse_args(argv)


def start(args: argparse.Namespace) -> Responder:
    app = Responder(args.state.resolve(), args.behaviour, args.log)
    listeners = [("ocsp", a, OcspHandler) for a in args.listen] + [
        ("ca_issuers", a, CaIssuersHandler) for a in args.ca_listen
    ]
    if args.control:
        listeners.append(("control", args.control, ControlHandler))
    for role, address, handler in listeners:
        try:
            app.listen(role, address, handler)
        except OSError as error:
            app.shutdown()
            raise OSError(f"cannot listen on {format_address(address)} ({role}): {error.strerror}") from None
    return app


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        app = start(args)
        if args.pidfile:
            args.pidfile.write_text(f"{os.getpid()}\n")
    except (PkiError, BehaviourError, OSError) as error:
        print(f"tlslab.responder: error: {error}", file=sys.stderr)
        return 2
    # Plain flags, not threading.Event: a signal handler runs in the main thread, and Event.set() there can
    # deadlock against the main thread's own Event.wait() (the condition's lock is not reentrant).
    flags = {"stop": False, "reload": False}
    signal.signal(signal.SIGTERM, lambda *_: flags.__setitem__("stop", True))
    signal.signal(signal.SIGINT, lambda *_: flags.__setitem__("stop", True))
    signal.signal(signal.SIGHUP, lambda *_: flags.__setitem__("reload", True))
    app.serve()
    ready = {"event": "ready", "pid": os.getpid()}
    ready.update(app.health()["listeners"])
    print(json.dumps(ready), flush=True)
    while not flags["stop"]:
        time.sleep(0.2)
        if flags["reload"]:
            flags["reload"] = False
            reload_manifest_quietly(app)
    app.shutdown()
    if args.pidfile:
        args.pidfile.unlink(missing_ok=True)
    return 0


def reload_manifest_quietly(app: Responder) -> None:
    try:
        app.reload()
    except PkiError as error:
        print(f"tlslab.responder: reload failed, keeping the previous PKI: {error}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
