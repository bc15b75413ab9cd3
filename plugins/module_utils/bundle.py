# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the certificate files a TLS server needs from a leaf and any pool of certificates.

:func:`build_bundle` takes the server certificate (the leaf), a pool of candidate intermediates in
any order (duplicates, unrelated certificates and roots allowed) and the trust anchors, and finds the
issuer path from the leaf upwards. Every link is checked by issuer name *and* signature, so a
same-name certificate with another key, or a cross-signed variant that leads nowhere, is not picked.
Missing issuers can be fetched from the caIssuers URL of the certificate that lacks one (the fetch
function is passed in, so the path logic stays free of I/O).

The :class:`Bundle` it returns renders the three files servers use:

- the full chain: leaf first, then the intermediates, each followed by its issuer (nginx
  ``ssl_certificate``, Apache ``SSLCertificateFile``);
- the chain: the intermediates only, the leaf's issuer first (``SSLCertificateChainFile``, certbot's
  ``chain.pem``);
- the trusted file: the intermediates and the root (nginx ``ssl_trusted_certificate``, which
  ``ssl_stapling_verify`` needs: nginx never reads the system store, and OpenSSL needs the full chain
  up to a trusted root to accept a response signed by a delegated responder).

Only public data is handled here; the private key is read by :func:`key_matches` just to compare
public keys, and never leaves it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils import x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, TlsfleetError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record
from ansible_collections.tlsfleet.stapling.plugins.module_utils.x509 import (
    ca_issuers_urls,
    fingerprint,
    format_time,
    is_ca,
    is_issued_by,
    is_self_signed,
    load_certificates,
    load_private_key,
    name_string,
    not_after,
    not_before,
    ocsp_urls,
    public_key_matches,
    read_input_file,
    serial_hex,
    utc_now,
)

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtensionOID
except ImportError:  # reported by deps.require_cryptography() in the module
    pass

try:  # cryptography >= 3.1
    from cryptography.hazmat.primitives.serialization import pkcs7 as _pkcs7
except ImportError:
    _pkcs7 = None

#: The system CA bundles looked for, in order, when no trust anchor file is named (first found wins).
SYSTEM_CA_BUNDLES = x509.SYSTEM_CA_BUNDLES

#: Longest issuer path followed (leaf included).
MAX_PATH_LENGTH = 10

#: Most caIssuers URLs fetched for one bundle.
MAX_FETCHES = 8

#: Largest caIssuers answer read (a certificate or a PKCS#7 bundle is a few KiB).
MAX_FETCH_BYTES = 1024 * 1024

FETCH_USER_AGENT = "tlsfleet.stapling certificate_bundle"

SOURCE_ANCHORS = "trust anchors"


# ---------------------------------------------------------------------------------------------
# inputs


def load_trust_anchors(paths: Optional[List[str]]) -> Tuple[list, List[str]]:
    """Load the named anchor files, or the first system CA bundle found when none are named.

    Returns ``(certificates, paths read)``. A named file that cannot be used fails with an
    :class:`InputError`; a missing system bundle just means no anchors.
    """
    if not paths:
        system = [path for path in SYSTEM_CA_BUNDLES if os.path.isfile(path)][:1]
        return x509.system_trust_anchors(system), system
    anchors = []
    for path in paths:
        anchors.extend(load_certificates(read_input_file(path, "trust anchor file"), f"trust anchor file {path}"))
    return anchors, list(paths)


def _pkcs7_loader(pem: bool):
    if _pkcs7 is None:
        return None
    return getattr(_pkcs7, "load_pem_pkcs7_certificates" if pem else "load_der_pkcs7_certificates", None)


