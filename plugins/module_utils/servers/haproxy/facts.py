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
    self_fetch = self_fetches(stapling)
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


def self_fetches(stapling: Dict[str, Any]) -> bool:
    """Whether HAProxy fetches this certificate's staple itself: ``ocsp-update on`` on 2.8+, not disabled globally.

    Then a missing ``.ocsp`` file is no problem: HAProxy keeps the response in memory and refreshes it.
    """
    return (
        stapling.get("ocsp_update") == "on"
        and bool(stapling.get("ocsp_update_supported"))
        and not stapling.get("ocsp_update_disable")
    )


def refuses_without_uri(stapling: Dict[str, Any], version: Optional[str]) -> bool:
    """Whether this HAProxy refuses a certificate without OCSP URI whose ocsp-update is on (docs/servers.md).

    2.8 refuses it when the certificate's own line says ``ocsp-update on`` (the configuration test fails with an
    ALERT). From 3.2 HAProxy skips such a certificate silently, and a mode that comes only from the global
    ``ocsp-update.mode`` (3.0+) is skipped too; 3.0 and 3.1 with an explicit ``on`` are taken to refuse, as 2.8
    does, until checked against their sources.
    """
    if not stapling.get("ocsp_update_explicit", True):
        return False
    numbers = common.parse_version(version)[1]
    return numbers is None or not common.version_at_least(numbers, 3, 2)


def no_responder_problem(
    stapling: Dict[str, Any], configured: Dict[str, Any], site: Dict[str, Any], name: str
) -> Optional[Tuple[str, str, Tuple[str, ...]]]:
    """``(severity, evidence, log codes)`` when HAProxy staples, or tries to, a certificate without an OCSP URL.

    With ``ocsp-update on`` on its own line, HAProxy before 3.2 refuses to load such a certificate: the
    configuration test fails with an ALERT and HAProxy does not start or reload (docs/servers.md, HAProxy): an
    error. Later releases, and a mode set only globally, load it and staple nothing: a warning. A ``.ocsp`` file
    beside it is loaded but nothing will ever refresh it: a warning. None when neither applies.
    """
    codes = ("stapling_without_ocsp",)
    crt = stapling.get("crt") or common.field(configured, "certificate_file")
    version = common.field(site, "server_version") or ""
    where = stapling.get("source") or common.field(site, "source")
    if self_fetches(stapling):
        if refuses_without_uri(stapling, version):
            return (
                "error",
                "HAProxy %s has ocsp-update on for %s (%s), which names no OCSP URI: HAProxy refuses to load it, so "
                "its configuration test fails and it will not start or reload" % (version, crt, where),
                codes,
            )
        return (
            "warning",
            "HAProxy %s has ocsp-update on for %s (%s), which names no OCSP URI: it loads the certificate and "
            "staples nothing for it" % (version, crt, where),
            codes,
        )
    staple_file = common.field(configured, "staple_file")
    exists = common.field(staple_file, "exists") if staple_file else stapling.get("ocsp_exists")
    if exists:
        return (
            "warning",
            "HAProxy loads the staple file %s with %s, which names no OCSP URI: nothing will ever refresh it"
            % (common.field(staple_file, "path") or stapling.get("ocsp_file"), crt),
            codes,
        )
    if stapling.get("ocsp_update") == "on":
        if stapling.get("ocsp_update_supported"):
            why = "the global ocsp-update.disable keeps HAProxy from fetching"
        else:
            why = "HAProxy %s cannot fetch responses itself (ocsp-update needs 2.8)" % version
        return ("warning", "%s (%s) has ocsp-update on but names no OCSP URI; %s" % (crt, where, why), codes)
    return None


def forced_responder(stapling: Dict[str, Any]) -> Optional[str]:
    """HAProxy always asks the certificate's own responder (its OCSP URI): no setting replaces it."""
    return None


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
