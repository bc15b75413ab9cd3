# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What Apache httpd's stapling configuration means, in the terms diagnosis, audit and remediation share.

Pure functions over the discovered ``stapling`` and the audit's ``configured`` records (or their dict form): no I/O. The
contract (every server type defines the same names) is in ``servers/__init__.py``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common

LABEL = "Apache httpd"
#: mod_ssl also builds the chain from SSLCertificateChainFile / SSLCACertificate*.
READS_CHAIN_ELSEWHERE = True
#: The key has its own file (SSLCertificateKeyFile), or shares the certificate's when none is given.
KEY_IN_CERTIFICATE_FILE = False
#: Stapling is switched on by directives in the site's <VirtualHost> (servers/apache/edit.py).
STAPLING_REMEDY = "directives"
#: mod_ssl uses the system resolver: nothing to configure.
TAKES_RESOLVER = False
#: mod_ssl staples only with an SSLStaplingCache (server-wide); remediation may write one.
NEEDS_STAPLING_CACHE = True
#: Apache has no staple file.
STAPLE_FILE_FOLLOWS_CERTIFICATE = False


def stapling_enabled(stapling: Dict[str, Any], configured: Optional[Dict[str, Any]] = None) -> bool:
    """Whether the site asks for stapling (``SSLUseStapling on``)."""
    return bool(stapling.get("SSLUseStapling"))


def stapling_problem(
    stapling: Dict[str, Any], configured: Dict[str, Any], site: Dict[str, Any], name: str
) -> Optional[Tuple[str, str, Tuple[str, ...]]]:
    """``(code, evidence, log codes)`` when the configuration keeps Apache from stapling this certificate."""
    if not stapling.get("SSLUseStapling"):
        return ("stapling_disabled", "SSLUseStapling is off for %s (%s)" % (name, common.field(site, "source")), ())
    if not stapling.get("SSLStaplingCache"):
        return (
            "stapling_cache_missing",
            "SSLUseStapling is on but no SSLStaplingCache is configured",
            ("stapling_cache_missing",),
        )
    return None


def no_responder_problem(
    stapling: Dict[str, Any], configured: Dict[str, Any], site: Dict[str, Any], name: str
) -> Optional[Tuple[str, str, Tuple[str, ...]]]:
    """``(severity, evidence, log codes)`` when stapling is on for a certificate that names no OCSP responder.

    mod_ssl skips stapling for it and logs AH02218 (no OCSP URI in certificate) at every start and reload. None
    when stapling is off, or when ``SSLStaplingForceURL`` names a responder for it.
    """
    if not stapling.get("SSLUseStapling") or forced_responder(stapling):
        return None
    return (
        "warning",
        "SSLUseStapling is on for %s (%s), but mod_ssl cannot staple a certificate without an OCSP URI: it logs "
        "AH02218 at every reload" % (name, common.field(site, "source")),
        ("stapling_without_ocsp",),
    )


def forced_responder(stapling: Dict[str, Any]) -> Optional[str]:
    """The responder mod_ssl asks instead of the certificate's own (``SSLStaplingForceURL``), while stapling is on."""
    if not stapling.get("SSLUseStapling"):
        return None
    return stapling.get("SSLStaplingForceURL") or None


def verify_problem(stapling: Dict[str, Any], trusted: Dict[str, Any], issuer: Optional[str]) -> Optional[str]:
    """mod_ssl verifies staples against its own chain: no separate trusted file can be missing."""
    return None


def resolver_problem(stapling: Dict[str, Any], responder_names: Sequence[str]) -> Optional[str]:
    """mod_ssl resolves the responder when it fetches: no resolver setting can be missing."""
    return None


def resolver_addresses(stapling: Dict[str, Any]) -> List[Tuple[str, int]]:
    """The server resolves through the node's resolver: no nameservers of its own to check."""
    return []


def staple_file_path(stapling: Dict[str, Any]) -> Optional[str]:
    """Apache always fetches its staples itself."""
    return None


def staple_issuer_path(stapling: Dict[str, Any]) -> Optional[str]:
    """Apache has no staple file."""
    return None


def certificate_units(site: common.SiteInfo) -> List[Tuple[Optional[str], Optional[str], Dict[str, Any]]]:
    """``(certificate file, key file, stapling)`` per SSLCertificateFile of the site."""
    return common.paired_certificate_units(site)
