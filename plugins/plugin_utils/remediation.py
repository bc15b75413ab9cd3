# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""From one node's findings to the changes that fix them: the remediation plan.

Controller-side code, standard library only. ``plan(audit, ...)`` reads a ``node_audit`` result (and the fleet-level
findings that name the node) and returns what each role must do on that node:

- ``stapling``: per nginx/Apache site, the directives ``site_stapling`` sets (stapling_config);
- ``staple_files``: HAProxy ``<crt>.ocsp`` files ``ocsp_staple`` writes (stapling_config);
- ``bundles``: certificate files rebuilt in place from what the node holds plus intermediates (cert_deploy);
- ``deployments``: certificates deployed from the controller, for drift and key mismatch (cert_deploy);
- ``reload``: the servers to test and reload, and ``verify``: what each touched hostname must then serve
  (tls_reload);
- ``staple_removals``: HAProxy ``<crt>.ocsp`` files of certificates without an OCSP URL that ``ocsp_staple``
  removes (stapling_config; only with the sunset opt-in);
- ``unfixable``: findings no configuration change fixes, or that lack an input, each with the reason;
- ``skipped``: findings a change would fix but that need an opt-in the run did not give (``stapling_without_ocsp``
  without ``sunset``), each with the reason: reported, never dropped silently.

The plan is data, so check mode, the report and the tests all see the same decisions.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import copy
import os
import posixpath
import unicodedata

from ansible_collections.tlsfleet.stapling.plugins.module_utils import coverage, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as evidence_records
from ansible_collections.tlsfleet.stapling.plugins.module_utils import files as file_io
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import TlsfleetError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.findings import CATALOGUE
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import facts_of
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import inputs

# Codes each planner step answers; anything else with fixed_by None is reported as unfixable.
STAPLING_ON = {"stapling_disabled", "must_staple_unmet"}
CHAIN_CODES = {"chain_incomplete", "chain_misordered", "chain_extra", "trusted_cert_missing"}
DEPLOY_CODES = {"key_mismatch", "node_drift"}
RELOAD_CODES = {"staple_missing", "staple_expired", "staple_expiring", "staple_invalid", "stale_cert_path"}
# What a fresh staple file remedies, for a server that staples from a file (facts STAPLING_REMEDY "staple_file").
STAPLE_FILE_REFRESH = {"staple_expired", "staple_expiring", "staple_invalid", "staple_missing"}
# The OCSP sunset: switching stapling off for a certificate whose CA dropped OCSP is opt-in (tlsfleet_stapling_sunset).
SUNSET_CODES = {"stapling_without_ocsp"}
SUNSET_SKIPPED = (
    "skipped (opt-in): the certificate names no OCSP responder, and switching stapling off for it is done only with "
    "tlsfleet_stapling_sunset: true (%s)"
)
# Findings that keep a staple from being good whatever is changed here: verification then checks the leaf only.
BLOCKING = {"responder_unreachable", "responder_error", "cert_revoked", "cert_status_unknown", "cert_expired"}

DEFAULT_APACHE_CACHE = "shmcb:${APACHE_RUN_DIR}/ssl_stapling(131072)"
DEFAULT_APACHE_CACHE_FILE = "/etc/apache2/conf-enabled/tlsfleet-stapling-cache.conf"


def _source(site: dict):
    """(path, line) of the site's block, from node_audit's ``source`` ("/etc/nginx/sites-enabled/x.conf:2")."""
    source = str(site.get("source") or "")
    path, sep, line = source.rpartition(":")
    if not sep or not line.isdigit():
        return None, None
    return path, int(line)


def certificate_sources(certificates) -> list:
    """tlsfleet_certificates entries in their one shape (``inputs.certificate_entry``: a certbot ``lineage`` stands
    for its files, paths are absolute on the controller) with the names, OCSP URLs and fingerprints of each
    certificate (read here).

    ``hosts`` (inventory host and group names that may receive the entry) is checked for its shape only; an entry
    without it is kept, and the planner refuses it by name (see ``in_scope``).
    """
    if certificates is not None and not isinstance(certificates, (list, tuple)):
        raise ValueError("the certificates must be a list of entries, not %s" % type(certificates).__name__)
    found = []
    for index, entry in enumerate(certificates or []):
        source = inputs.certificate_entry(entry, "certificate entry %d" % index)
        try:
            leaf = x509.load_certificates_from_path(source["certificate"], "certificate file")[0]
        except TlsfleetError as error:
            raise ValueError("certificate entry %d: %s" % (index, error)) from None
        source.update(
            san_dns=x509.san_dns_names(leaf),
            sha256=x509.fingerprint(leaf),
            public_key_sha256=x509.public_key_sha256(leaf),
            ocsp_urls=x509.ocsp_urls(leaf),
            key_type=x509.key_type(x509.certificate_public_key(leaf)),
        )
        if not source.get("name"):
            source["name"] = x509.name_string(leaf.subject)
        found.append(source)
    return found


def certificate_names(certificates) -> list:
    """The DNS names (SAN dNSName patterns) of each entry's certificate file, read on the controller. Entries are
    ``{certificate: path}`` or ``{lineage: directory}`` (tlsfleet_certificates or the rollout certificate); no key
    is needed or read."""
    if certificates is None:
        return []
    if isinstance(certificates, dict):
        certificates = [certificates]
    if not isinstance(certificates, (list, tuple)):
        raise ValueError("the certificates must be a list of entries, not %s" % type(certificates).__name__)
    names = []
    for index, entry in enumerate(certificates):
        if isinstance(entry, dict) and isinstance(entry.get("certificate"), str) and entry["certificate"].strip():
            path = inputs.controller_path(entry["certificate"])
        elif isinstance(entry, dict) and isinstance(entry.get("lineage"), str) and entry["lineage"].strip():
            path = os.path.join(inputs.controller_path(entry["lineage"]), inputs.LINEAGE_FILES["certificate"])
        else:
            raise ValueError("certificate entry %d needs 'certificate' or 'lineage' (a path on the controller)" % index)
        try:
            leaf = x509.load_certificates_from_path(path, "certificate file")[0]
        except TlsfleetError as error:
            raise ValueError("certificate entry %d: %s" % (index, error)) from None
        names.append(x509.san_dns_names(leaf))
    return names


