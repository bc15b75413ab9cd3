"""The lab's test PKI: a fixed CA hierarchy plus leaves that scenarios issue by name.

Everything is generated at run time into ``STATE_DIR/pki`` (never into the repository):

    root-a (RSA)   -> int-a-rsa (RSA), int-a-ec (ECDSA P-256)   leaves carry AIA OCSP + caIssuers
    root-b (ECDSA) -> int-b (ECDSA), OCSP signed by the delegated responder ocsp-signer-b
    root-n (RSA)   -> int-n (RSA)                                leaves carry caIssuers only (no OCSP)

``STATE_DIR/pki/manifest.json`` lists every CA, signer and leaf; the OCSP responder reads it to
map serial numbers to names. Writers hold ``pki/.lock`` and replace files atomically, so the
responder (a reader) never sees a half-written manifest.

Usage from Python::

    pki = build_pki(state, "http://ocsp.tlsfleet.test", "http://ca.tlsfleet.test/ca")
    leaf = pki.issue_leaf("shop", ["shop.tlsfleet.test"], issuer="int-a-ec", key_type="ecdsa")

or from a shell: ``python -m tlslab.pki --state DIR build --ocsp-url-base URL --ca-issuers-url-base URL``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

MANIFEST_VERSION = 1
UTC = datetime.timezone.utc
ORGANIZATION = "tlsfleet lab"
KEY_TYPES = ("rsa", "ecdsa")
LEAF_FILES = ("cert.pem", "key.pem", "chain.pem", "fullchain.pem", "issuer.pem")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

DateLike = Union[datetime.datetime, str, None]


class PkiError(Exception):
    """A problem with the lab PKI, worded for the person running the lab."""


@dataclasses.dataclass(frozen=True)
class AuthoritySpec:
    """One CA or delegated OCSP signer of the fixed hierarchy."""

    name: str
    parent: Optional[str]  # None for a root
    key_type: str
    kind: str = "intermediate"
    issues_with_ocsp: bool = True  # certificates this CA issues carry an AIA OCSP URL pointing at it
    ocsp_signer: Optional[str] = None  # delegated responder that signs this CA's OCSP answers


HIERARCHY: Tuple[AuthoritySpec, ...] = (
    AuthoritySpec("root-a", None, "rsa", kind="root"),
    AuthoritySpec("int-a-rsa", "root-a", "rsa"),
    AuthoritySpec("int-a-ec", "root-a", "ecdsa"),
    AuthoritySpec("root-b", None, "ecdsa", kind="root"),
    AuthoritySpec("int-b", "root-b", "ecdsa", ocsp_signer="ocsp-signer-b"),
    AuthoritySpec("ocsp-signer-b", "int-b", "ecdsa", kind="ocsp_signer"),
    AuthoritySpec("root-n", None, "rsa", kind="root", issues_with_ocsp=False),
    AuthoritySpec("int-n", "root-n", "rsa", issues_with_ocsp=False),
)
SPECS_BY_NAME = {spec.name: spec for spec in HIERARCHY}
CA_NAMES = tuple(spec.name for spec in HIERARCHY if spec.kind != "ocsp_signer")

# Preset leaves scenarios ask for by name; values are offsets from "now" at issue time.
PRESETS: Dict[str, Dict[str, Any]] = {
    "expired": {"not_before": datetime.timedelta(days=-90), "not_after": datetime.timedelta(days=-1)},
    "expiring": {"not_after": datetime.timedelta(days=5)},
    "must_staple": {"must_staple": True},
}
LEAF_DEFAULT_BEFORE = datetime.timedelta(hours=-1)
LEAF_DEFAULT_AFTER = datetime.timedelta(days=90)

# Renewal variants (labctl renew --variant): what a CA may hand out at the next renewal. Each is an
# overlay on the leaf's own parameters, recorded as params["variant"]; "plain" drops the overlay.
RENEW_VARIANTS = ("plain", "new-intermediate", "no-ocsp-url", "must-staple", "short-lived", "not-yet-valid")
SHORT_LIVED_AFTER = datetime.timedelta(days=6)  # with LEAF_DEFAULT_BEFORE: a validity of 6 days 1 hour (<= 7 days)
NOT_YET_VALID_IN = datetime.timedelta(days=2)  # notBefore this far ahead; notAfter LEAF_DEFAULT_AFTER after it
NEXT_SUFFIX = "-next"  # int-a-rsa -> int-a-rsa-next under root-a -> root-a-next: a new hierarchy
AUTHORITY_LIFETIME = {"root": 3650, "intermediate": 1825, "ocsp_signer": 365}  # days


# ----------------------------------------------------------------------------- time helpers


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(UTC).replace(microsecond=0)


def to_iso(moment: datetime.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def utc_attr(obj: Any, name: str) -> Optional[datetime.datetime]:
    """Read a datetime attribute as aware UTC: ``*_utc`` exists only from cryptography 42/43."""
    aware = getattr(obj, name + "_utc", None)
    if aware is not None:
        return aware
    naive = getattr(obj, name)
    return naive.replace(tzinfo=UTC) if naive is not None else None


# ----------------------------------------------------------------------------- small crypto helpers


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def normalize_serial(text: str) -> str:
    """'0x0A:1b' -> 'a1b': the one spelling used in manifests, behaviours and logs."""
    cleaned = text.strip().lower().replace(":", "")
    if cleaned.startswith("0x"):
        cleaned = cleaned[2:]
    return cleaned.lstrip("0") or "0"


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def new_key(key_type: str):
    if key_type == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def load_key(path: Path):
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def lab_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def write_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write atomically (temp file + rename) so concurrent readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(str(tmp), str(path))


def aia_extension(
    ocsp_urls: Sequence[str], ca_issuers_urls: Sequence[str]
) -> Optional[x509.AuthorityInformationAccess]:
    descriptions = [
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url))
        for url in ocsp_urls
    ]
    descriptions += [
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url))
        for url in ca_issuers_urls
    ]
    return x509.AuthorityInformationAccess(descriptions) if descriptions else None


def key_usage(cert_sign: bool = False, key_encipherment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def subject_alt_names(hostnames: Sequence[str]) -> x509.SubjectAlternativeName:
    names: List[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def sign_certificate(
    subject: x509.Name,
    public_key,
    issuer_cert: Optional[x509.Certificate],
    issuer_key,
    validity: Tuple[datetime.datetime, datetime.datetime],
    extensions: Sequence[Tuple[Optional[x509.ExtensionType], bool]],
) -> x509.Certificate:
    """Sign ``public_key`` into a certificate; issuer_cert None means self-signed."""
    issuer_name = issuer_cert.subject if issuer_cert is not None else subject
    authority_public = issuer_cert.public_key() if issuer_cert is not None else public_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_public), critical=False)
    )
    for extension, critical in extensions:
        if extension is not None:
            builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


# ----------------------------------------------------------------------------- public views


@dataclasses.dataclass(frozen=True)
class Authority:
    """A CA or delegated OCSP signer as recorded in the manifest."""

    name: str
    kind: str  # root | intermediate | ocsp_signer
    subject: str
    serial: str
    sha256: str
    issuer: str
    key_type: str
    not_before: str
    not_after: str
    ocsp_urls: Tuple[str, ...]
    ca_issuers_urls: Tuple[str, ...]
    cert_path: Path
    key_path: Path
    der_path: Path
    ocsp_url: Optional[str]  # where the lab responder answers for this CA (None for signers)
    ocsp_signer: Optional[str]

    @classmethod
    def from_entry(cls, entry: Dict[str, Any]) -> Authority:
        return cls(
            name=entry["name"],
            kind=entry["kind"],
            subject=entry["subject"],
            serial=entry["serial"],
            sha256=entry["sha256"],
            issuer=entry["issuer"],
            key_type=entry["key_type"],
            not_before=entry["not_before"],
            not_after=entry["not_after"],
            ocsp_urls=tuple(entry["ocsp_urls"]),
            ca_issuers_urls=tuple(entry["ca_issuers_urls"]),
            cert_path=Path(entry["paths"]["cert"]),
            key_path=Path(entry["paths"]["key"]),
            der_path=Path(entry["paths"]["der"]),
            ocsp_url=entry.get("ocsp_url"),
            ocsp_signer=entry.get("ocsp_signer"),
        )


@dataclasses.dataclass(frozen=True)
class Leaf:
    """A leaf certificate and the files a web server is configured with."""

    name: str
    hostnames: Tuple[str, ...]
    issuer: str
    key_type: str
    must_staple: bool
    subject: str
    serial: str
    sha256: str
    not_before: str
    not_after: str
    ocsp_urls: Tuple[str, ...]
    ca_issuers_urls: Tuple[str, ...]
    cert_path: Path
    key_path: Path
    chain_path: Path
    fullchain_path: Path
    issuer_path: Path
    previous_serials: Tuple[str, ...]  # every serial this name had before, oldest first
    variant: str = "plain"  # the renewal variant this generation was issued with (RENEW_VARIANTS)

    @property
    def directory(self) -> Path:
        return self.cert_path.parent

    @classmethod
    def from_entry(cls, entry: Dict[str, Any]) -> Leaf:
        paths = entry["paths"]
        return cls(
            name=entry["name"],
            hostnames=tuple(entry["hostnames"]),
            issuer=entry["issuer"],
            key_type=entry["key_type"],
            must_staple=entry["must_staple"],
            subject=entry["subject"],
            serial=entry["serial"],
            sha256=entry["sha256"],
            not_before=entry["not_before"],
            not_after=entry["not_after"],
            ocsp_urls=tuple(entry["ocsp_urls"]),
            ca_issuers_urls=tuple(entry["ca_issuers_urls"]),
            cert_path=Path(paths["cert"]),
            key_path=Path(paths["key"]),
            chain_path=Path(paths["chain"]),
            fullchain_path=Path(paths["fullchain"]),
            issuer_path=Path(paths["issuer"]),
            previous_serials=tuple(entry["history"]),
            variant=entry.get("variant", "plain"),
        )


# ----------------------------------------------------------------------------- manifest entries


def cert_entry(name: str, kind: str, issuer: str, key_type: str, cert: x509.Certificate) -> Dict[str, Any]:
    """Manifest fields every certificate has, read back from the certificate itself."""
    ocsp_urls, ca_issuers_urls = aia_urls(cert)
    return {
        "name": name,
        "kind": kind,
        "subject": cert.subject.rfc4514_string(),
        "serial": serial_hex(cert.serial_number),
        "sha256": fingerprint(cert),
        "issuer": issuer,
        "key_type": key_type,
        "not_before": to_iso(utc_attr(cert, "not_valid_before")),
        "not_after": to_iso(utc_attr(cert, "not_valid_after")),
        "ocsp_urls": ocsp_urls,
        "ca_issuers_urls": ca_issuers_urls,
    }


def aia_urls(cert: x509.Certificate) -> Tuple[List[str], List[str]]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return [], []
    ocsp_urls = [d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP]
    issuers = [d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS]
    return ocsp_urls, issuers


def normalize_date(value: DateLike) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return to_iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    try:
        return to_iso(from_iso(str(value)))
    except ValueError:
        raise PkiError(f"invalid date {value!r}: use ISO 8601, e.g. 2026-01-31T00:00:00Z") from None


# ----------------------------------------------------------------------------- the PKI


class Pki:
    """An existing lab PKI under ``state_dir/pki``; build or reuse one with :func:`build_pki`."""

    def __init__(self, state_dir: Union[str, Path]):
        self.state_dir = Path(state_dir).resolve()
        self.pki_dir = self.state_dir / "pki"
        self.manifest_path = self.pki_dir / "manifest.json"
        self.roots_path = self.pki_dir / "roots.pem"
        self.manifest: Dict[str, Any] = {}

    # -- loading

    @classmethod
    def load(cls, state_dir: Union[str, Path]) -> Pki:
        """Open an existing PKI; PkiError (with what to do) when it is missing or corrupt."""
        pki = cls(state_dir)
        pki.manifest = read_manifest(pki.manifest_path)
        return pki

    def refresh(self) -> None:
        self.manifest = read_manifest(self.manifest_path)

    @property
    def authorities(self) -> Dict[str, Authority]:
        return {name: Authority.from_entry(entry) for name, entry in self.manifest["authorities"].items()}

    @property
    def leaves(self) -> Dict[str, Leaf]:
        return {name: Leaf.from_entry(entry) for name, entry in self.manifest["leaves"].items()}

    def authority(self, name: str) -> Authority:
        try:
            return Authority.from_entry(self.manifest["authorities"][name])
        except KeyError:
            raise PkiError(
                "no CA or signer named {!r}; known: {}".format(name, ", ".join(self.manifest["authorities"]))
            ) from None

    def leaf(self, name: str) -> Leaf:
        try:
            return Leaf.from_entry(self.manifest["leaves"][name])
        except KeyError:
            raise PkiError(f"no leaf named {name!r} in {self.manifest_path}") from None

    # -- locking and writing

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialize writers (lab up, scenarios) across processes."""
        self.pki_dir.mkdir(parents=True, exist_ok=True)
        with open(str(self.pki_dir / ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def save(self) -> None:
        self.manifest["updated"] = to_iso(utcnow())
        write_file(self.manifest_path, (json.dumps(self.manifest, indent=2, sort_keys=True) + "\n").encode())

    # -- hierarchy

    def generate(self, ocsp_url_base: str, ca_issuers_url_base: str) -> None:
        """Create the whole hierarchy afresh; leaves of an older hierarchy are dropped."""
        for child in ("ca", "signers", "leaves"):
            shutil.rmtree(str(self.pki_dir / child), ignore_errors=True)
        self.manifest = {
            "version": MANIFEST_VERSION,
            "generated": to_iso(utcnow()),
            "ocsp_url_base": ocsp_url_base,
            "ca_issuers_url_base": ca_issuers_url_base,
            "authorities": {},
            "leaves": {},
        }
        for spec in HIERARCHY:
            self.manifest["authorities"][spec.name] = self._create_authority(spec)
        roots = [self.authority(name) for name in CA_NAMES if SPECS_BY_NAME[name].kind == "root"]
        write_file(self.roots_path, b"".join(root.cert_path.read_bytes() for root in roots))
        self.save()

    def _create_authority(self, spec: AuthoritySpec, issues_with_ocsp: Optional[bool] = None) -> Dict[str, Any]:
        key = new_key(spec.key_type)
        now = utcnow()
        validity = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=AUTHORITY_LIFETIME[spec.kind]))
        parent_cert = parent_key = None
        extensions = self._authority_extensions(spec)
        if spec.parent is not None:
            parent = self.authority(spec.parent)
            parent_cert, parent_key = load_cert(parent.cert_path), load_key(parent.key_path)
        cert = sign_certificate(
            lab_name("tlsfleet lab " + spec.name),
            key.public_key(),
            parent_cert,
            parent_key if parent_key is not None else key,
            validity,
            extensions,
        )
        directory = self.pki_dir / ("signers" if spec.kind == "ocsp_signer" else "ca") / spec.name
        paths = {"cert": directory / "cert.pem", "key": directory / "key.pem", "der": directory / "cert.der"}
        write_file(paths["key"], key_pem(key), 0o600)
        write_file(paths["cert"], cert_pem(cert))
        write_file(paths["der"], cert.public_bytes(serialization.Encoding.DER))
        entry = cert_entry(spec.name, spec.kind, spec.parent or spec.name, spec.key_type, cert)
        entry["paths"] = {role: str(path) for role, path in paths.items()}
        if spec.kind != "ocsp_signer":
            entry["ocsp_url"] = self._ocsp_url(spec.name)
            entry["ocsp_signer"] = spec.ocsp_signer
            entry["issues_with_ocsp"] = spec.issues_with_ocsp if issues_with_ocsp is None else issues_with_ocsp
        return entry

    def _authority_extensions(self, spec: AuthoritySpec) -> List[Tuple[Optional[x509.ExtensionType], bool]]:
        if spec.kind == "ocsp_signer":
            return [
                (x509.BasicConstraints(ca=False, path_length=None), True),
                (key_usage(), True),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
                # id-pkix-ocsp-nocheck: clients must not ask about the responder's own status
                (x509.OCSPNoCheck(), False),
            ]
        extensions: List[Tuple[Optional[x509.ExtensionType], bool]] = [
            (x509.BasicConstraints(ca=True, path_length=None if spec.kind == "root" else 0), True),
            (key_usage(cert_sign=True), True),
        ]
        if spec.parent is not None:
            parent = self.manifest["authorities"].get(spec.parent) or {}
            parent_ocsp = parent.get(
                "issues_with_ocsp",
                SPECS_BY_NAME[spec.parent].issues_with_ocsp if spec.parent in SPECS_BY_NAME else True,
            )
            ocsp = [self._ocsp_url(spec.parent)] if parent_ocsp else []
            extensions.append((aia_extension(ocsp, [self._ca_issuers_url(spec.parent)]), False))
        return extensions

    def _ocsp_url(self, ca_name: str) -> str:
        return "{}/{}".format(self.manifest["ocsp_url_base"].rstrip("/"), ca_name)

    def _ca_issuers_url(self, ca_name: str) -> str:
        return "{}/{}.der".format(self.manifest["ca_issuers_url_base"].rstrip("/"), ca_name)

    def reuse_problem(self, ocsp_url_base: str, ca_issuers_url_base: str) -> Optional[str]:
        """Why the material on disk cannot be reused as it is (None when it can)."""
        try:
            self.refresh()
        except PkiError as error:
            return str(error)
        if self.manifest.get("version") != MANIFEST_VERSION:
            return "manifest version changed"
        if (self.manifest.get("ocsp_url_base"), self.manifest.get("ca_issuers_url_base")) != (
            ocsp_url_base,
            ca_issuers_url_base,
        ):
            return "URL bases changed"
        for spec in HIERARCHY:
            problem = authority_problem(self.manifest["authorities"].get(spec.name))
            if problem:
                return f"{spec.name}: {problem}"
        return None

    # -- leaves

    def issue_leaf(
        self,
        name: str,
        hostnames: Sequence[str],
        issuer: str = "int-a-rsa",
        key_type: str = "rsa",
        must_staple: bool = False,
        not_before: DateLike = None,
        not_after: DateLike = None,
        ocsp_urls: Optional[Sequence[str]] = None,
        ca_issuers: bool = True,
        preset: Optional[str] = None,
        new_key: bool = False,
        crl_urls: Optional[Sequence[str]] = None,
    ) -> Leaf:
        """Issue (or reuse, when nothing changed) the leaf ``name``.

        ocsp_urls: None = the issuer's default, [] = no OCSP URL, a list = exactly these.
        preset: "expired", "expiring" (5 days left) or "must_staple"; explicit arguments win.
        crl_urls: CRL distribution points (http URLs) to name in the leaf; None or [] for none.
        Issuing a name again with other parameters gives a new serial and keeps the old files as
        ``*.prev.pem``; the key is kept unless new_key or the key type changes.
        """
        params = {
            "hostnames": list(hostnames),
            "issuer": issuer,
            "key_type": key_type,
            "must_staple": bool(must_staple),
            "not_before": normalize_date(not_before),
            "not_after": normalize_date(not_after),
            "ocsp_urls": None if ocsp_urls is None else list(ocsp_urls),
            "ca_issuers": bool(ca_issuers),
            "preset": preset,
        }
        if crl_urls:  # only then: leaves issued before the key existed keep their serial
            params["crl_urls"] = list(crl_urls)
        self._check_leaf_request(name, params)
        with self.locked():
            self.refresh()
            current = self.manifest["leaves"].get(name)
            if current and not new_key and current["params"] == params and leaf_problem(current) is None:
                return Leaf.from_entry(current)
            return self._store_leaf(name, params, current, new_key)

    def renew_leaf(self, name: str, new_key: bool = True, variant: str = "plain") -> Leaf:
        """Same name and parameters, new serial (and by default a new key), like a CA renewal.

        variant (one of RENEW_VARIANTS) changes what the CA issues this time:
        new-intermediate: signed by a new intermediate ``<issuer>-next`` (new key and name, same root;
        made once, then reused), so a pinned trusted/issuer file of the old one goes stale;
        no-ocsp-url: no AIA OCSP URL (a CA that dropped OCSP); must-staple: TLS feature status_request;
        short-lived: valid 6 days and 1 hour; not-yet-valid: notBefore 2 days ahead.
        plain renews with the leaf's own parameters (dropping an earlier variant).
        """
        if variant not in RENEW_VARIANTS:
            raise PkiError("unknown renewal variant {!r}; choose one of {}".format(variant, ", ".join(RENEW_VARIANTS)))
        with self.locked():
            self.refresh()
            current = self.manifest["leaves"].get(name)
            if current is None:
                raise PkiError(f"cannot renew {name!r}: no such leaf")
            params = {k: v for k, v in current["params"].items() if k != "variant"}
            if variant != "plain":
                params["variant"] = variant
            return self._store_leaf(name, params, current, new_key)

    def remove_leaf(self, name: str) -> None:
        with self.locked():
            self.refresh()
            if self.manifest["leaves"].pop(name, None) is not None:
                shutil.rmtree(str(self.pki_dir / "leaves" / name), ignore_errors=True)
                self.save()

    def _check_leaf_request(self, name: str, params: Dict[str, Any]) -> None:
        if not NAME_PATTERN.match(name) or name in SPECS_BY_NAME:
            raise PkiError(f"invalid leaf name {name!r}: use letters, digits, '.', '_', '-', not a CA name")
        if not params["hostnames"] or not all(isinstance(h, str) and h for h in params["hostnames"]):
            raise PkiError(f"leaf {name!r} needs at least one hostname")
        if params["key_type"] not in KEY_TYPES:
            raise PkiError("key_type must be one of {}, not {!r}".format(KEY_TYPES, params["key_type"]))
        if params["issuer"] not in CA_NAMES:
            raise PkiError("unknown issuer {!r}; choose one of {}".format(params["issuer"], ", ".join(CA_NAMES)))
        if params["preset"] is not None and params["preset"] not in PRESETS:
            raise PkiError("unknown preset {!r}; choose one of {}".format(params["preset"], ", ".join(PRESETS)))

    def _store_leaf(
        self, name: str, params: Dict[str, Any], current: Optional[Dict[str, Any]], new_key_wanted: bool
    ) -> Leaf:
        directory = self.pki_dir / "leaves" / name
        key_path = directory / "key.pem"
        reuse_key = current is not None and not new_key_wanted and current["key_type"] == params["key_type"]
        key = load_key(key_path) if reuse_key and key_path.exists() else new_key(params["key_type"])
        if current is not None:
            keep_previous_files(directory)
        issuer_name = self._issuing_ca(params)
        cert, chain = self._sign_leaf(key, params, issuer_name)
        write_file(key_path, key_pem(key), 0o600)
        write_file(directory / "cert.pem", cert_pem(cert))
        write_file(directory / "chain.pem", b"".join(cert_pem(c) for c in chain))
        write_file(directory / "fullchain.pem", b"".join(cert_pem(c) for c in [cert, *chain]))
        write_file(directory / "issuer.pem", self.authority(issuer_name).cert_path.read_bytes())
        entry = cert_entry(name, "leaf", issuer_name, params["key_type"], cert)
        entry.update(
            hostnames=params["hostnames"],
            must_staple=has_must_staple(cert),
            variant=params.get("variant", "plain"),
            params=params,
            paths={role.split(".", maxsplit=1)[0]: str(directory / role) for role in LEAF_FILES},
            history=previous_history(current),
            previous=previous_summary(current, directory),
        )
        self.manifest["leaves"][name] = entry
        self.save()
        return Leaf.from_entry(entry)

    def _issuing_ca(self, params: Dict[str, Any]) -> str:
        """The CA that signs: the leaf's issuer, or for new-intermediate its successor (created on first use)."""
        if params.get("variant") != "new-intermediate":
            return params["issuer"]
        return self._next_intermediate(params["issuer"])

    def _next_intermediate(self, ca_name: str) -> str:
        """``<ca>-next``: a new intermediate (new key, new name) under ``<root>-next``, a new root of a new hierarchy
        that the lab trusts (roots.pem), as root-program changes move CAs: pinned trusted and issuer files of the old
        hierarchy go stale.

        Made under the PKI lock; reused while intact. Kept in the manifest like the fixed CAs, so the responder
        answers OCSP for it (each signs its own answers) and serves it for caIssuers.
        """
        authorities = self.manifest["authorities"]
        old = authorities[ca_name]
        root = ca_name
        while authorities[root]["kind"] != "root":
            root = authorities[root]["issuer"]
        new_root = root + NEXT_SUFFIX
        name = ca_name + NEXT_SUFFIX if old["kind"] != "root" else new_root + "-int"
        if authority_problem(authorities.get(new_root)) is not None:
            spec = AuthoritySpec(new_root, None, authorities[root]["key_type"], kind="root")
            authorities[new_root] = self._create_authority(
                spec, issues_with_ocsp=bool(old.get("issues_with_ocsp", True))
            )
            authorities.pop(name, None)  # an intermediate of a replaced root would no longer chain
        if authority_problem(authorities.get(name)) is not None or authorities[name]["issuer"] != new_root:
            spec = AuthoritySpec(
                name, new_root, old["key_type"], issues_with_ocsp=bool(old.get("issues_with_ocsp", True))
            )
            authorities[name] = self._create_authority(spec, issues_with_ocsp=spec.issues_with_ocsp)
        self._write_roots()
        self.save()
        return name

    def _write_roots(self) -> None:
        roots = [self.authority(n) for n, e in sorted(self.manifest["authorities"].items()) if e["kind"] == "root"]
        write_file(self.roots_path, b"".join(root.cert_path.read_bytes() for root in roots))

    def _leaf_validity(self, params: Dict[str, Any]) -> Tuple[datetime.datetime, datetime.datetime]:
        settings = dict(PRESETS.get(params["preset"] or "", {}))
        now = utcnow()
        not_before = (
            from_iso(params["not_before"])
            if params["not_before"]
            else now + settings.get("not_before", LEAF_DEFAULT_BEFORE)
        )
        not_after = (
            from_iso(params["not_after"])
            if params["not_after"]
            else now + settings.get("not_after", LEAF_DEFAULT_AFTER)
        )
        variant = params.get("variant")
        if variant == "short-lived":
            not_before, not_after = now + LEAF_DEFAULT_BEFORE, now + SHORT_LIVED_AFTER
        elif variant == "not-yet-valid":
            not_before = now + NOT_YET_VALID_IN
            not_after = not_before + LEAF_DEFAULT_AFTER
        if not_after <= not_before:
            raise PkiError(f"leaf validity ends ({to_iso(not_after)}) before it starts ({to_iso(not_before)})")
        return not_before, not_after

    def _sign_leaf(
        self, key, params: Dict[str, Any], issuer_name: str
    ) -> Tuple[x509.Certificate, List[x509.Certificate]]:
        issuer = self.authority(issuer_name)
        issuer_cert, issuer_key = load_cert(issuer.cert_path), load_key(issuer.key_path)
        settings = dict(PRESETS.get(params["preset"] or "", {}))
        not_before, not_after = self._leaf_validity(params)
        variant = params.get("variant")
        if variant == "no-ocsp-url":
            ocsp_urls = []
        elif params["ocsp_urls"] is not None:
            ocsp_urls = params["ocsp_urls"]
        else:
            ocsp_urls = (
                [self._ocsp_url(issuer.name)] if self.manifest["authorities"][issuer.name]["issues_with_ocsp"] else []
            )
        ca_issuers = [self._ca_issuers_url(issuer.name)] if params["ca_issuers"] else []
        hostnames = params["hostnames"]
        common_name = hostnames[0] if len(hostnames[0]) <= 64 else "tlsfleet lab leaf"
        extensions: List[Tuple[Optional[x509.ExtensionType], bool]] = [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (key_usage(key_encipherment=params["key_type"] == "rsa"), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (subject_alt_names(hostnames), False),
            (aia_extension(ocsp_urls, ca_issuers), False),
        ]
        if params.get("crl_urls"):
            point = x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url) for url in params["crl_urls"]],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
            extensions.append((x509.CRLDistributionPoints([point]), False))
        if params["must_staple"] or settings.get("must_staple") or variant == "must-staple":
            extensions.append((x509.TLSFeature([x509.TLSFeatureType.status_request]), False))
        cert = sign_certificate(
            lab_name(common_name), key.public_key(), issuer_cert, issuer_key, (not_before, not_after), extensions
        )
        return cert, self.chain_of(issuer.name)

    def sign_crl(
        self,
        ca_name: str,
        revoked_serials: Sequence[str] = (),
        this_update: Optional[datetime.datetime] = None,
        next_update: Optional[datetime.datetime] = None,
        signer: Optional[str] = None,
        extensions: Sequence[Tuple[x509.ExtensionType, bool]] = (),
    ) -> bytes:
        """A DER CRL in the name of ``ca_name`` listing ``revoked_serials`` (hex), signed by ``signer``'s key
        (default: the CA's own; another CA's key makes a CRL whose signature does not verify), with
        ``extensions`` ((value, critical) pairs: a delta CRL indicator, an issuing distribution point)."""
        authority = self.authority(ca_name)
        key = load_key(self.authority(signer or ca_name).key_path)
        now = utcnow()
        this_update = this_update or now - datetime.timedelta(hours=1)
        next_update = next_update or now + datetime.timedelta(days=7)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(load_cert(authority.cert_path).subject)
            .last_update(this_update.astimezone(UTC).replace(tzinfo=None))
            .next_update(next_update.astimezone(UTC).replace(tzinfo=None))
        )
        for serial in revoked_serials:
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(int(normalize_serial(serial), 16))
                .revocation_date((now - datetime.timedelta(hours=2)).replace(tzinfo=None))
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        for value, critical in extensions:
            builder = builder.add_extension(value, critical=critical)
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def chain_of(self, ca_name: str) -> List[x509.Certificate]:
        """Certificates a server sends after its leaf: the issuer, then upward, roots excluded."""
        chain = []
        name = ca_name
        while self.manifest["authorities"][name]["kind"] != "root":
            chain.append(load_cert(self.authority(name).cert_path))
            name = self.manifest["authorities"][name]["issuer"]
        return chain