def parse_issuer_answer(data: bytes, source: str) -> list:
    """The certificates in a caIssuers answer: DER or PEM certificates, or a PKCS#7 certs-only bundle (DER or PEM)."""
    if not data:
        raise InputError(f"{source} is empty, not a certificate.")
    is_pem_pkcs7 = b"-----BEGIN PKCS7-----" in data
    if not is_pem_pkcs7:
        try:
            return load_certificates(data, source)
        except InputError as exc:
            if data[:1] != b"\x30":
                raise
            cert_error = exc
    else:
        cert_error = None
    loader = _pkcs7_loader(is_pem_pkcs7)
    if loader is None:
        raise cert_error or InputError(
            f"{source} is a PKCS#7 bundle, which the installed cryptography library cannot read "
            "(it needs 3.1 or later)."
        )
    try:
        certs = list(loader(data))
    except Exception as exc:  # ValueError on damaged data; older versions raise others
        raise InputError(f"{source} is neither a certificate nor a PKCS#7 certificate bundle ({exc}).") from None
    if not certs:
        raise InputError(f"{source} is a PKCS#7 bundle without certificates.")
    return certs


def fetch_url(url: str, timeout: float, limit: int = MAX_FETCH_BYTES) -> bytes:
    """GET ``url`` with Ansible's ``open_url`` (environment proxies honoured), reading at most ``limit`` bytes.

    Raises :class:`TlsfleetError` with a one-line reason on any failure.
    """
    from ansible.module_utils.urls import open_url  # noqa: PLC0415 (only needed when fetching)

    try:
        response = open_url(
            url,
            method="GET",
            timeout=timeout,
            headers={"User-Agent": FETCH_USER_AGENT},
            follow_redirects="safe",
        )
    except Exception as exc:  # HTTPError, URLError, socket timeouts, SSL errors
        code = getattr(exc, "code", None)
        if code is not None:
            raise TlsfleetError(f"HTTP {code} {getattr(exc, 'reason', '')}".strip()) from None
        reason = getattr(exc, "reason", None) or exc
        raise TlsfleetError(str(reason) or type(exc).__name__) from None
    try:
        chunks, size = [], 0
        while size <= limit:
            chunk = response.read(min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except Exception as exc:
        raise TlsfleetError(f"reading the answer failed: {exc}") from None
    finally:
        response.close()
    if size > limit:
        raise TlsfleetError(f"the answer is larger than {limit} bytes, far more than a certificate; stopped reading")
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------
# private keys


def key_matches(cert, path: str) -> bool:
    """Whether the private key in ``path`` belongs to ``cert``; the key is only used to compare public keys.

    Raises :class:`InputError` (naming the file, never its contents) when the key cannot be read.
    """
    source = f"private key file {path}"
    data = read_input_file(path, "private key file")
    head = data[:4096]
    if b"ENCRYPTED PRIVATE KEY-----" in head or b"Proc-Type: 4,ENCRYPTED" in head:
        raise InputError(
            f"{source}: the key is encrypted; this module takes no passphrase, since it only compares public keys. "
            "Point private_key_path at the unencrypted key the server loads, or leave it unset."
        )
    try:
        key = load_private_key(data, source)
    except InputError as exc:
        if "encrypted" in str(exc):
            raise InputError(
                f"{source}: the key is encrypted; this module takes no passphrase. Point private_key_path at the "
                "unencrypted key the server loads, or leave it unset."
            ) from None
        raise
    matches = public_key_matches(cert, key)
    del key
    return matches


# ---------------------------------------------------------------------------------------------
# path building


@dataclass(repr=False)
class Candidate(Record):
    """A certificate that may be on the path, with where it came from."""

    cert: Any
    fp: str
    source: str
    anchor: bool = False


def _basic_constraints_present(cert) -> bool:
    try:
        x509.extensions_of(cert).get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    except Exception:
        return False
    return True


def may_issue(cert) -> bool:
    """Whether ``cert`` may issue: a CA certificate, or a self-signed one without basicConstraints (v1 roots)."""
    if is_ca(cert):
        return True
    return not _basic_constraints_present(cert) and is_self_signed(cert)


def describe_short(cert) -> Dict[str, Any]:
    """The public facts reported for one certificate."""
    return {
        "subject": name_string(cert.subject),
        "issuer": name_string(cert.issuer),
        "serial": serial_hex(cert.serial_number),
        "sha256": fingerprint(cert),
        "not_before": format_time(not_before(cert)),
        "not_after": format_time(not_after(cert)),
        "ocsp_urls": ocsp_urls(cert),
        "ca_issuers_urls": ca_issuers_urls(cert),
    }


def summary_line(cert) -> str:
    """One line for diffs: subject, issuer, SHA-256 fingerprint and notAfter (public data only)."""
    return (
        f"subject={name_string(cert.subject)} | issuer={name_string(cert.issuer)} | "
        f"sha256={fingerprint(cert)} | notAfter={format_time(not_after(cert))}"
    )


def to_pem(certs) -> str:
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode("ascii") for cert in certs)


