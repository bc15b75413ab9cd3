# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificate chain analysis: order, completeness, extras, and the leaf's issuer.

The first presented certificate is the leaf. That is what a TLS server sends first (RFC 8446
section 4.4.2) and what nginx, Apache httpd and HAProxy use as the server certificate when they read
a bundle file, so a bundle written in the wrong order is reported as such rather than re-interpreted.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record
from ansible_collections.tlsfleet.stapling.plugins.module_utils.x509 import (
    CertInfo,
    describe,
    fingerprint,
    format_time,
    is_ca,
    is_issued_by,
    is_self_signed,
    name_string,
    not_after,
    not_before,
    public_key_sha256,
    san_dns_names,
    to_utc,
    utc_now,
)

try:
    from cryptography import x509
except ImportError:  # reported by deps.require_cryptography() in the module
    pass

try:  # cryptography >= 42
    from cryptography.x509 import verification as _verification
except ImportError:
    _verification = None

MAX_PATH_LENGTH = 10

SOURCE_PRESENTED = "presented"
SOURCE_POOL = "pool"
SOURCE_ANCHORS = "anchors"


@dataclass(repr=False)
class ChainReport(Record):
    """The result of :func:`analyze_chain`.

    ``ordered`` (leaf then intermediates in path order, without a self-signed root, ready to be
    written as a full chain) and ``issuer_certificate`` are cryptography objects and are left out of
    ``to_dict()``; everything else is JSON-safe.
    """

    leaf: CertInfo
    order_ok: bool
    complete: bool
    presented_complete: bool
    anchored: Optional[bool]
    missing_issuer: Optional[str]
    missing_issuer_of: Optional[str]
    issuer: Optional[CertInfo]
    issuer_found_in: Optional[str]
    extra: List[CertInfo] = field(default_factory=list)
    duplicates: List[CertInfo] = field(default_factory=list)
    root_sent: bool = False
    path: List[CertInfo] = field(default_factory=list)
    path_sources: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)
    path_validated: Optional[bool] = None
    path_validation_error: Optional[str] = None
    presented_count: int = 0
    ordered: List[Any] = field(default_factory=list, repr=False)
    issuer_certificate: Any = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {
            "leaf": self.leaf.to_dict(),
            "order_ok": self.order_ok,
            "complete": self.complete,
            "presented_complete": self.presented_complete,
            "anchored": self.anchored,
            "missing_issuer": self.missing_issuer,
            "missing_issuer_of": self.missing_issuer_of,
            "issuer": self.issuer.to_dict() if self.issuer is not None else None,
            "issuer_found_in": self.issuer_found_in,
            "extra": [info.to_dict() for info in self.extra],
            "duplicates": [info.to_dict() for info in self.duplicates],
            "root_sent": self.root_sent,
            "path": [info.to_dict() for info in self.path],
            "path_sources": list(self.path_sources),
            "problems": list(self.problems),
            "path_validated": self.path_validated,
            "path_validation_error": self.path_validation_error,
            "presented_count": self.presented_count,
        }


class _Pool:
    """Candidate certificates with cached fingerprints and issued-by results, indexed by subject.

    The trust anchors stay in their own index (built once per trust store) and are looked up by name, never
    copied or walked: a node's store holds about 150 roots, and walking them for every link of every chain made
    a 200-hostname audit spend most of its time comparing names.
    """

    def __init__(self, anchors=None):
        self.entries = []  # (fingerprint, cert, source), in the order they were added
        self.fps = set()
        self._by_subject = {}
        self._anchors = anchors
        self._issued = {}
        self._self_signed = {}

    def add(self, cert, source):
        fp = fingerprint(cert)
        if fp in self.fps:
            return
        self.fps.add(fp)
        entry = (fp, cert, source)
        self.entries.append(entry)
        self._by_subject.setdefault(cert.subject, []).append(entry)

    def issuers_named(self, name):
        """Entries whose subject is ``name``: the certificates added, then the anchors not among them."""
        own = self._by_subject.get(name, [])
        if self._anchors is None:
            return own
        return own + [entry for entry in self._anchors.by_subject.get(name, ()) if entry[0] not in self.fps]

    def issued_by(self, child_fp, child, parent_fp, parent):
        key = (child_fp, parent_fp)
        if key not in self._issued:
            self._issued[key] = is_issued_by(child, parent)
        return self._issued[key]

    def self_signed(self, fp, cert):
        if fp not in self._self_signed:
            self._self_signed[fp] = is_self_signed(cert)
        return self._self_signed[fp]