def in_scope(entry: dict, host: str, groups=None) -> bool:
    """Whether inventory host ``host`` may receive the entry: it is named in the entry's ``hosts``, or belongs to a
    group named there. ``groups`` is the controller's inventory (group -> hosts), never anything a node said. An
    entry without ``hosts`` is in no one's scope."""
    names = entry.get("hosts") if isinstance(entry, dict) else None
    if not names or not host:
        return False
    for name in names:
        if name == host:
            return True
        members = groups.get(name) if hasattr(groups, "get") else None
        if isinstance(members, (list, tuple, set)) and host in members:
            return True
    return False


def scope_refusal(entry: dict, host: str) -> str:
    """One sentence naming the entry and why ``host`` does not get it."""
    name = entry.get("name") or entry.get("certificate")
    if not entry.get("hosts"):
        return (
            "certificate entry '%s' has no hosts: list, so it is deployed nowhere; add hosts: with the inventory "
            "hosts or groups that may receive its key" % name
        )
    return "certificate entry '%s' is not scoped to %s (its hosts: %s), so nothing of it is deployed there" % (
        name,
        host,
        ", ".join(entry["hosts"]),
    )


def _holds_key(configured: dict, cert: dict) -> bool:
    """The node's key file already holds the key of ``cert``: the configured leaf has the same public key and the
    audit found the key file matching that leaf (a renewal with the same key). Only a saving: a node that lies
    here gets no key, and a certificate without its key fails verification and is rolled back."""
    leaf = configured.get("leaf") or {}
    return bool(
        cert.get("public_key_sha256")
        and leaf.get("public_key_sha256") == cert["public_key_sha256"]
        and configured.get("key_matches") is True
    )


def _site_key(site: dict) -> str:
    return str(site.get("key") or site.get("site"))


def _site_view(evidence: dict, site: dict) -> dict:
    """The site with its configured leaf's certificate record in place of the fingerprint that names it (the
    evidence describes each certificate once, in ``certificates``); the planner reads the record."""
    configured = site.get("configured")
    if not isinstance(configured, dict):
        return site
    return dict(site, configured=dict(configured, leaf=evidence_records.configured_leaf(evidence, site) or None))


def _site_findings(audit: dict, drift: list, host: str) -> dict:
    """Evidence site key -> findings about it.

    Node findings name their ``site`` and hostname; one configuration block can hold several certificates (an
    HAProxy ``bind`` with several ``crt``), so the hostname picks the evidence entry. Drift names hostnames.
    """
    sites = [s for s in (audit.get("evidence") or {}).get("sites") or [] if isinstance(s, dict)]

    def entry_for(site_name, hostname):
        candidates = [s for s in sites if site_name is None or s.get("site") == site_name]
        for site in candidates:
            if hostname in (site.get("hostnames") or []):
                return _site_key(site)
        return _site_key(candidates[0]) if candidates and site_name is not None else None

    by_site: dict = {}
    for item in audit.get("findings") or []:
        if isinstance(item, dict) and item.get("site"):
            by_site.setdefault(entry_for(item["site"], item.get("hostname")) or item["site"], []).append(item)
    for item in drift or []:
        details = item.get("details") or {}
        if host not in (details.get("outliers") or details.get("nodes") or []):
            continue
        key = entry_for(None, item.get("hostname"))
        if key is not None:
            by_site.setdefault(key, []).append(item)
    return by_site


def plan(
    audit: dict,
    host: str,
    drift=(),
    certificates=(),
    resolvers=(),
    apache_cache: str = DEFAULT_APACHE_CACHE,
    apache_cache_file: str = DEFAULT_APACHE_CACHE_FILE,
    fetch_issuers: bool = True,
    groups=None,
    sunset: bool = False,
) -> dict:
    """The remediation plan for one node (see the module docstring).

    ``groups`` is the controller's inventory (group name -> host names): a certificate entry is deployed to
    ``host`` only when its ``hosts`` name the host or one of its groups (``in_scope``).
    ``sunset`` (tlsfleet_stapling_sunset) allows switching stapling off for the sites of certificates without an
    OCSP URL (``stapling_without_ocsp``), per certificate; without it those findings are listed under ``skipped``.
    """
    result = {
        "stapling": [],
        "staple_files": [],
        "bundles": [],
        "deployments": [],
        "reload": [],
        "verify": [],
        "unfixable": [],
        "skipped": [],
        "staple_removals": [],
        "codes": [],
        "reload_always": [],
    }
    if not isinstance(audit, dict) or not isinstance(audit.get("evidence"), dict):
        return result
    evidence = audit["evidence"]
    sites = {_site_key(s): _site_view(evidence, s) for s in evidence.get("sites") or [] if isinstance(s, dict)}
    by_site = _site_findings(audit, list(drift or []), host)

    for item in audit.get("findings") or []:
        if isinstance(item, dict) and not item.get("site"):
            _unfixable(result, item, "node-wide finding: nothing to change in a site's configuration")

    for key in sorted(by_site, key=str):
        site = sites.get(key)
        if site is None:
            for item in by_site[key]:
                _unfixable(result, item, "the site is not in the node's evidence")
            continue
        # The other certificates of the same block (nginx/Apache RSA + ECDSA pairs): stapling is switched per block.
        siblings = [
            other for other_key, other in sites.items() if other_key != key and other.get("site") == site.get("site")
        ]
        context = {
            "evidence": evidence,
            "host": host,
            "groups": groups or {},
            "drift": list(drift or []),
            "siblings": siblings,
            "sunset": bool(sunset),
        }
        _plan_site(
            result,
            key,
            site,
            by_site[key],
            certificates,
            resolvers,
            apache_cache,
            apache_cache_file,
            fetch_issuers,
            context,
        )
    result["reload"] = sorted({entry["server"] for entry in result["verify"] if entry["server"]})
    result["reload_always"] = sorted(set(result["reload_always"]))
    result["codes"] = sorted(set(result["codes"]))
    # Edits insert lines: within one file, the block lowest down goes first, so the lines of the others hold.
    result["stapling"].sort(key=lambda entry: (entry["path"], -(entry["line"] or 0)))
    return result