class _Pool:
    """Deduplicated candidates indexed by subject, with cached signature checks."""

    def __init__(self, leaf_fp: str):
        self.by_fp: Dict[str, Candidate] = {}
        self.by_subject: Dict[Any, List[Candidate]] = {}
        self.order: List[Candidate] = []
        self.duplicates = 0
        self._issued: Dict[Tuple[str, str], bool] = {}
        self._self_signed: Dict[str, bool] = {}
        self._may_issue: Dict[str, bool] = {}
        self.leaf_fp = leaf_fp

    def add(self, cert, source: str, anchor: bool = False) -> bool:
        fp = fingerprint(cert)
        if fp == self.leaf_fp:
            return False
        known = self.by_fp.get(fp)
        if known is not None:
            if anchor and not known.anchor:
                known.anchor = True
            elif not anchor:
                self.duplicates += 1
            return False
        entry = Candidate(cert=cert, fp=fp, source=source, anchor=anchor)
        self.by_fp[fp] = entry
        self.by_subject.setdefault(cert.subject, []).append(entry)
        self.order.append(entry)
        return True

    def self_signed(self, entry: Candidate) -> bool:
        if entry.fp not in self._self_signed:
            self._self_signed[entry.fp] = is_self_signed(entry.cert)
        return self._self_signed[entry.fp]

    def can_issue(self, entry: Candidate) -> bool:
        if entry.fp not in self._may_issue:
            self._may_issue[entry.fp] = may_issue(entry.cert)
        return self._may_issue[entry.fp]

    def issued(self, child_fp: str, child, parent: Candidate) -> bool:
        key = (child_fp, parent.fp)
        if key not in self._issued:
            self._issued[key] = is_issued_by(child, parent.cert)
        return self._issued[key]

    def issuers_of(self, child_fp: str, child) -> List[Candidate]:
        """Signature-verified CA issuers of ``child``: self-signed roots and anchors first, then input order."""
        found = [
            entry
            for entry in self.by_subject.get(child.issuer, [])
            if entry.fp != child_fp and self.can_issue(entry) and self.issued(child_fp, child, entry)
        ]
        found.sort(key=lambda entry: (not self.self_signed(entry), not entry.anchor))
        return found


def _search(leaf_fp, leaf, pool: _Pool):
    """Depth-first search for a path from the leaf to a self-signed root.

    Returns ``(path, complete)``; ``path`` holds the issuers (leaf excluded). When no complete path
    exists, the longest partial one is returned.
    """
    best: List[Candidate] = []

    def extend(child_fp, child, path):
        nonlocal best
        if len(path) > len(best):
            best = list(path)
        if len(path) + 1 >= MAX_PATH_LENGTH:
            return None
        used = {entry.fp for entry in path}
        for entry in pool.issuers_of(child_fp, child):
            if entry.fp in used:  # a loop (cross-signatures in both directions)
                continue
            candidate_path = [*path, entry]
            if pool.self_signed(entry):
                return candidate_path
            found = extend(entry.fp, entry.cert, candidate_path)
            if found is not None:
                return found
        return None

    complete = extend(leaf_fp, leaf, [])
    if complete is not None:
        return complete, True
    return best, False