# ----------------------------------------------------------------------------- module-level helpers


def read_manifest(path: Path) -> Dict[str, Any]:
    if not path.exists():
        raise PkiError(
            f"no lab PKI at {path.parent} (missing {path.name}); build it first (tlslab.pki build, or lab up)"
        )
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest.get("authorities"), dict) or not isinstance(manifest.get("leaves"), dict):
            raise ValueError("authorities/leaves missing")
    except (ValueError, AttributeError, OSError) as error:
        raise PkiError(f"corrupt PKI manifest {path}: {error}; rebuild with force") from None
    return manifest


def authority_problem(entry: Optional[Dict[str, Any]]) -> Optional[str]:
    if entry is None:
        return "missing from manifest"
    try:
        cert = load_cert(Path(entry["paths"]["cert"]))
        key = load_key(Path(entry["paths"]["key"]))
    except (OSError, ValueError, KeyError) as error:
        return f"unreadable files ({error})"
    if fingerprint(cert) != entry.get("sha256"):
        return "certificate differs from manifest"
    if public_der(key.public_key()) != public_der(cert.public_key()):
        return "key does not match certificate"
    if utc_attr(cert, "not_valid_after") < utcnow() + datetime.timedelta(days=1):
        return "expires within a day"
    return None


def leaf_problem(entry: Dict[str, Any]) -> Optional[str]:
    try:
        cert = load_cert(Path(entry["paths"]["cert"]))
        if not Path(entry["paths"]["key"]).exists():
            return "key missing"
    except (OSError, ValueError, KeyError) as error:
        return f"unreadable ({error})"
    return None if fingerprint(cert) == entry["sha256"] else "certificate differs from manifest"