def _combined(server, configured) -> bool:
    """The key shares the certificate file (the server type's bundles, or a PEM with both, or no key file)."""
    key_file = configured.get("key_file")
    facts = facts_of(server)
    return (
        (facts is not None and facts.KEY_IN_CERTIFICATE_FILE)
        or not key_file
        or key_file == configured.get("certificate_file")
    )


def _staple_file_of_certificate(server, stapling):
    """The staple file the server loads together with the certificate (HAProxy's ``<crt>.ocsp``), or None."""
    facts = facts_of(server)
    if facts is None or not facts.STAPLE_FILE_FOLLOWS_CERTIFICATE:
        return None
    return facts.staple_file_path(stapling)


def _drift_refusal(found, host, cert, configured):
    """Why a node_drift finding about this site plans no deployment on ``host``, or None when it may.

    Drift is a comparison of what the nodes say they serve: it is no authority. With no majority (a tie), no side
    is known to be wrong; a node that already holds the certificate the controller would deploy needs nothing."""
    drifts = [item for item in found if item.get("code") == "node_drift"]
    for item in drifts:
        details = item.get("details") or {}
        fingerprints = details.get("fingerprints")
        if isinstance(fingerprints, dict) and len(fingerprints) > 1:
            sizes = sorted((len(hosts or []) for hosts in fingerprints.values()), reverse=True)
            tie = sizes[0] == sizes[1]
        else:
            nodes = set(details.get("nodes") or [])
            tie = len(nodes) > 1 and set(details.get("outliers") or []) == nodes
        if tie:
            return (
                "no majority among the nodes serving %s (a tie): nothing is deployed; deploy the right certificate "
                "with the rollout playbook" % item.get("hostname")
            )
    leaf_drift = any((item.get("details") or {}).get("kind") != "chain" for item in drifts)
    held = (configured.get("leaf") or {}).get("sha256")
    if drifts and leaf_drift and cert is not None and held == cert.get("sha256"):
        return "%s already holds the certificate the controller would deploy (sha256 %s)" % (host, cert.get("sha256"))
    return None