def _missing_issuer_message(child, pool: _Pool, fetch_notes: List[str], can_fetch: bool) -> str:
    child_name = name_string(child.subject)
    issuer_name = name_string(child.issuer)
    message = f"no issuer for '{child_name}' (issued by '{issuer_name}') found in the pool or the trust anchors"
    same_name = [entry for entry in pool.by_subject.get(child.issuer, []) if entry.fp != fingerprint(child)]
    hints = []
    for entry in same_name:
        if not pool.can_issue(entry):
            hints.append(
                f"'{issuer_name}' from {entry.source} (sha256 {entry.fp[:16]}...) is not a CA certificate "
                "(basicConstraints), so it cannot issue certificates"
            )
        else:
            hints.append(
                f"'{issuer_name}' from {entry.source} (sha256 {entry.fp[:16]}...) has the right name but did not "
                "sign it (another key)"
            )
    if hints:
        message += "; " + "; ".join(hints)
    if fetch_notes:
        message += "; " + "; ".join(fetch_notes)
    urls = ca_issuers_urls(child)
    if can_fetch:
        message += ". Give it in intermediates, intermediate_paths or trust_anchor_paths."
    elif urls:
        message += (
            f". Give it in intermediates, intermediate_paths or trust_anchor_paths, or set fetch_issuers=true to "
            f"download it from {urls[0]}."
        )
    else:
        message += (
            ". Give it in intermediates, intermediate_paths or trust_anchor_paths "
            "(the certificate has no caIssuers URL to fetch it from)."
        )
    return message


@dataclass(repr=False)
class Bundle(Record):
    """The ordered result of :func:`build_bundle` (certificates are cryptography objects)."""

    leaf: Any
    intermediates: List[Any] = field(default_factory=list)
    root: Any = None
    fetched: List[str] = field(default_factory=list)
    ignored: List[Tuple[Any, str]] = field(default_factory=list)
    duplicates: int = 0
    warnings: List[str] = field(default_factory=list)

    def fullchain(self, include_root: bool = False) -> list:
        return [self.leaf, *self.chain(include_root)]

    def chain(self, include_root: bool = False) -> list:
        certs = list(self.intermediates)
        if include_root:
            if self.root is None:
                raise InputError(
                    f"include_root is set, but no root was found for '{name_string(self.leaf.subject)}': give it in "
                    "intermediates, intermediate_paths or trust_anchor_paths."
                )
            certs.append(self.root)
        return certs

    def trusted(self) -> list:
        """The issuer chain plus the root when known: what nginx ``ssl_trusted_certificate`` needs."""
        return list(self.intermediates) + ([self.root] if self.root is not None else [])