@dataclass(repr=False)
class _AnchorIndex(Record):
    """The trust anchors of one list, indexed by fingerprint and subject."""

    source: Any  # the anchors list this was computed from (kept so its id stays unique)
    entries: List[Any]  # (fingerprint, cert, subject)
    by_subject: dict  # subject -> [(fingerprint, cert, SOURCE_ANCHORS)]
    fps: set

    def has_key_of(self, cert) -> bool:
        """An anchor with this subject and public key: a re-issued root with the same key is the same anchor.

        Looked up lazily among the anchors of that subject: hashing every anchor's key costs more than an audit.
        """
        candidates = self.by_subject.get(cert.subject, ())
        if not candidates:
            return False
        key = public_key_sha256(cert)
        return any(public_key_sha256(anchor) == key for _fp, anchor, _source in candidates)


_LAST_ANCHORS: List[_AnchorIndex] = []


def _anchor_index(anchors) -> _AnchorIndex:
    """Fingerprints, subjects and key hashes of the trust anchors, computed once per anchors list.

    Callers pass the same list (the node's trust store) for every chain they analyze, so the last few indexes
    are kept.
    """
    for known in _LAST_ANCHORS:
        if known.source is anchors and len(known.entries) == len(anchors):
            return known
    entries = [(fingerprint(cert), cert, cert.subject) for cert in anchors]
    by_subject: dict = {}
    for fp, cert, subject in entries:
        if all(fp != known[0] for known in by_subject.get(subject, ())):
            by_subject.setdefault(subject, []).append((fp, cert, SOURCE_ANCHORS))
    index = _AnchorIndex(
        source=anchors,
        entries=entries,
        by_subject=by_subject,
        fps={fp for fp, _cert, _subject in entries},
    )
    if anchors:  # an empty list is cheap; keep the slots for the trust stores
        _LAST_ANCHORS[:] = [index, *_LAST_ANCHORS[:3]]
    return index


def _build_path(start, pool, is_anchor):
    """Depth-first search for a path from ``start`` to an anchor or a self-signed root.

    Returns ``(path, complete)`` where ``path`` is a list of ``(fp, cert, source)``; when no complete
    path exists, the longest partial one found is returned.
    """
    best = [start]

    def extend(path):
        nonlocal best
        fp, cert, _source = path[-1]
        if is_anchor(fp, cert) or pool.self_signed(fp, cert):
            return path
        if len(path) > len(best):
            best = path
        if len(path) >= MAX_PATH_LENGTH:
            return None
        used = {entry[0] for entry in path}
        for cand_fp, cand, source in pool.issuers_named(cert.issuer):
            if cand_fp in used:
                continue
            if not pool.issued_by(fp, cert, cand_fp, cand):
                continue
            found = extend([*path, (cand_fp, cand, source)])
            if found is not None:
                return found
        return None

    complete_path = extend([start])
    if complete_path is not None:
        return complete_path, True
    return best, False


def _check_name(cert) -> Optional[str]:
    """A DNS name the leaf must match, for the cryptography server verifier (wildcards made concrete)."""
    names = san_dns_names(cert)
    if not names:
        return None
    name = names[0]
    if name.startswith("*."):
        name = "tlsfleet-check." + name[2:]
    return name


def _validate_path(leaf, intermediates, anchors, at):
    """Run cryptography's RFC 5280 / CA/B Forum path validation (cryptography >= 42)."""
    if _verification is None or not anchors:
        return None, None
    name = _check_name(leaf)
    if name is None:
        return None, "the leaf certificate has no DNS name in its subjectAltName, so it cannot be validated as a server"
    try:
        store = _verification.Store(list(anchors))
        builder = _verification.PolicyBuilder().store(store).time(at)
        verifier = builder.build_server_verifier(x509.DNSName(name))
        verifier.verify(leaf, list(intermediates))
    except Exception as exc:  # VerificationError, or ValueError for inputs the verifier rejects outright
        return False, str(exc) or type(exc).__name__
    return True, None