def _plan_site(
    result, key, site, found, certificates, resolvers, apache_cache, apache_cache_file, fetch_issuers, context
):
    server = site.get("server")
    codes = {item["code"] for item in found}
    configured = site.get("configured") or {}
    leaf = configured.get("leaf") or {}
    stapling = site.get("stapling") or {}
    path, line = _source(site)
    handled, blocked = set(), set()
    expect_leaf = leaf.get("sha256")
    deployed_leaf = leaf
    staple_on = None  # True / False when the plan switches stapling; None: left as it is

    def refuse(code_set, reason):
        for item in found:
            if item["code"] in code_set:
                _unfixable(result, item, reason)
        blocked.update(code_set & codes)

    def skip(code_set, reason):
        for item in found:
            if item["code"] in code_set:
                _listed(result, "skipped", item, reason)
        blocked.update(code_set & codes)

    for code in sorted(codes):
        cause = CATALOGUE.get(code)
        if code in BLOCKING or (cause is not None and cause.fixed_by is None):
            refuse({code}, "not fixable by configuration: %s" % (cause.remedy if cause else code))

    # cert_deploy: a certificate from the controller (drift, key mismatch); chains rebuilt in place.
    if codes & DEPLOY_CODES:
        hostnames = site.get("hostnames") or []
        host, groups = context["host"], context["groups"]
        # The entries that go to this site: the rule the rollout and its preflight gate use (coverage.py).
        covering = [
            c
            for c in certificates or []
            if key in coverage.destinations(context["evidence"], c.get("san_dns"), c.get("key_type"))
        ]
        cert = next((c for c in covering if in_scope(c, host, groups)), None)
        drift_reason = _drift_refusal(found, host, cert or (covering[0] if covering else None), configured)
        if not covering:
            names = ", ".join(hostnames)
            refuse(DEPLOY_CODES, "no certificate in tlsfleet_certificates covers %s" % names)
        elif cert is None:
            refuse(DEPLOY_CODES, scope_refusal(covering[0], host))
        elif drift_reason and "key_mismatch" not in codes:
            refuse({"node_drift"}, drift_reason)
        elif not configured.get("certificate_file"):
            refuse(DEPLOY_CODES, "the site's certificate file is not known")
        else:
            result["deployments"].append(
                {
                    "site": site.get("site"),
                    "site_key": key,
                    "server": server,
                    "name": cert.get("name"),
                    "certificate": cert["certificate"],
                    "key": cert["key"],
                    "chain": cert.get("chain"),
                    "sha256": cert.get("sha256"),
                    "fullchain_dest": configured["certificate_file"],
                    "key_dest": configured.get("key_file") or configured["certificate_file"],
                    "combined": _combined(server, configured),
                    # The node's key already belongs to the certificate: the certificate and chain only.
                    "deploy_key": _combined(server, configured) or not _holds_key(configured, cert),
                    "codes": sorted(codes & DEPLOY_CODES),
                }
            )
            expect_leaf = cert.get("sha256") or expect_leaf
            deployed_leaf = cert  # verification expects what the new certificate allows (an OCSP URL or none)
            handled |= codes & DEPLOY_CODES | (codes & CHAIN_CODES)  # a fresh deployment brings a fresh chain
            if "stapling_without_ocsp" in codes and cert.get("ocsp_urls"):
                # The sunset decides from the certificate served after the plan: this one names a responder, so
                # the deployment itself is the remedy and stapling stays as it is (its staple is refreshed below).
                handled.add("stapling_without_ocsp")
                result["deployments"][-1]["codes"] = sorted(codes & (DEPLOY_CODES | SUNSET_CODES))
            staple_path = _staple_file_of_certificate(server, stapling)
            if cert.get("ocsp_urls") and staple_path:
                # HAProxy loads <crt>.ocsp with the certificate: a response for the old one must not stay.
                result["staple_files"].append(
                    {
                        "site": site.get("site"),
                        "key": key,
                        "server": server,
                        "certificate_path": configured["certificate_file"],
                        "dest": staple_path,
                        "issuer_path": None,
                        "force": False,
                        "codes": sorted(codes & DEPLOY_CODES),
                    }
                )
                staple_on = True
            elif staple_path and _staple_file_exists(configured, stapling):
                # The new certificate names no responder, so nothing will refresh <crt>.ocsp, and the response in
                # it is for the old certificate: HAProxy refuses a response whose certificate ID does not match,
                # and the reload would fail. It goes with the deployment (ocsp_staple state=absent, after the
                # certificate), whatever the sunset opt-in: this is the sunset's HAProxy remedy too.
                if not any(entry.get("dest") == staple_path for entry in result["staple_removals"]):
                    result["staple_removals"].append(
                        {
                            "site": site.get("site"),
                            "key": key,
                            "server": server,
                            "certificate_path": configured["certificate_file"],
                            "dest": staple_path,
                            "codes": sorted(codes & (DEPLOY_CODES | SUNSET_CODES)),
                        }
                    )
                handled |= codes & SUNSET_CODES
                staple_on = False
    # Without the opt-in the sunset is listed as skipped - unless a deployment above already remedies it.
    if codes & SUNSET_CODES - handled and not context.get("sunset"):
        facts_here = facts_of(server)
        what = (
            "the staple file %s would be removed" % facts_here.staple_file_path(stapling)
            if facts_here is not None
            and facts_here.STAPLING_REMEDY == "staple_file"
            and facts_here.staple_file_path(stapling)
            else "stapling would be switched off for this site only"
        )
        skip(SUNSET_CODES, SUNSET_SKIPPED % what)
        codes = codes - SUNSET_CODES

    chain_codes = (codes & CHAIN_CODES) - handled
    if chain_codes and configured.get("certificate_file"):
        combined = _combined(server, configured)
        if combined and chain_codes - {"trusted_cert_missing"}:
            refuse(chain_codes, "the key shares the certificate file; deploy it with tlsfleet_certificates")
        else:
            rebuild = chain_codes - {"trusted_cert_missing"}
            trusted = site.get("trusted_certificate") or (configured.get("trusted") or {}).get("path")
            result["bundles"].append(
                {
                    "site": site.get("site"),
                    "key": key,
                    "server": server,
                    "certificate_path": configured["certificate_file"],
                    "fullchain_dest": configured["certificate_file"] if rebuild else None,
                    "trusted_dest": trusted if "trusted_cert_missing" in chain_codes else None,
                    "fetch_issuers": bool(fetch_issuers),
                    "codes": sorted(chain_codes),
                }
            )
            handled |= chain_codes

    # stapling_config: directives for nginx and Apache sites, staple files for HAProxy.
    facts = facts_of(server)
    remedy = facts.STAPLING_REMEDY if facts is not None else None
    sunset_due = "stapling_without_ocsp" in codes - handled - blocked
    unread = [other for other in context["siblings"] if not (other.get("configured") or {}).get("leaf")]
    if sunset_due and unread:
        # Stapling is switched per block (nginx/Apache) and a finding names a hostname, not which of the block's
        # certificates lacks the URL: a certificate not read may be one whose CA still runs OCSP.
        other = unread[0].get("configured") or {}
        refuse(
            {"stapling_without_ocsp"},
            "this block also serves %s, which was not read (%s): it may name an OCSP responder, so stapling is "
            "left as it is (fix what kept it from being read, then run again)"
            % (
                other.get("certificate_file") or unread[0].get("key"),
                "; ".join(str(e) for e in other.get("errors") or []) or "no certificate",
            ),
        )
        sunset_due = False
    # The certificates this entry's block serves after the plan (a deployed one replaces the configured leaf):
    # nginx and Apache switch stapling per block, so one that names a responder keeps it wanted.
    block_leaves = [deployed_leaf] + [
        (other.get("configured") or {}).get("leaf") or {} for other in context["siblings"]
    ]
    stapled = [other for other in block_leaves if isinstance(other, dict) and other.get("ocsp_urls")]
    per_block = remedy == "directives"
    if deployed_leaf.get("must_staple") and not deployed_leaf.get("ocsp_urls") and "must_staple_unmet" in codes:
        # No responder to fetch from: no configuration makes this certificate's staple (docs/remediation.md).
        refuse({"must_staple_unmet"}, "the certificate requires a staple but names no OCSP responder: reissue it")
    if deployed_leaf is not leaf and not deployed_leaf.get("ocsp_urls") and not (per_block and (stapled or unread)):
        # The certificate deployed above names no responder: there is nothing to staple for it, so stapling that
        # is off or a staple file to refresh no longer needs a change (the verification expects no staple).
        moot = codes & ({"stapling_disabled", "stapling_unsupported"} | STAPLE_FILE_REFRESH)
        if not deployed_leaf.get("must_staple"):
            moot |= codes & {"must_staple_unmet"}
        handled |= moot
        codes = codes - moot
    if remedy == "directives" and path:
        entry = {"site": site.get("site"), "key": key, "server": server, "path": path, "line": line, "codes": []}
        if sunset_due and stapled:
            # A finding names a site and hostname, not which of the block's certificates lacks the URL; the
            # directive is per block, so "off" would stop stapling for a certificate whose CA still runs OCSP.
            refuse(
                {"stapling_without_ocsp"},
                "stapling is switched per server block, and this block also serves %s, which names an OCSP "
                "responder: switching it off would stop its staple (serve the certificate without an OCSP URL "
                "from a block of its own)" % (stapled[0].get("subject") or stapled[0].get("sha256")),
            )
        elif sunset_due and facts.staple_file_path(stapling):
            # A static staple the configuration names: switching stapling off drops a response someone maintains,
            # and removing the file alone would stop the server loading its configuration.
            refuse(
                {"stapling_without_ocsp"},
                "the site staples the static file %s: remove that directive and the file yourself once nothing "
                "maintains it" % facts.staple_file_path(stapling),
            )
        elif sunset_due and not deployed_leaf.get("must_staple"):
            # This site's certificate only: every other site keeps its stapling (never switched off wholesale).
            entry["stapling"] = "off"
            staple_on = False
            entry["codes"].append("stapling_without_ocsp")
        elif codes & STAPLING_ON and stapled:
            entry["stapling"] = "on"
            staple_on = True
            entry["codes"].extend(sorted(codes & STAPLING_ON))
        if facts.TAKES_RESOLVER and "resolver_missing" in codes:
            if resolvers:
                entry["resolver"] = list(resolvers)
                entry["codes"].append("resolver_missing")
            else:
                refuse({"resolver_missing"}, "no nameserver is known for the node (set tlsfleet_nginx_resolver)")
        if "resolver_failing" in codes:
            # Replace the resolver only with nameservers that are not the ones that fail to answer.
            failing = {str(c.get("server")) for c in site.get("resolver_checks") or [] if isinstance(c, dict)}
            usable = [r for r in resolvers or [] if str(r).strip("[]") not in failing]
            if facts.TAKES_RESOLVER and usable:
                entry["resolver"] = usable
                entry["codes"].append("resolver_failing")
            else:
                refuse(
                    {"resolver_failing"},
                    "no other nameserver is known for the node (set tlsfleet_nginx_resolver to one that resolves "
                    "the responder)",
                )
        if facts.NEEDS_STAPLING_CACHE and "stapling_cache_missing" in codes:
            entry.update(cache=apache_cache, cache_file=apache_cache_file)
            entry["codes"].append("stapling_cache_missing")
        if entry["codes"]:
            entry.setdefault("stapling", "on" if _stapling_on(server, stapling) else "off")
            result["stapling"].append(entry)
            handled |= set(entry["codes"])
    elif remedy == "staple_file":
        if sunset_due:
            staple_on = _plan_staple_sunset(result, key, site, refuse, handled, deployed_leaf)
        needs = codes & ({"stapling_unsupported", "stapling_disabled"} | STAPLE_FILE_REFRESH)
        staple_path = facts.staple_file_path(stapling)
        planned = [f for f in result["staple_files"] if f.get("dest") == staple_path]
        if needs and planned and deployed_leaf.get("ocsp_urls"):
            # The deployment above already fetches this file for the new certificate: one fetch, all its codes.
            planned[0]["codes"] = sorted(set(planned[0].get("codes") or []) | needs)
            planned[0]["force"] = planned[0].get("force") or bool(codes & {"staple_invalid", "staple_expired"})
            staple_on = True
            handled |= needs
        elif needs and deployed_leaf.get("ocsp_urls") and staple_path and configured.get("certificate_file"):
            result["staple_files"].append(
                {
                    "site": site.get("site"),
                    "key": key,
                    "server": server,
                    "certificate_path": configured["certificate_file"],
                    "dest": staple_path,
                    "issuer_path": facts.staple_issuer_path(stapling),
                    "force": bool(codes & {"staple_invalid", "staple_expired"}),
                    "codes": sorted(needs),
                }
            )
            staple_on = True
            handled |= needs

    if codes & RELOAD_CODES - blocked:
        handled |= codes & RELOAD_CODES  # the reload itself is the remedy (a fresh fetch, the current files)
        if server:
            result["reload_always"].append(server)
    if "must_staple_unmet" in codes - blocked and (staple_on or handled - {"must_staple_unmet"}):
        handled.add("must_staple_unmet")

    leftover = codes - handled - blocked
    if leftover:
        refuse(leftover, "no configuration change is known for it on %s" % (server or "this server"))
    if not handled:
        return

    result["codes"].extend(sorted(handled))
    wants = bool(deployed_leaf.get("ocsp_urls")) and (
        staple_on if staple_on is not None else _stapling_on(server, stapling)
    )
    result["verify"].append(
        {
            "site": site.get("site"),
            "key": key,
            "server": server,
            "port": (site.get("endpoint") or {}).get("port") or 443,
            "host": (site.get("endpoint") or {}).get("host") or "127.0.0.1",
            "hostnames": list(site.get("hostnames") or []),
            "leaf_sha256": expect_leaf,
            # A blocking finding (responder unreachable, revoked, ...) keeps the staple from being good whatever
            # is changed here: then only the certificate is verified.
            "staple": "any" if codes & BLOCKING else ("good" if wants else "none"),
        }
    )