def has_must_staple(cert: x509.Certificate) -> bool:
    try:
        features = cert.extensions.get_extension_for_class(x509.TLSFeature).value
    except x509.ExtensionNotFound:
        return False
    return x509.TLSFeatureType.status_request in list(features)


def keep_previous_files(directory: Path) -> None:
    """cert.pem -> cert.prev.pem etc. (copies: the live names stay in place until replaced)."""
    for file_name in LEAF_FILES:
        source = directory / file_name
        if source.exists():
            mode = 0o600 if file_name == "key.pem" else 0o644
            write_file(directory / file_name.replace(".pem", ".prev.pem"), source.read_bytes(), mode)


def previous_history(current: Optional[Dict[str, Any]]) -> List[str]:
    return [] if current is None else [*list(current.get("history", [])), current["serial"]]


def previous_summary(current: Optional[Dict[str, Any]], directory: Path) -> Optional[Dict[str, Any]]:
    if current is None:
        return None
    summary = {k: current[k] for k in ("serial", "sha256", "issuer", "not_before", "not_after", "ocsp_urls")}
    summary["paths"] = {
        role.split(".", maxsplit=1)[0]: str(directory / role.replace(".pem", ".prev.pem")) for role in LEAF_FILES
    }
    return summary


def build_pki(state_dir: Union[str, Path], ocsp_url_base: str, ca_issuers_url_base: str, force: bool = False) -> Pki:
    """Create the lab PKI in ``state_dir/pki``, or reuse it when it is intact and uses the same URLs.

    Regenerating (force, changed URL bases, damaged files) replaces every CA and drops all leaves,
    since leaves of the old hierarchy would no longer chain.
    """
    pki = Pki(state_dir)
    try:
        pki.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PkiError(f"cannot create state directory {pki.state_dir}: {error.strerror}") from None
    with pki.locked():
        if force or pki.reuse_problem(ocsp_url_base, ca_issuers_url_base) is not None:
            pki.generate(ocsp_url_base, ca_issuers_url_base)
    pki.refresh()
    return pki