def build_bundle(
    leaf,
    pool: List[Tuple[Any, str]],
    anchors: List[Any] = (),
    fetch: Optional[Callable[[str], bytes]] = None,
    require_root: bool = True,
    at=None,
) -> Bundle:
    """Order the issuers of ``leaf`` found in ``pool`` (``(certificate, source)`` pairs) and ``anchors``.

    ``fetch(url) -> bytes`` (optional) downloads a caIssuers URL; it raises :class:`TlsfleetError`
    on failure. With ``require_root`` the path must end at a self-signed root; without it, a path
    that stops below an unknown root is accepted once the leaf's issuer is found.
    Raises :class:`InputError` naming the missing issuer when no usable path exists.
    """
    leaf_fp = fingerprint(leaf)
    if is_self_signed(leaf):
        raise InputError(
            f"the certificate '{name_string(leaf.subject)}' is self-signed: it has no issuer chain to bundle."
        )
    candidates = _Pool(leaf_fp)
    for cert, source in pool:
        candidates.add(cert, source)
    for cert in anchors or ():
        candidates.add(cert, SOURCE_ANCHORS, anchor=True)

    fetched: List[str] = []
    fetch_notes: List[str] = []
    tried = set()
    while True:
        path, complete = _search(leaf_fp, leaf, candidates)
        if complete or fetch is None:
            break
        last = path[-1].cert if path else leaf
        urls = [url for url in ca_issuers_urls(last) if url not in tried]
        http_urls = [url for url in urls if url.lower().startswith(("http://", "https://"))]
        for url in urls:
            if url not in http_urls:
                tried.add(url)
                fetch_notes.append(f"skipped caIssuers URL {url} (only http and https are fetched)")
        if not http_urls:
            if not ca_issuers_urls(last):
                fetch_notes.append(f"'{name_string(last.subject)}' has no caIssuers URL to fetch its issuer from")
            break
        if len(tried) >= MAX_FETCHES:
            fetch_notes.append(f"stopped after {MAX_FETCHES} caIssuers downloads")
            break
        added = False
        for url in http_urls:
            tried.add(url)
            try:
                certs = parse_issuer_answer(fetch(url), f"the caIssuers answer from {url}")
            except TlsfleetError as exc:
                fetch_notes.append(f"fetching {url} failed: {exc}")
                continue
            fetched.append(url)
            for cert in certs:
                added = candidates.add(cert, f"caIssuers {url}") or added
            if not any(cert.subject == last.issuer and is_issued_by(last, cert) for cert in certs):
                served = ", ".join(f"'{name_string(cert.subject)}'" for cert in certs)
                fetch_notes.append(f"{url} served {served}, which did not issue '{name_string(last.subject)}'")
            elif added:
                break
        if not added:
            fetch_notes.append(f"nothing new came from {', '.join(http_urls)}")
            break

    last = path[-1].cert if path else leaf
    if not path or (not complete and require_root):
        message = _missing_issuer_message(last, candidates, fetch_notes, fetch is not None)
        if path and not complete:
            message += " If that issuer is a root you cannot give, set require_root=false to do without it."
        raise InputError(message)

    bundle = Bundle(leaf=leaf, fetched=fetched, duplicates=candidates.duplicates)
    if complete:
        bundle.root = path[-1].cert
        bundle.intermediates = [entry.cert for entry in path[:-1]]
    else:
        bundle.intermediates = [entry.cert for entry in path]
        bundle.warnings.append(
            f"the chain stops at '{name_string(last.subject)}': its issuer '{name_string(last.issuer)}' is unknown, "
            "so the trusted file holds no root (enough for ssl_stapling, not for ssl_stapling_verify with a "
            "delegated OCSP responder)."
        )
        bundle.warnings.extend(f"while looking for the root: {note}." for note in fetch_notes)
    verify_links([leaf, *bundle.intermediates] + ([bundle.root] if bundle.root is not None else []))

    on_path = {leaf_fp} | {entry.fp for entry in path}
    for entry in candidates.order:
        if entry.fp in on_path or entry.anchor or entry.source.startswith("caIssuers "):
            continue
        bundle.ignored.append((entry.cert, entry.source))
        bundle.warnings.append(
            f"ignored '{name_string(entry.cert.subject)}' (sha256 {entry.fp}) from {entry.source}: "
            f"it is not on the issuer path of '{name_string(leaf.subject)}'."
        )
    now = at or utc_now()
    for cert in [leaf, *bundle.intermediates]:
        if not_after(cert) < now:
            bundle.warnings.append(
                f"'{name_string(cert.subject)}' expired on {format_time(not_after(cert))}; clients will reject it."
            )
    return bundle


def verify_links(certs: list) -> None:
    """Check that each certificate is issued (name and signature) by the next one; raise TlsfleetError if not."""
    for child, parent in zip(certs, certs[1:]):
        if child.issuer != parent.subject or not is_issued_by(child, parent):
            raise TlsfleetError(
                f"internal check failed: '{name_string(child.subject)}' is not issued by "
                f"'{name_string(parent.subject)}'; nothing was written."
            )