def _stapling_on(server, stapling) -> bool:
    facts = facts_of(server)
    return facts is not None and facts.stapling_enabled(stapling)


def _plan_staple_sunset(result, key, site, refuse, handled, served_leaf):
    """HAProxy, ``stapling_without_ocsp`` with the sunset opt-in: remove this certificate's ``.ocsp`` file (and only
    its own). ``served_leaf`` is the certificate the entry serves after the plan (a deployed one, or the configured
    leaf): one that names a responder keeps its file. A certificate HAProxy fetches for itself (``ocsp-update on``)
    needs its line edited, which is not automated: refused, naming the line. A file the plan also refreshes is
    never removed. Returns the staple the site should serve afterwards (False: none), or None when nothing is
    planned."""
    server = site.get("server")
    stapling = site.get("stapling") or {}
    configured = site.get("configured") or {}
    facts = facts_of(server)
    staple_file = configured.get("staple_file") or {}
    path = facts.staple_file_path(stapling)
    if stapling.get("ocsp_update") == "on":
        certificate = configured.get("certificate_file") or stapling.get("crt") or "the certificate"
        where = "%s, from %s" % (
            stapling.get("source") or site.get("source") or "-",
            stapling.get("ocsp_update_source"),
        )
        refuse(
            {"stapling_without_ocsp"},
            "%s has ocsp-update on (%s): to stop stapling it, write ocsp-update off on that line for this "
            "certificate only, then test and reload; editing it is not automated yet" % (certificate, where),
        )
        return None
    if served_leaf.get("ocsp_urls"):
        refuse(
            {"stapling_without_ocsp"},
            "%s names the OCSP responder %s: its staple file %s is kept (the finding names the hostname, not which "
            "certificate of the section lacks the URL)"
            % (configured.get("certificate_file") or key, served_leaf["ocsp_urls"][0], path),
        )
        return None
    if any(entry.get("dest") == path for entry in result["staple_files"]):
        refuse({"stapling_without_ocsp"}, "the plan refreshes %s: it is not removed as well" % path)
        return None
    exists = staple_file.get("exists") if staple_file else stapling.get("ocsp_exists")
    if not path or not exists or not configured.get("certificate_file"):
        refuse(
            {"stapling_without_ocsp"},
            "no staple file of this certificate to remove (%s)" % (path or "none configured"),
        )
        return None
    result["staple_removals"].append(
        {
            "site": site.get("site"),
            "key": key,
            "server": server,
            "certificate_path": configured["certificate_file"],
            "dest": path,
            "codes": ["stapling_without_ocsp"],
        }
    )
    handled.add("stapling_without_ocsp")
    return False