# ----------------------------------------------------------------------------- command line


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tlslab.pki", description="Build and use the lab's test PKI.")
    parser.add_argument("--state", required=True, type=Path, help="lab state directory (PKI goes to STATE/pki)")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="create the hierarchy, or reuse it when intact")
    build.add_argument("--ocsp-url-base", required=True, help="e.g. http://ocsp.tlsfleet.test")
    build.add_argument("--ca-issuers-url-base", required=True, help="e.g. http://ca.tlsfleet.test/ca")
    build.add_argument("--force", action="store_true", help="regenerate everything (drops leaves)")
    issue = commands.add_parser("issue", help="issue or reuse a leaf")
    issue.add_argument("name")
    issue.add_argument("hostnames", nargs="+")
    issue.add_argument("--issuer", default="int-a-rsa", choices=CA_NAMES)
    issue.add_argument("--key-type", default="rsa", choices=KEY_TYPES)
    issue.add_argument("--preset", choices=sorted(PRESETS))
    issue.add_argument("--must-staple", action="store_true")
    issue.add_argument("--no-ocsp", action="store_true", help="no AIA OCSP URL")
    renew = commands.add_parser("renew", help="new serial (and key) for an existing leaf")
    renew.add_argument("name")
    renew.add_argument("--keep-key", action="store_true", help="keep the leaf's key")
    renew.add_argument("--variant", default="plain", choices=RENEW_VARIANTS, help="what the CA issues this time")
    commands.add_parser("show", help="print the manifest")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "build":
            pki = build_pki(args.state, args.ocsp_url_base, args.ca_issuers_url_base, force=args.force)
            print(f"PKI ready: {pki.manifest_path}")
            return 0
        pki = Pki.load(args.state)
        if args.command == "issue":
            leaf = pki.issue_leaf(
                args.name,
                args.hostnames,
                issuer=args.issuer,
                key_type=args.key_type,
                must_staple=args.must_staple,
                ocsp_urls=[] if args.no_ocsp else None,
                preset=args.preset,
            )
            print(json.dumps({"name": leaf.name, "serial": leaf.serial, "dir": str(leaf.directory)}))
        elif args.command == "renew":
            leaf = pki.renew_leaf(args.name, new_key=not args.keep_key, variant=args.variant)
            print(json.dumps({"name": leaf.name, "serial": leaf.serial, "dir": str(leaf.directory)}))
        else:
            print(json.dumps(pki.manifest, indent=2, sort_keys=True))
    except PkiError as error:
        print(f"tlslab.pki: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
