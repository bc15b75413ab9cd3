# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which names a certificate covers, and which sites of a node a certificate goes to.

One answer for the node and the controller: the preflight judges the sites ``destinations()`` names
(preflight.py, the rollout's gate) and the planners deploy to the same ones (plugins/plugin_utils/remediation.py),
so the gate never passes a site the rollout then skips, nor skips one the rollout deploys to. docs/preflight.md
states the rule. Standard library only; no imports from the collection (the controller and every module load it).

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

# The label separators IDNA accepts besides the full stop (RFC 3490 3.1).
_DOTS = {ord(dot): "." for dot in "\u3002\uff0e\uff61"}


def ascii_name(name: str) -> str:
    """A DNS name as certificates hold it: lower case, no final dot, each Unicode label (U-label) as its A-label
    (``bücher`` -> ``xn--bcher-kva``), with Python's IDNA codec - the one tls_probe.py sends SNI with. A label
    the codec refuses is kept as it is (it then matches only itself)."""
    labels = []
    for label in name.translate(_DOTS).rstrip(".").split("."):
        ascii_label = label
        if not label.isascii():
            try:
                ascii_label = label.encode("idna").decode("ascii")
            except UnicodeError:
                pass
        labels.append(ascii_label.lower())
    return ".".join(labels)


def covers(pattern: str, name: str) -> bool:
    """RFC 6125: a name matches exactly (case-insensitively, U-labels compared as A-labels), or ``*.`` stands for
    exactly one left-most label."""
    pattern, name = ascii_name(pattern), ascii_name(name)
    if pattern == name:
        return True
    # A wildcard needs at least two labels after it (``*.com`` covers nothing), as OpenSSL's X509_check_host does.
    # No public suffix list is shipped: ``*.co.uk`` covers ``shop.co.uk`` (docs/preflight.md).
    if pattern.startswith("*.") and "*" not in pattern[2:] and "." in pattern[2:].strip("."):
        head, dot, rest = name.partition(".")
        return bool(dot) and bool(head) and "*" not in head and rest == pattern[2:]
    return False


def covers_all(san_dns: Sequence[str], names: Sequence[str]) -> bool:
    """Whether the certificate names (``san_dns``) cover every one of ``names``, and there is at least one."""
    return bool(names) and all(any(covers(pattern, name) for pattern in san_dns or []) for name in names)


def key_family(key_type: Any) -> Optional[str]:
    """The algorithm of an x509.key_type (``RSA-2048`` -> ``RSA``, ``EC-secp256r1`` -> ``EC``), or None."""
    if not isinstance(key_type, str) or not key_type or key_type == "unknown":
        return None
    return key_type.split("-", 1)[0]


def _units(evidence: Any) -> Iterator[Tuple[str, Any, List[str], Optional[List[str]], Optional[str]]]:
    """(key, site, hostnames, DNS names of the configured certificate or None when it was not read, its key
    family or None) of each certificate entry of the evidence, typed (evidence.Evidence, on the node) or in its
    dict form (the controller)."""
    if isinstance(evidence, dict):
        table = evidence.get("certificates")
        table = table if isinstance(table, dict) else {}
        for site in evidence.get("sites") or []:
            if not isinstance(site, dict):
                continue
            configured = site.get("configured") if isinstance(site.get("configured"), dict) else {}
            fingerprint = configured.get("leaf")
            record = table.get(fingerprint) if isinstance(fingerprint, str) else None
            san = record.get("san_dns") if isinstance(record, dict) else None
            names = [str(n) for n in site.get("hostnames") or [] if isinstance(n, str)]
            yield (
                str(site.get("key") or site.get("site")),
                site.get("site"),
                names,
                (list(san) if isinstance(san, list) else None),
                key_family(record.get("key_type")) if isinstance(record, dict) else None,
            )
        return
    for site in getattr(evidence, "sites", None) or []:
        record = evidence.certificate(site.configured.leaf)
        yield (
            site.key,
            site.site,
            list(site.hostnames),
            list(record.san_dns) if record is not None else None,
            key_family(record.key_type) if record is not None else None,
        )


def destinations(evidence: Any, san_dns: Sequence[str], key_type: Optional[str] = None) -> Dict[str, List[str]]:
    """The sites a certificate with the DNS names ``san_dns`` goes to: site key -> the hostnames it serves there,
    in the evidence's order.

    A certificate entry's hostnames are those of its site; when the site holds several certificates (an nginx or
    Apache block with an RSA and an ECDSA certificate, an HAProxy section with several ``crt``), each entry
    serves only the hostnames its own configured certificate covers (all of them when that certificate was not
    read). The certificate goes to an entry when it covers every one of those hostnames: a certificate that
    covers only some would break the others, so it goes nowhere there.

    With ``key_type`` (x509.key_type of the certificate), in a site holding several certificates it goes only to
    the entries whose configured certificate has the same key algorithm, or whose certificate was not read: an
    RSA renewal replaces the RSA certificate of a dual RSA/ECDSA block, never the ECDSA one.
    """
    units = list(_units(evidence))
    shared: Dict[Any, int] = {}
    for _key, site, _names, _san, _family in units:
        shared[site] = shared.get(site, 0) + 1
    family = key_family(key_type)
    out: Dict[str, List[str]] = {}
    for key, site, hostnames, configured_san, configured_family in units:
        served = hostnames
        if shared[site] > 1 and family and configured_family and configured_family != family:
            continue
        if shared[site] > 1 and configured_san is not None:
            served = [name for name in hostnames if any(covers(pattern, name) for pattern in configured_san)]
        if covers_all(san_dns, served):
            out[key] = served
    return out