def _staple_file_exists(configured, stapling) -> bool:
    staple_file = configured.get("staple_file") or {}
    return bool(staple_file.get("exists") if staple_file else stapling.get("ocsp_exists"))


def _unfixable(result: dict, item: dict, reason: str) -> None:
    _listed(result, "unfixable", item, reason)


def _listed(result: dict, where: str, item: dict, reason: str) -> None:
    entry = {
        "code": item.get("code"),
        "site": item.get("site"),
        "hostname": item.get("hostname"),
        "severity": item.get("severity"),
        "reason": reason,
    }
    if entry not in result[where]:
        result[where].append(copy.deepcopy(entry))


# --------------------------------------------------------------------------------------------------------------
# Verification after a reload (tls_reload)


def verify_endpoints(verify) -> list:
    """tls_endpoint_info endpoints for the plan's ``verify`` entries: each hostname at the site's address."""
    endpoints = []
    for entry in verify or []:
        for name in entry.get("hostnames") or []:
            endpoints.append(
                {"host": entry.get("host") or "127.0.0.1", "port": entry.get("port") or 443, "server_name": name}
            )
    return endpoints


def verification_problems(probed, verify) -> list:
    """What a hostname serves that it should not, one sentence each; empty when every expectation holds.

    ``probed`` is tls_endpoint_info's ``endpoints`` (in the order of ``verify_endpoints``); ``verify`` the plan's
    entries, each with the expected leaf fingerprint and staple (good, none, or any).
    """
    by_name = {}
    for result in probed or []:
        if isinstance(result, dict):
            by_name[(result.get("port"), result.get("server_name"))] = result
    problems = []
    for entry in verify or []:
        for name in entry.get("hostnames") or []:
            result = by_name.get((entry.get("port") or 443, name))
            where = "%s:%s (SNI %s)" % (entry.get("host") or "127.0.0.1", entry.get("port") or 443, name)
            if result is None or not result.get("reachable"):
                problems.append("%s does not answer a TLS handshake" % where)
                continue
            leaf = result.get("leaf_sha256")
            if entry.get("leaf_sha256") and leaf != entry["leaf_sha256"]:
                problems.append(
                    "%s serves the certificate sha256 %s, not the deployed %s" % (where, leaf, entry["leaf_sha256"])
                )
            state = (result.get("summary") or {}).get("staple_state")
            wanted = entry.get("staple") or "any"
            if wanted not in ("any", state):
                problems.append("%s serves staple '%s', expected '%s'" % (where, state, wanted))
    return problems


# Control, format (bidirectional overrides, zero-width), surrogate and private-use characters: a path holding one
# would print as something else in the restore's output.
_NOT_PRINTED = ("Cc", "Cf", "Cs", "Co")


def _path_problem(value, what: str, of: str = "") -> str:
    """Why ``value`` (a path a node reported) is not one a restore may act on; empty when it is.

    The restore copies and removes what a node's own module results named: a node that lies or misbehaves must not
    make it act outside the paths its results name. An absolute path other than / with no ``..`` part and no
    control character (``//``, ``/./`` and a trailing ``/`` are harmless: ``_clean`` drops them).
    """
    if not isinstance(value, str) or not value:
        return "%s %s%s is not a path" % (what, _shown(value), of)
    if not value.startswith("/") or ".." in value.split("/") or _clean(value) == "/":
        return "%s %s%s is not an absolute file path (not /, no '..')" % (what, _shown(value), of)
    if any(unicodedata.category(char) in _NOT_PRINTED for char in value):
        return "%s %s%s holds control characters" % (what, _shown(value), of)
    return ""


def _clean(path: str) -> str:
    """An absolute path without ``//``, ``/./`` or a trailing ``/`` (normpath keeps a leading ``//``)."""
    return "/" + posixpath.normpath(path).lstrip("/")


def _shown(value) -> str:
    """A reported value as the message names it: quoted, control characters escaped, bounded."""
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def backup_problem(entry) -> str:
    """Why a ``tlsfleet_changes`` entry's ``backup`` may not be copied back over its ``path``; empty when it may.

    The backup must be a path as ``_path_problem`` wants, named as Ansible names a backup
    (``<file>.<pid>.<date>@<time>~``): a node that reports /etc/shadow, or a relative path, as the backup of its
    certificate does not get it copied anywhere.
    """
    if not isinstance(entry, dict):
        return "%s is not a file record" % _shown(entry)
    problem = _path_problem(entry.get("path"), "the changed file")
    if problem:
        return problem
    problem = _path_problem(entry.get("backup"), "the backup", " of %s" % _shown(entry["path"]))
    if not problem and not file_io.is_backup_name(posixpath.basename(_clean(entry["backup"]))):
        problem = "the backup %s of %s is not named as a backup (<file>.<pid>.<date>@<time>~)" % (
            _shown(entry["backup"]),
            _shown(entry["path"]),
        )
    return problem


