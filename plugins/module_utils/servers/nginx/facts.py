# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What nginx's stapling configuration means, in the terms diagnosis, audit and remediation share.

Pure functions over the discovered stapling and the audit's configured records (or their dict form): no I/O. The
contract (every server type defines the same names) is in servers/__init__.py.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils import dns_probe
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common

LABEL = "nginx"
#: nginx reads the chain from the certificate file only (no separate chain file).
READS_CHAIN_ELSEWHERE = False
#: The key has its own file (ssl_certificate_key).
KEY_IN_CERTIFICATE_FILE = False
#: Stapling is switched on by directives in the site's server block (servers/nginx/edit.py).
STAPLING_REMEDY = "directives"
#: nginx looks the responder up through its own resolver; remediation may set one.
TAKES_RESOLVER = True
#: nginx keeps staples in each worker's memory: no shared cache to configure.
NEEDS_STAPLING_CACHE = False
#: A staple file (ssl_stapling_file) replaces the fetch; it is not tied to a certificate deployment.
STAPLE_FILE_FOLLOWS_CERTIFICATE = False


def stapling_enabled(stapling: Dict[str, Any], configured: Optional[Dict[str, Any]] = None) -> bool:
    """Whether the site asks for stapling (``ssl_stapling on``)."""
    return bool(stapling.get("ssl_stapling"))


def stapling_problem(
    stapling: Dict[str, Any], configured: Dict[str, Any], site: Dict[str, Any], name: str
) -> Optional[Tuple[str, str, Tuple[str, ...]]]:
    """``(code, evidence, log codes)`` when the configuration keeps nginx from stapling this certificate."""
    if stapling.get("certificate_uses_variables"):
        return (
            "stapling_unsupported",
            "nginx loads the certificate through variables (%s); nginx cannot "
            "staple such certificates" % ", ".join(stapling.get("certificate_variable_values") or []),
            (),
        )
    if not stapling.get("ssl_stapling"):
        return ("stapling_disabled", "ssl_stapling is off for %s (%s)" % (name, common.field(site, "source")), ())
    return None


def no_responder_problem(
    stapling: Dict[str, Any], configured: Dict[str, Any], site: Dict[str, Any], name: str
) -> Optional[Tuple[str, str, Tuple[str, ...]]]:
    """``(severity, evidence, log codes)`` when stapling is on for a certificate that names no OCSP responder.

    nginx skips stapling for it and logs '"ssl_stapling" ignored, no OCSP responder URL' at every (re)load; a
    static ``ssl_stapling_file`` is served without ever being refreshed. None when stapling is off, or when
    ``ssl_stapling_responder`` names a responder for it.
    """
    if not stapling.get("ssl_stapling") or forced_responder(stapling):
        return None
    staple_file = stapling.get("ssl_stapling_file")
    if staple_file:
        # nginx loads a static staple before it looks for a responder: it staples the file and logs nothing.
        return (
            "warning",
            "nginx staples the static ssl_stapling_file %s for %s (%s), and the certificate names no OCSP "
            "responder: nothing can refresh that response from the CA, so it will expire"
            % (staple_file, name, common.field(site, "source")),
            (),
        )
    return (
        "warning",
        "ssl_stapling is on for %s (%s), but nginx cannot fetch a staple for a certificate without an OCSP "
        "responder URL: it logs '\"ssl_stapling\" ignored' at every reload" % (name, common.field(site, "source")),
        ("stapling_without_ocsp",),
    )


def forced_responder(stapling: Dict[str, Any]) -> Optional[str]:
    """The responder nginx asks instead of the certificate's own (``ssl_stapling_responder``), while stapling is on."""
    if not stapling.get("ssl_stapling"):
        return None
    return stapling.get("ssl_stapling_responder") or None


def verify_problem(stapling: Dict[str, Any], trusted: Dict[str, Any], issuer: Optional[str]) -> Optional[str]:
    """Why nginx rejects the staples it fetches (ssl_stapling_verify without a trusted file anchoring the chain)."""
    if not stapling.get("ssl_stapling_verify"):
        return None
    if trusted and common.field(trusted, "anchors_issuer"):
        return None
    return "ssl_stapling_verify is on but %s" % (
        "no ssl_trusted_certificate is configured"
        if not trusted
        else "%s does not hold the chain up to a root for '%s'" % (common.field(trusted, "path"), issuer)
    )


def resolver_problem(stapling: Dict[str, Any], responder_names: Sequence[str]) -> Optional[str]:
    """Why nginx cannot look up a responder given by name: no ``resolver`` directive."""
    if stapling.get("resolver"):
        return None
    return (
        "nginx has no resolver directive and the responder %s is a name "
        "it can only look up while loading its configuration" % ", ".join(responder_names)
    )


def resolver_addresses(stapling: Dict[str, Any]) -> List[Tuple[str, int]]:
    """The nameservers of the site's own ``resolver`` (nginx looks the responder up through them at run time)."""
    return dns_probe.parse_nginx_resolver(stapling.get("resolver"))


def staple_file_path(stapling: Dict[str, Any]) -> Optional[str]:
    """The staple nginx reads from disk instead of fetching one (``ssl_stapling_file``)."""
    return stapling.get("ssl_stapling_file")


def staple_issuer_path(stapling: Dict[str, Any]) -> Optional[str]:
    """nginx takes the issuer from the certificate chain: no issuer file."""
    return None


def certificate_units(site: common.SiteInfo) -> List[Tuple[Optional[str], Optional[str], Dict[str, Any]]]:
    """``(certificate file, key file, stapling)`` per certificate of the site.

    A certificate loaded through variables has no file: one unit without files, so the audit still reports it.
    """
    units = common.paired_certificate_units(site)
    if not units and site.stapling.get("certificate_uses_variables"):
        units = [(None, None, dict(site.stapling))]
    return units