def analyze_chain(presented, pool=(), anchors=(), at: Optional[datetime.datetime] = None) -> ChainReport:
    """Analyze the certificates a server presents (or a bundle file holds), leaf first.

    ``pool`` holds other certificates that may complete the chain (e.g. the server's configured
    chain file, a CA bundle, or certificates fetched from caIssuers URLs); ``anchors`` are trusted
    roots. ``at`` is the time to judge validity at (default: now).
    """
    presented = list(presented)
    if not presented:
        raise InputError("no certificate was given to analyze: the chain is empty.")
    at = to_utc(at) or utc_now()
    if not isinstance(anchors, list):  # a list is kept as it is: _anchor_index recognises it on the next call
        anchors = list(anchors or ())

    trusted = _anchor_index(anchors)
    candidates = _Pool(trusted)
    unique = []
    duplicates = []
    for cert in presented:
        fp = fingerprint(cert)
        if fp in candidates.fps:
            duplicates.append(cert)
            continue
        candidates.add(cert, SOURCE_PRESENTED)
        unique.append((fp, cert))
    for cert in pool or ():
        candidates.add(cert, SOURCE_POOL)
    anchor_fps = trusted.fps

    def is_anchor(fp, cert):
        return fp in anchor_fps or trusted.has_key_of(cert)

    leaf_fp, leaf = unique[0]
    path, complete = _build_path((leaf_fp, leaf, SOURCE_PRESENTED), candidates, is_anchor)
    path_fps = [entry[0] for entry in path]
    presented_fps = {fp for fp, _cert in unique}
    problems = []

    # order: the presented certificates that are on the path must come in path order
    on_path_presented = [fp for fp, _cert in unique if fp in path_fps]
    path_presented = [fp for fp in path_fps if fp in presented_fps]
    order_ok = on_path_presented == path_presented
    if not order_ok:
        problems.append(
            "the presented certificates are out of order: each certificate must be followed by the one that issued it."
        )
    if is_ca(leaf) and not is_self_signed(leaf):
        later_leaf = next((cert for _fp, cert in unique[1:] if not is_ca(cert)), None)
        if later_leaf is not None:
            order_ok = False
            problems.append(
                f"the first certificate '{name_string(leaf.subject)}' is a CA certificate while "
                f"'{name_string(later_leaf.subject)}' is an end-entity certificate: the bundle looks reversed "
                "(the server certificate must come first)."
            )

    missing_issuer = missing_issuer_of = None
    if not complete:
        last = path[-1][1]
        missing_issuer = name_string(last.issuer)
        missing_issuer_of = name_string(last.subject)
        where = "presented certificates" + (" or the pool" if pool else "")
        problems.append(
            f"the issuer '{missing_issuer}' of '{missing_issuer_of}' is not among the {where}: the chain is incomplete."
        )

    presented_complete = complete
    for index, (_fp, cert, source) in enumerate(path[1:], start=1):
        final = index == len(path) - 1
        if source == SOURCE_POOL and not (final and complete and is_self_signed(cert)):
            presented_complete = False
            problems.append(
                f"the intermediate '{name_string(cert.subject)}' is needed for the chain but was not presented "
                "(it was found in the pool)."
            )

    extra_certs = [cert for fp, cert in unique[1:] if fp not in path_fps]
    for cert in extra_certs:
        problems.append(f"the presented certificate '{name_string(cert.subject)}' is not part of the chain.")
    for cert in duplicates:
        problems.append(f"the certificate '{name_string(cert.subject)}' is presented more than once.")

    root_sent = any(candidates.self_signed(fp, cert) for fp, cert in unique[1:])
    if root_sent:
        problems.append("a self-signed root certificate is presented; clients ignore it, so it only adds bytes.")
    if len(path) == 1 and complete and candidates.self_signed(leaf_fp, leaf):
        problems.append(f"the certificate '{name_string(leaf.subject)}' is self-signed.")

    for _fp, cert, _source in path:
        if not_after(cert) < at:
            problems.append(f"the certificate '{name_string(cert.subject)}' expired on {format_time(not_after(cert))}.")
        elif not_before(cert) > at:
            problems.append(
                f"the certificate '{name_string(cert.subject)}' is not valid before {format_time(not_before(cert))}."
            )

    anchored = None
    if anchors:
        anchored = complete and is_anchor(path[-1][0], path[-1][1])
        if complete and not anchored:
            problems.append(f"the chain ends at '{name_string(path[-1][1].subject)}', which is not a trusted root.")

    intermediates = [cert for _fp, cert in unique[1:]] + list(pool or ())
    path_validated, path_error = _validate_path(leaf, intermediates, anchors, at)
    if path_validated is False:
        problems.append(f"path validation failed: {path_error}.")

    issuer_entry = path[1] if len(path) > 1 else None
    ordered = [cert for fp, cert, _source in path if not candidates.self_signed(fp, cert)]
    if not ordered:
        ordered = [leaf]

    return ChainReport(
        leaf=describe(leaf),
        order_ok=order_ok,
        complete=complete,
        presented_complete=presented_complete,
        anchored=anchored,
        missing_issuer=missing_issuer,
        missing_issuer_of=missing_issuer_of,
        issuer=describe(issuer_entry[1]) if issuer_entry else None,
        issuer_found_in=issuer_entry[2] if issuer_entry else None,
        extra=[describe(cert) for cert in extra_certs],
        duplicates=[describe(cert) for cert in duplicates],
        root_sent=root_sent,
        path=[describe(cert) for _fp, cert, _source in path],
        path_sources=[source for _fp, _cert, source in path],
        problems=problems,
        path_validated=path_validated,
        path_validation_error=path_error,
        presented_count=len(presented),
        ordered=ordered,
        issuer_certificate=issuer_entry[1] if issuer_entry else None,
    )


def find_issuer(cert, candidates) -> Optional[Any]:
    """The first certificate in ``candidates`` that issued ``cert`` (signature-verified), or ``None``."""
    for candidate in candidates:
        if candidate is cert:
            continue
        if is_issued_by(cert, candidate):
            return candidate
    return None