def restore_plan(changes) -> dict:
    """What the restore does with ``changes``: ``from_backup`` ``[{path, backup}]`` to copy back (the newest change
    first), ``created`` paths to remove, and ``refused``, one sentence for each entry it will not act on.

    ``changes`` holds what the nodes' module results reported (``changed_files``): data, never orders. An entry
    whose path or backup is implausible (``backup_problem``) is refused, never acted on, and the restore fails
    naming it.
    """
    plan = {"from_backup": [], "created": [], "refused": []}
    created = set()
    for entry in reversed(list(changes or [])):
        if isinstance(entry, dict) and entry.get("backup"):
            problem = backup_problem(entry)
            if problem:
                plan["refused"].append(problem)
            else:
                plan["from_backup"].append({"path": _clean(entry["path"]), "backup": _clean(entry["backup"])})
        elif isinstance(entry, dict) and entry.get("created"):
            problem = _path_problem(entry.get("path"), "the created file")
            if problem:
                plan["refused"].append(problem)
            elif _clean(entry["path"]) not in created:
                created.add(_clean(entry["path"]))
                plan["created"].append(_clean(entry["path"]))
        elif not isinstance(entry, dict):
            plan["refused"].append("%s is not a file record" % _shown(entry))
    plan["created"].reverse()
    return plan


def stashed_backups(changes, backup_dir) -> list:
    """``changes`` (from changed_files) with every backup that lies beside its file moved under ``backup_dir``.

    Ansible writes a backup next to the file (``<file>.<pid>.<time>~``), where a server can load it: a HAProxy
    ``crt`` directory loads every file in it (the old certificate and key among them), nginx ``include
    sites-enabled/*`` every site. The new place mirrors the backup's absolute path under ``backup_dir``. An entry
    to move gets ``stashed_from`` (where the backup is now); entries already under ``backup_dir`` are returned
    without it, so a second call moves nothing.
    """
    directory = posixpath.normpath(str(backup_dir or "")) if backup_dir else ""
    if not directory:
        return list(changes or [])
    if not directory.startswith("/"):
        raise ValueError("the backup directory must be an absolute path, not %r" % backup_dir)
    prefix = directory.rstrip("/") + "/"
    out = []
    for given in changes or []:
        if not isinstance(given, dict):  # not a file record: the restore refuses it (restore_plan)
            out.append(given)
            continue
        entry = dict(given)
        entry.pop("stashed_from", None)  # moved by an earlier call: nothing to move now
        backup = entry.get("backup")
        if backup and not backup_problem(entry):  # an implausible one stays where it is said to be: never restored
            # Normalised first ("." and "//"; backup_problem refused ".."): the new place stays under the directory.
            where = posixpath.normpath("/" + str(backup).lstrip("/"))
            if not where.startswith(prefix):
                entry["stashed_from"] = str(backup)
                where = posixpath.normpath(prefix + where.lstrip("/"))
                if not where.startswith(prefix):  # cannot happen after normpath of an absolute path; kept as a guard
                    raise ValueError("the backup %r would leave the backup directory %s" % (backup, directory))
            entry["backup"] = where
        out.append(entry)
    return out


def changed_files(results, existed=None) -> list:
    """``[{path, backup, created}]`` for every file the given task results replaced or created.

    Takes loop results or single results of site_stapling, ocsp_staple, certificate_bundle and
    ansible.builtin.copy. A file is recorded with its ``backup`` when one was made (restore it from there), or as
    ``created`` when it did not exist before (remove it) - never otherwise: a change of mode or owner alone is
    not undone by deleting the file. ``existed`` (path -> bool, from a stat before the task) says for results that
    do not tell themselves (ansible.builtin.copy). tls_reload restores from this list.
    """
    records = []
    existed = existed or {}

    def add(path, backup=None, created=False):
        if not path or not (backup or created):
            return
        entry = {"path": str(path), "backup": str(backup) if backup else None, "created": bool(created and not backup)}
        if entry not in records:
            records.append(entry)

    def flatten(value):
        if isinstance(value, dict) and isinstance(value.get("results"), list):  # a loop's registered result
            for item in value["results"]:
                yield from flatten(item)
        elif isinstance(value, dict):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from flatten(item)

    for result in flatten(results):
        if not result.get("changed") or result.get("failed"):
            continue
        files = result.get("files")
        if isinstance(files, dict):  # certificate_bundle
            for entry in files.values():
                if isinstance(entry, dict) and entry.get("content_changed", entry.get("changed")):
                    add(entry.get("path"), entry.get("backup_file"), entry.get("created"))
            continue
        if "changes" in result:  # site_stapling: the site's file, and the server-wide cache file
            add(result.get("path"), result.get("backup_file"))
            if result.get("cache_changed"):
                add(result.get("cache_file"), result.get("cache_backup_file"), result.get("cache_created"))
            continue
        if "reason" in result:  # ocsp_staple
            if result.get("written"):
                add(result.get("dest"), result.get("backup_file"), result.get("previous") is None)
            elif result.get("removed"):  # state=absent: restored from its backup
                add(result.get("dest"), result.get("backup_file"))
            continue
        path = result.get("dest") or result.get("path")  # ansible.builtin.copy
        add(path, result.get("backup_file"), existed.get(path) is False)
    return records


# --------------------------------------------------------------------------------------------------------------
# Rollout of a renewed certificate


