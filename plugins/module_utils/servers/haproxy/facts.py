# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What HAProxy's stapling configuration means, in the terms diagnosis, audit and remediation share.

Pure functions over the discovered ``stapling`` and the audit's ``configured`` records (or their dict form): no I/O. The
contract (every server type defines the same names) is in ``servers/__init__.py``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common

LABEL = "HAProxy"
#: HAProxy also takes the issuer from ``<crt>.issuer``.
READS_CHAIN_ELSEWHERE = True
#: A ``crt`` PEM holds the key too (or a ``.key`` beside it that deployments write as one bundle).
KEY_IN_CERTIFICATE_FILE = True
#: Without ocsp-update, stapling means a ``<crt>.ocsp`` file deployed beside the certificate.
STAPLING_REMEDY = "staple_file"
TAKES_RESOLVER = False
NEEDS_STAPLING_CACHE = False
#: HAProxy loads ``<crt>.ocsp`` with the certificate: a new certificate needs a new staple file.
STAPLE_FILE_FOLLOWS_CERTIFICATE = True


def stapling_enabled(stapling: Dict[str, Any], configured: Optional[Dict[str, Any]] = None) -> bool:
    """Whether HAProxy staples: it fetches itself (``ocsp-update on``) or a staple file exists.

    ``configured`` is the audit's reading of the files (its ``staple_file``) when the caller has it, else
    discovery's stat of the ``.ocsp`` file counts.
    """
    if stapling.get("ocsp_update") == "on":
        return True
    if configured is not None:
        return bool(common.field(common.field(configured, "staple_file"), "exists"))
    return bool(stapling.get("ocsp_exists"))


def stapling_problem(
    stapling: Dict[str, Any], configured: Dict[str, Any], site: Dict[str, Any], name: str
) -> Optional[Tuple[str, str, Tuple[str, ...]]]:
    """``(code, evidence, log codes)`` when HAProxy neither fetches a staple nor has a staple file."""
    self_fetch = stapling.get("ocsp_update") == "on" and stapling.get("ocsp_update_supported")
    staple_file = common.field(configured, "staple_file")
    if self_fetch or common.field(staple_file, "exists"):
        return None
    return (
        "stapling_unsupported",
        "HAProxy %s does not fetch OCSP responses itself%s, and no staple file %s is deployed"
        % (
            common.field(site, "server_version") or "",
            "" if stapling.get("ocsp_update_supported") else " (ocsp-update needs 2.8 or later)",
            common.field(staple_file, "path") or stapling.get("ocsp_file"),
        ),
        (),
    )


def verify_problem(stapling: Dict[str, Any], trusted: Dict[str, Any], issuer: Optional[str]) -> Optional[str]:
    """HAProxy checks a staple against the issuer it loaded: no separate trusted file can be missing."""
    return None


def resolver_problem(stapling: Dict[str, Any], responder_names: Sequence[str]) -> Optional[str]:
    """HAProxy's ocsp-update resolves through its httpclient: no per-site resolver can be missing."""
    return None


def resolver_addresses(stapling: Dict[str, Any]) -> List[Tuple[str, int]]:
    """The server resolves through the node's resolver: no nameservers of its own to check."""
    return []


def staple_file_path(stapling: Dict[str, Any]) -> Optional[str]:
    """The ``<crt>.ocsp`` file HAProxy loads with the certificate."""
    return stapling.get("ocsp_file")


def staple_issuer_path(stapling: Dict[str, Any]) -> Optional[str]:
    """The ``<crt>.issuer`` file beside the certificate, when it exists (ocsp_staple validates against it)."""
    return stapling.get("issuer_file") if stapling.get("issuer_exists") else None


def certificate_units(site: common.SiteInfo) -> List[Tuple[Optional[str], Optional[str], Dict[str, Any]]]:
    """One unit per certificate record of the bind line (each with its own side files and options)."""
    records = site.stapling.get("certificates") or []
    shared = {key: value for key, value in site.stapling.items() if key != "certificates"}
    return [(record.get("crt"), record.get("key_file"), dict(shared, **record)) for record in records]


def no_ocsp_url_problem(stapling: Dict[str, Any]) -> Optional[Tuple[str, str]]:
    """``(severity, sentence)`` for a certificate without an OCSP URL on a site with this stapling (the preflight of a
    candidate, module_utils/preflight.py): HAProxy 2.8+ with ``ocsp-update on`` refuses to load it."""
    if stapling.get("ocsp_update") == "on" and stapling.get("ocsp_update_supported"):
        return (
            "fail",
            "ocsp-update is on and the certificate has no OCSP URL: HAProxy 2.8+ refuses to load such a certificate, "
            "so the configuration no longer starts",
        )
    return None