def plan_rollout(audit: dict, certificate: dict, host: str = "", groups=None) -> dict:
    """Deploy ``certificate`` (a tlsfleet_certificates entry with ``san_dns`` and ``sha256``) to every site of the
    node it goes to (``coverage.destinations``: the sites the preflight gate judges) - when its ``hosts`` scope
    ``host`` (``in_scope``; otherwise ``refused`` says why and nothing is planned); verify each, at the hostnames it
    serves there, with the new fingerprint and a good staple (or none without an OCSP URL or with stapling off).
    ``served`` records what each site served before, for the rollout summary."""
    result = {
        "deployments": [],
        "staple_files": [],
        "reload": [],
        "verify": [],
        "served": {},
        "sites": [],
        "refused": [],
    }
    evidence = audit.get("evidence") if isinstance(audit, dict) else None
    if not isinstance(evidence, dict):
        return result
    if not in_scope(certificate, host, groups):
        result["refused"].append(scope_refusal(certificate, host))
        return result
    # The sites the certificate goes to, and the names it serves there: the sites the preflight gate judged
    # (coverage.destinations, one rule for both).
    targets = coverage.destinations(evidence, certificate.get("san_dns") or [], certificate.get("key_type"))
    for site in [_site_view(evidence, s) for s in evidence.get("sites") or [] if isinstance(s, dict)]:
        hostnames = targets.get(_site_key(site))
        if not hostnames:
            continue
        configured = site.get("configured") or {}
        if not configured.get("certificate_file"):
            continue
        key = _site_key(site)
        server = site.get("server")
        leaf = configured.get("leaf") or {}
        result["sites"].append(key)
        result["served"][key] = leaf.get("sha256")
        result["deployments"].append(
            {
                "site": site.get("site"),
                "site_key": key,
                "server": server,
                "name": certificate.get("name"),
                "certificate": certificate["certificate"],
                "key": certificate["key"],
                "chain": certificate.get("chain"),
                "sha256": certificate.get("sha256"),
                "fullchain_dest": configured["certificate_file"],
                "key_dest": configured.get("key_file") or configured["certificate_file"],
                "combined": _combined(server, configured),
                # A renewal with the same key: the certificate and chain only (a combined file needs the key).
                "deploy_key": _combined(server, configured) or not _holds_key(configured, certificate),
                "codes": [],
            }
        )
        stapling = site.get("stapling") or {}
        wants = bool(certificate.get("ocsp_urls")) and _stapling_on(server, stapling)
        staple_path = _staple_file_of_certificate(server, stapling)
        if wants and staple_path:
            # HAProxy loads <crt>.ocsp with the certificate: the old response must not outlive the old certificate.
            result["staple_files"].append(
                {
                    "site": site.get("site"),
                    "key": key,
                    "server": server,
                    "certificate_path": configured["certificate_file"],
                    "dest": staple_path,
                    "issuer_path": None,
                    "force": False,  # a response for the old certificate is invalid for the new one: replaced
                    "codes": [],
                }
            )
        result["verify"].append(
            {
                "site": site.get("site"),
                "key": key,
                "server": server,
                "port": (site.get("endpoint") or {}).get("port") or 443,
                "host": (site.get("endpoint") or {}).get("host") or "127.0.0.1",
                "hostnames": hostnames,
                "leaf_sha256": certificate.get("sha256"),
                "staple": "good" if wants else "none",
            }
        )
    result["reload"] = sorted({entry["server"] for entry in result["verify"] if entry["server"]})
    return result


def rollout_makes(change: dict, server) -> bool:
    """Whether ``plan_rollout`` itself makes a preflight change (docs/preflight.md) on a site of ``server``: it
    deploys the candidate's key when the node's differs, and rewrites a staple file the server loads together with
    the certificate (HAProxy's ``<crt>.ocsp``). Any other change must be made before the rollout."""
    action = change.get("action") if isinstance(change, dict) else None
    if action == "deploy_key":
        return True
    facts = facts_of(server)
    return action == "refresh_staple_file" and facts is not None and bool(facts.STAPLE_FILE_FOLLOWS_CERTIFICATE)


def rollout_order(hosts, hostvars, canary=None, batch_size=0) -> dict:
    """The rollout order and ``serial`` batch sizes: the canary alone, then region by region (sorted by region,
    then host), each region split into batches of ``batch_size`` when that is positive."""
    hosts = [str(host) for host in hosts or []]
    if not hosts:
        return {"order": [], "batches": [1], "groups": {}}
    canary = str(canary) if canary else hosts[0]
    if canary not in hosts:
        raise ValueError("the canary %s is not among the hosts of the rollout" % canary)

    def region(host):
        own = hostvars.get(host) if hasattr(hostvars, "get") else None
        value = own.get("tlsfleet_region") if own is not None else None
        return str(value or "default")

    rest = sorted((h for h in hosts if h != canary), key=lambda h: (region(h), h))
    order, batches, groups = [canary], [1], {canary: "tlsfleet_rollout_batch_000"}
    for name in sorted({region(h) for h in rest}):
        members = [h for h in rest if region(h) == name]
        size = int(batch_size or 0) or len(members)
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            order.extend(chunk)
            groups.update({host: "tlsfleet_rollout_batch_%03d" % len(batches) for host in chunk})
            batches.append(len(chunk))
    return {"order": order, "batches": batches, "groups": groups}


def rollout_summary(hosts, hostvars, certificate_sha256=None, check_mode=False) -> dict:
    """Which node serves which fingerprint after the rollout, from the facts the rollout play set.

    In check mode nothing was deployed: a node that went through is ``planned`` and keeps its fingerprints.
    """
    nodes = {}
    for host in hosts or []:
        own = hostvars.get(host) or {}
        plan_ = own.get("tlsfleet_plan") or {}
        refused = [str(reason) for reason in plan_.get("refused") or []]
        if not plan_:
            status = "untouched"
        elif refused and not plan_.get("deployments"):
            status = "refused"
        elif own.get("tlsfleet_rollout_restored"):
            status = "restored"
        elif own.get("tlsfleet_rollout_ok"):
            status = "planned" if check_mode else "verified"
        else:
            status = "failed"
        served = dict(plan_.get("served") or {})
        if status == "verified":
            served = {site: certificate_sha256 for site in served}
        nodes[str(host)] = {
            "status": status,
            "region": str(own.get("tlsfleet_region") or "default"),
            "sites": served,
            "problems": []
            if status in ("verified", "planned", "refused")
            else list(own.get("tlsfleet_verify_problems") or []),
            "refused": refused,
        }
    counts = {}
    for entry in nodes.values():
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    return {"certificate_sha256": certificate_sha256, "counts": counts, "nodes": nodes}
