#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: node_audit
short_description: Audit OCSP stapling on a node and name the cause of every failure, in one call
version_added: 0.1.0
description:
  - The one task per node that the C(diagnose) role runs. In a single module call (one SSH round trip) it
    discovers nginx, Apache httpd and HAProxy on the node through their own dump commands, reads the certificate,
    key, chain, trusted and staple files each site references, handshakes to every site and hostname asking for a
    staple (TLS 1.3 and TLS 1.2, warming up servers that fetch lazily), probes each distinct OCSP responder from
    the node (asking again about each certificate whose own status the diagnosis needs), asks an nginx
    C(resolver) for the responder's name, and reads the servers' error logs since O(since).
  - It then names the cause per server, site and hostname, each with evidence and a remedy, using the codes of
    the cause catalogue
    (L(docs/causes.md,https://github.com/tlsfleet/stapling/blob/main/docs/causes.md) says what each code means
    and what fixes it). The diagnosis reports the root cause, not every symptom; C(staple_missing) is kept for a
    missing staple that nothing else explains. A server that is down
    (C(server_down)), a configuration that fails its own test (C(config_test_failed)) and a node with no TLS site
    at all (C(no_tls_site)) are always findings.
  - Where OCSP is gone, it checks revocation from the CRL. For a certificate without an OCSP URL (and for one
    whose every responder probe failed) it downloads each http CRL distribution point from the node, through the
    same stages as the responder probe (DNS, TCP, HTTP, proxy; O(responder_timeout), at most O(crl_max_bytes)),
    checks that the CRL is the issuer's (name and signature) and current (thisUpdate, nextUpdate, O(clock_skew)),
    and looks the serial up (RV(evidence.crls), each CRL once per node; C(cert_revoked) with source CRL,
    C(crl_unreachable), C(crl_stale), C(crl_invalid)).
  - Handshakes and responder probes run concurrently, each bounded by its own timeout, so an unreachable responder
    costs about O(responder_timeout) once per node, not once per site. The whole audit is bounded by
    O(time_budget).
  - Files named by the servers' configuration are read only when they are regular files; a FIFO, socket or device
    (such as V(/dev/zero)) is reported as an error of its site, never read or waited on.
  - Never changes anything. Private keys are read only to check that they match their certificate; no key
    material appears in the result.
  - With O(preflight), it also judges a candidate certificate against what it found, per site the candidate
    covers (RV(preflight)), checking the key match, the chain a standard deployment sends, the trusted or issuer
    file, the OCSP URL against the stapling configuration, static staple files, the responder the server would ask
    about the candidate (one the configuration forces, else the candidate's own) asked from this node, Must-Staple
    and the validity window.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.attributes.responder_group
  - tlsfleet.stapling.attributes.info_module
  - tlsfleet.stapling.discovery
  - tlsfleet.stapling.requirements.pyopenssl
  - tlsfleet.stapling.options.clock_skew
  - tlsfleet.stapling.options.preflight
  - tlsfleet.stapling.options.proxy
  - tlsfleet.stapling.options.trust_anchors
  - tlsfleet.stapling.options.warmup
  - tlsfleet.stapling.code_cache
options:
  extra_endpoints:
    description:
      - Further endpoints to handshake with, for example a port the
        discovery cannot see. They are judged, not diagnosed; they appear under C(extra_endpoints) in RV(evidence).
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: Address to connect to.
        type: str
        default: 127.0.0.1
      port:
        description: TCP port.
        type: int
        default: 443
      server_name:
        description: SNI name.
        type: str
  handshake_timeout:
    description: Seconds one TLS handshake may take.
    type: float
    default: 5.0
  responder_timeout:
    description: Seconds one responder probe may take in all.
    type: float
    default: 5.0
  crl_check:
    description:
      - Whether to download and check the CRL of a certificate without an OCSP URL (or whose responders all fail).
      - V(false) skips it; the C(crl_*) findings and a revocation found only in a CRL are then not reported.
    type: bool
    default: true
  crl_max_bytes:
    description:
      - The largest CRL, in bytes, the node downloads and reads. A larger one is not read (C(crl_invalid)).
    type: int
    default: 10485760
  time_budget:
    description:
      - Seconds the whole audit may take. Once they are spent, no new server command, file read, handshake,
        responder probe or log read starts, work in flight is no longer waited for, and what was gathered is
        diagnosed; one sentence in C(errors) of RV(evidence) names what was cut short.
      - Work already running ends by its own timeout (O(handshake_timeout), O(responder_timeout), or 30 seconds
        for a server command), so the module returns within about the budget plus one of those.
      - The default leaves room for what the defaults of the other options take on a typical node (handshakes
        with their warm-ups, two rounds of responder probes, the server commands and the log reading).
      - V(0) sets no limit.
    type: float
    default: 120.0
  staple_warning_seconds:
    description: A good staple whose nextUpdate is closer than this is reported as C(staple_expiring).
    type: int
    default: 1800
  cert_warning_days:
    description: A certificate that expires sooner than this is reported as C(cert_expiring).
    type: int
    default: 21
  max_workers:
    description: How many handshakes and probes run at the same time.
    type: int
    default: 16
  responder_certificate_limit:
    description:
      - A responder's answer is about one certificate. When several certificates share a responder URL, each
        certificate whose diagnosis depends on its own status is asked about again; at most this many such extra
        probes run per node. Beyond it, a missing staple says that the certificate's status was not asked.
    type: int
    default: 32
  no_site_severity:
    description: Severity of the C(no_tls_site) finding, reported when discovery finds no TLS site on the node.
    type: str
    choices: [info, warning, error, critical]
    default: warning
  evidence:
    description:
      - How much of what was gathered RV(evidence) carries.
      - V(compact) carries what the report, the drift check and the remediation planner read, with every
        certificate described once (RV(evidence.certificates)) and the protocols that were served the same chain
        and staple sharing one verdict. A node with 200 hostnames returns well under 1 MB.
      - V(full) adds the per-handshake detail (requested and negotiated protocol, cipher, staple and chain sizes,
        milliseconds), where each hostname was probed, the chain verdicts' paths and sentences, the staple verdicts
        in full, the stat of every file a site references, the servers' configuration file stats and test output,
        the responder probes' timings and every stapling-related log line read.
      - The findings are the same either way.
    type: str
    choices: [compact, full]
    default: compact
notes:
  - Run it as root (C(become)) so that it can read key files and run the servers' dump commands.
  - Hostnames come from the sites' C(server_name) / C(ServerName) / C(ServerAlias); for HAProxy, from the DNS names
    of each bound certificate. Wildcard names are not probed.
  - The options are read on the controller first, the way an AWX survey passes them, before anything is sent to the
    node. An empty answer (C("") or null) for O(servers), O(since), O(extra_endpoints), O(trust_anchor_paths),
    O(handshake_timeout), O(responder_timeout), O(proxy), O(use_proxy), O(staple_warning_seconds),
    O(cert_warning_days), O(crl_check), O(crl_max_bytes) or O(evidence) means the option's default. Text is read as
    the option's type (C("5"), C("yes"), a comma-separated list). A wrong value fails the task for that host only,
    naming the option, or its C(tlsfleet_audit_<option>) variable when the value came from there (next note); every
    wrong value is named at once.
  - Each of these options that the task does not set (and no module default sets) is taken from the variable
    C(tlsfleet_audit_<option>) when the host has it (from the inventory, the play or extra vars), for example
    C(tlsfleet_audit_handshake_timeout). These are the variables of the diagnose role and of the rollout and
    preflight playbooks, which an AWX survey fills; the playbooks' node_audit tasks name no option, so the
    variables are read in one place. They apply to your own node_audit tasks too, and a variable that renders to
    C(omit) is not set.
seealso:
  - name: The cause catalogue
    description: Every finding code, its severity, what it means, the evidence behind it and the fix.
    link: https://github.com/tlsfleet/stapling/blob/main/docs/causes.md
  - module: tlsfleet.stapling.tls_endpoint_info
  - module: tlsfleet.stapling.ocsp_responder_check
  - module: tlsfleet.stapling.ocsp_response_info
"""

EXAMPLES = r"""
---
- name: Audit stapling on every web node
  tlsfleet.stapling.node_audit:
  become: true
  register: audit

- name: Show what is broken, per hostname
  ansible.builtin.debug:
    msg: "{{ audit.findings | map(attribute='hostname') | zip(audit.findings | map(attribute='code')) | list }}"

- name: Audit with a private root and a shorter responder timeout
  tlsfleet.stapling.node_audit:
    trust_anchor_paths: [/etc/pki/private-root.pem]
    responder_timeout: 3
    since: "2026-11-23T00:00:00Z"
  become: true
"""

RETURN = r"""
findings:
  description: What is wrong, one entry per cause, server, site and hostname.
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description: The cause code from the catalogue.
      type: str
      sample: responder_unreachable
    severity:
      description: V(critical), V(error), V(warning) or V(info).
      type: str
    server:
      description: V(nginx), V(apache) or V(haproxy).
      type: str
    site:
      description: The site, as server type, file and line of its block.
      type: str
      sample: nginx:/etc/nginx/sites-enabled/shop.conf:1
    hostname:
      description: The hostname the finding is about.
      type: str
    evidence:
      description: What was observed, one line each; log lines carry their file and line number.
      type: list
      elements: str
    remediation:
      description: What fixes it.
      type: str
    fixed_by:
      description: The role of this collection that applies the fix, or V(null) when configuration cannot fix it.
      type: str
    details:
      description: Machine-readable details, present only for the codes that have them (empty otherwise).
      type: dict
      contains:
        stage:
          description: For responder findings, the failing stage of the probe (V(dns), V(connect), V(http), ...).
          type: str
        served_sha256:
          description: For C(stale_cert_path), the fingerprint of the certificate the server serves.
          type: str
        configured_sha256:
          description: For C(stale_cert_path), the fingerprint of the certificate file on disk.
          type: str
summary:
  description: Counts by code and severity, the worst severity, and how many sites and hostnames were audited.
  returned: always
  type: dict
  contains:
    findings:
      description: How many findings.
      type: int
    by_code:
      description: Finding counts keyed by cause code (the keys are data, so none is listed).
      type: dict
      sample: {"responder_unreachable": 2}
      contains: {}
    by_severity:
      description: Finding counts keyed by severity (the keys are data, so none is listed).
      type: dict
      sample: {"error": 2}
      contains: {}
    worst_severity:
      description: The worst severity found, or V(null).
      type: str
    servers:
      description: The server types found.
      type: list
      elements: str
    sites:
      description: How many TLS sites were audited.
      type: int
    hostnames:
      description: How many (site, hostname) pairs were audited.
      type: int
preflight:
  description:
    - With O(preflight), one verdict per site (per certificate of a site) whose hostnames the candidate's names
      cover (RFC 6125 wildcards, left-most label only); empty otherwise, and then RV(preflight_summary) tells a
      candidate that applies to no site here (V(not_applicable)) from no O(preflight) at all (V(null)).
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The site and the index of its certificate, as in RV(evidence.sites[].key).
      type: str
    site:
      description: The site's C(site_id).
      type: str
    server:
      description: V(nginx), V(apache) or V(haproxy).
      type: str
    hostnames:
      description: The site's names the candidate covers.
      type: list
      elements: str
    verdict:
      description:
        - V(ready), V(ready_after_change) (C(changes) names what to change first) or V(will_break)
          (C(reasons) says why).
      type: str
      choices: [ready, ready_after_change, will_break]
    reasons:
      description: Why the site would break, one sentence per failed check, prefixed by the check's name.
      type: list
      elements: str
    warnings:
      description: What works but deserves attention, one sentence each.
      type: list
      elements: str
    changes:
      description: The changes that make the site ready, as remediation would make them.
      type: list
      elements: dict
      contains:
        by:
          description: The role that makes the change (V(cert_deploy) or V(stapling_config)).
          type: str
        action:
          description: >-
            What it does (V(deploy_key), V(add_trusted), V(replace_issuer_file), V(replace_chain_file),
            V(refresh_staple_file), V(remove_staple_file), V(enable_stapling)).
          type: str
        path:
          description: The file the change touches.
          type: str
        text:
          description: The change in one sentence.
          type: str
    checks:
      description: Every check with its status and what was observed.
      type: list
      elements: dict
      contains:
        name:
          description: >-
            V(validity), V(key_match), V(chain), V(issuer_file), V(ocsp_url), V(staple_file), V(responder)
            or V(must_staple).
          type: str
        status:
          description: V(ok), V(warning), V(change) or V(fail).
          type: str
        evidence:
          description: What was observed, one sentence each.
          type: list
          elements: str
        changes:
          description: For V(change), the changes, each shaped as an entry of the site's C(changes).
          type: list
          elements: dict
          contains: {}
preflight_summary:
  description:
    - With O(preflight), this node's answer in one place; V(null) without O(preflight).
    - An empty RV(preflight) does not mean that nothing breaks; it means that the candidate applies to no site of
      this node, and RV(preflight_summary.verdict) says so with V(not_applicable).
  returned: always
  type: dict
  contains:
    verdict:
      description:
        - V(not_applicable) when the candidate's names cover no site of this node (nothing was judged), else the
          worst verdict of RV(preflight) (V(ready), V(ready_after_change) or V(will_break)).
      type: str
      choices: [not_applicable, ready, ready_after_change, will_break]
    sites:
      description: How many sites (certificates of sites) were judged.
      type: int
    msg:
      description: The answer in one sentence.
      type: str
evidence:
  description:
    - Everything gathered, for reports and for people who want to see for themselves, in the shape described by
      docs/evidence-schema.json in the collection (version 2). Every certificate is described once, in
      C(certificates), and named by its SHA-256 fingerprint everywhere else.
    - O(evidence) chooses how much per-handshake detail it carries; the default V(compact) carries what the report,
      the drift check and the remediation planner need.
  returned: always
  type: dict
  contains:
    version:
      description: The version of this shape; changes whenever the shape does.
      type: int
      sample: 2
    detail:
      description: V(compact) or V(full), as O(evidence) asked.
      type: str
    node:
      description: C(hostname) and C(checked_at) (ISO 8601 UTC) of the audit.
      type: dict
      contains:
        hostname:
          description: The node's hostname.
          type: str
        checked_at:
          description: When the audit ran.
          type: str
    certificates:
      description:
        - Every certificate seen on the node (configured, presented, on a chain's path), keyed by its SHA-256
          fingerprint (the keys are data, so none is listed); each value describes the certificate as
          M(tlsfleet.stapling.tls_endpoint_info) does in RV(tlsfleet.stapling.tls_endpoint_info#module:endpoints)
          (C(subject), C(issuer), C(serial), C(sha256), C(not_before), C(not_after), C(san_dns), C(ocsp_urls),
          C(must_staple), C(short_lived), C(public_key_sha256), ...).
      type: dict
      contains: {}
    servers:
      description:
        - Per server type found, what M(tlsfleet.stapling.tls_server_info) returns in
          RV(tlsfleet.stapling.tls_server_info#module:servers).
      type: list
      elements: dict
      contains:
        type:
          description: V(nginx), V(apache) or V(haproxy).
          type: str
        running:
          description: Whether a master process runs.
          type: bool
        sites:
          description: The server's TLS sites, as M(tlsfleet.stapling.tls_server_info) describes them.
          type: list
          elements: dict
          contains:
            site_id:
              description: C(<type>:<file>:<line>) of the site's block.
              type: str
    sites:
      description: Per site and certificate, the configured files and, per hostname, what was served.
      type: list
      elements: dict
      contains:
        key:
          description: The site and the index of its certificate (C(<site_id>#<n>)).
          type: str
        site:
          description: The site's C(site_id).
          type: str
        server:
          description: V(nginx), V(apache) or V(haproxy).
          type: str
        hostnames:
          description: The hostnames audited on the site.
          type: list
          elements: str
        endpoint:
          description: Where the node connected to for the site's handshakes.
          type: dict
          contains:
            host:
              description: The address.
              type: str
            port:
              description: The port.
              type: int
        stapling:
          description: The server's stapling settings for the site, as M(tlsfleet.stapling.tls_server_info) reports
            them.
          type: dict
          contains: {}
        configured:
          description: The files the site's configuration names, as read on the node (never any key material).
          type: dict
          contains:
            certificate_file:
              description: The certificate file, or V(null) when the server loads it through variables.
              type: str
            key_file:
              description: The key file.
              type: str
            leaf:
              description: Fingerprint of the certificate the file holds (its record is in RV(evidence.certificates)).
              type: str
            chain:
              description:
                - The chain the configuration gives the server, judged as in
                  RV(tlsfleet.stapling.tls_endpoint_info#module:endpoints[].protocols.chain), with every certificate
                  (C(leaf), C(issuer), C(path), C(extra), C(duplicates)) named by fingerprint.
              type: dict
              contains: {}
            key_matches:
              description: Whether the key file holds the certificate's key (V(null) when not read).
              type: bool
            trusted:
              description: The trusted certificate file (C(path), C(has_issuer), C(anchors_issuer), C(error)).
              type: dict
              contains: {}
            staple_file:
              description:
                - A staple the server reads from disk (C(path), C(exists), C(mtime), C(error)) and its C(verdict),
                  as M(tlsfleet.stapling.ocsp_response_info) judges a response.
              type: dict
              contains: {}
            errors:
              description: What could not be read, one sentence each.
              type: list
              elements: str
        served:
          description:
            - Keyed by hostname (the keys are data, so no fixed keys are listed); what the node was served when it
              handshaked to the site with that name.
            - Each value has C(reachable), C(leaf_sha256), C(summary) (C(staple_state), per protocol
              C(staple_states), C(seconds_left)), C(protocols) (per protocol key such as C(tls1_3), C(ok),
              C(error), C(error_stage), C(staple_present), C(handshakes_made) and C(verdict), the index of its
              verdict) and C(verdicts) (each with the C(protocols) that share it, the C(presented) fingerprints,
              leaf first, the C(chain) verdict, the C(staple) verdict, C(chain_error) and C(staple_error)).
          type: dict
          contains: {}
        resolver_checks:
          description: The server's own resolver asked for the responder's name, one entry per address and name.
          type: list
          elements: dict
          contains:
            name:
              description: The name asked for.
              type: str
            outcome:
              description: V(ok), V(timeout), V(nxdomain), V(servfail), V(refused), V(unreachable) or V(no_address).
              type: str
    responders:
      description:
        - Keyed by responder URL (the keys are data, so no fixed keys are listed); each value is what
          M(tlsfleet.stapling.ocsp_responder_check) reports in its
          RV(tlsfleet.stapling.ocsp_responder_check#module:responders) entries.
      type: dict
      contains: {}
    certificate_responders:
      description:
        - Keyed by certificate fingerprint, then by responder URL (the keys are data, so none is listed); the
          answers about that certificate, asked when its diagnosis depends on its own status.
      type: dict
      contains: {}
    crls:
      description:
        - Keyed by CRL distribution point URL (the keys are data, so none is listed); each CRL the node downloaded,
          once however many certificates name it.
        - Each value has C(url), C(reachable), C(failed_stage) (V(dns), V(connect), V(timeout), V(proxy), V(http)
          for the path, V(crl) for an answer that is no usable CRL of the issuer, or null), C(error), C(http)
          (C(status), C(content_type), C(truncated)), C(issuer_sha256) (the issuer it was checked against),
          C(valid) (the issuer's complete CRL for the certificates, signature verified), C(signature_valid),
          C(fresh), C(this_update), C(next_update), C(seconds_until_next_update), C(revoked_count), C(problems),
          and C(certificates), per
          fingerprint of a certificate of this node that names the URL, its C(serial) and C(revoked) (null when the
          CRL was not read), with C(revocation_time) and C(reason) when revoked.
        - docs/revocation.md says when a CRL is downloaded and how it is judged.
      type: dict
      contains: {}
    extra_endpoints:
      description:
        - For each of O(extra_endpoints), what was served, in the shape of an entry of C(served) of
          RV(evidence.sites) with where it was probed (C(label), C(host), C(port), C(server_name)).
      type: list
      elements: dict
      contains:
        label:
          description: The endpoint as text.
          type: str
        host:
          description: The address connected to.
          type: str
        port:
          description: The port connected to.
          type: int
        reachable:
          description: Whether at least one protocol's handshake completed.
          type: bool
    log_events:
      description:
        - Stapling-related log lines, as M(tlsfleet.stapling.tls_server_info) returns them in
          RV(tlsfleet.stapling.tls_server_info#module:log_events).
      type: list
      elements: dict
      contains:
        file:
          description: The log file.
          type: str
        line_no:
          description: The line number, or V(null).
          type: int
        code:
          description: What the line says, as a code.
          type: str
        message:
          description: The line's message.
          type: str
    logs_since:
      description: The time the logs were read back to.
      type: str
    trust_anchors:
      description: The trust anchors used (the node's system bundle or O(trust_anchor_paths)).
      type: raw
    errors:
      description: What could not be read or run, one sentence each.
      type: list
      elements: str
    timings:
      description: Milliseconds per phase.
      type: dict
      contains:
        discover_and_files_ms:
          description: Discovery and reading the files the sites reference.
          type: int
        handshakes_ms:
          description: The handshakes.
          type: int
        responders_wait_ms:
          description: Waiting for the responder probes.
          type: int
        judging_ms:
          description: Naming the causes.
          type: int
        logs_ms:
          description: Reading the error logs.
          type: int
        total_ms:
          description: The whole audit.
          type: int
"""


from ansible.module_utils.basic import AnsibleModule

# isort: split
# First of the collection's imports: each one after it is compiled once on the node, not twice (zip_import.py).
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import  # noqa: F401 pylint: disable=unused-import

# isort: split

from ansible_collections.tlsfleet.stapling.plugins.module_utils import (
    audit,
    diagnosis,
    findings,
    ocsp,
    servers,
    x509,
)
from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.plugins.module_utils.argspec import (
    CLOCK_SKEW,
    ENDPOINT_OPTIONS,
    PREFLIGHT,
    PROXY,
    TRUST_ANCHORS,
    WARMUP,
    spec,
)
from ansible_collections.tlsfleet.stapling.plugins.module_utils.deps import require_pyopenssl
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import exit_with_result


def summarize(found, evidence) -> dict:
    by_code, by_severity = {}, {}
    for item in found:
        by_code[item["code"]] = by_code.get(item["code"], 0) + 1
        by_severity[item["severity"]] = by_severity.get(item["severity"], 0) + 1
    hostnames = {(s.site, h) for s in evidence.sites for h in s.hostnames}
    return {
        "findings": len(found),
        "by_code": by_code,
        "by_severity": by_severity,
        "worst_severity": findings.worst_severity(found),
        "servers": [s["type"] for s in evidence.servers],
        "sites": len({s.site for s in evidence.sites}),
        "hostnames": len(hostnames),
    }


# Responders asked about a candidate on one node (each distinct URL once; one per forcing configuration at most).
MAX_PREFLIGHT_RESPONDERS = 8


def _preflight():
    """module_utils/preflight.py, imported only when a candidate is given: every other run skips compiling it
    (AnsiballZ compiles the modules it ships at every run; docs/performance.md). AnsiballZ still ships it: its
    module finder reads imports inside functions too."""
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import preflight  # noqa: PLC0415

    return preflight


def judge_candidate(params, settings, evidence, side_files=None) -> tuple:
    """node_audit's ``preflight`` and ``preflight_summary``: the candidate judged against this node's evidence
    (module_utils/preflight.py); ``([], None)`` without a candidate."""
    wanted = params.get("preflight")
    if not wanted:
        return [], None
    preflight = _preflight()
    candidate = preflight.load_candidate(wanted.get("certificate"), wanted.get("chain"))
    # A blank answer (an AWX survey pads with spaces) means now, as an empty one does.
    at_text = (wanted.get("at") or "").strip()
    at = x509.parse_time(at_text, "preflight.at") if at_text else None
    errors: list = []
    anchors = audit._load_anchors(settings.trust_anchor_paths, errors)
    issuer = preflight.candidate_issuer(candidate, anchors, at)
    # Each responder a covered site's server would ask about the candidate, once: a responder the configuration
    # forces (nginx ssl_stapling_responder, Apache SSLStaplingForceURL), else the candidate's own.
    answers = {}
    if issuer is not None:
        for url in preflight.responder_urls(evidence, candidate)[:MAX_PREFLIGHT_RESPONDERS]:
            answers[url] = audit._check_responder(url, candidate.leaf, issuer, settings)
    side_files = preflight.read_side_files(preflight.side_file_paths(evidence), side_files)
    verdicts = preflight.judge(
        evidence,
        candidate,
        None,
        side_files,
        anchors,
        at=at,
        warning_days=params["cert_warning_days"],
        explicit_anchors=bool(settings.trust_anchor_paths),
        answers=answers,
    )
    return [verdict.to_dict() for verdict in verdicts], preflight.summarize(verdicts, candidate)


def run(params, runner) -> dict:
    if params.get("preflight"):
        # Refused before any work: a private key in the candidate never goes further than this check, and a
        # wrong planned time fails now rather than after the whole audit.
        at_text = (params["preflight"].get("at") or "").strip()
        if at_text:
            x509.parse_time(at_text, "preflight.at")
        _preflight().load_candidate(params["preflight"].get("certificate"), params["preflight"].get("chain"))
    since = None
    if params["since"]:
        since = x509.parse_time(params["since"], "since")
    # A blank entry (an empty survey answer made a list: [""]) names no file: not an explicit trust anchor.
    params["trust_anchor_paths"] = [path for path in params["trust_anchor_paths"] or [] if path.strip()]
    settings = audit.Settings(
        server_types=params["servers"],
        extra_endpoints=params["extra_endpoints"],
        since=since,
        handshake_timeout=params["handshake_timeout"],
        responder_timeout=params["responder_timeout"],
        warmup_attempts=params["warmup_attempts"],
        warmup_delay=params["warmup_delay"],
        trust_anchor_paths=params["trust_anchor_paths"],
        proxy=params["proxy"],
        use_proxy=params["use_proxy"],
        clock_skew=params["clock_skew"],
        max_workers=params["max_workers"],
        responder_certificate_limit=params["responder_certificate_limit"],
        time_budget=params["time_budget"],
        crl_check=params["crl_check"],
        crl_max_bytes=params["crl_max_bytes"],
    )
    # What the audit read of the chain, issuer and trusted files, for the preflight to reuse.
    side_files: dict = {}
    evidence = audit.gather(settings, runner, side_files=side_files)
    limits = diagnosis.Thresholds(
        staple_warning_seconds=params["staple_warning_seconds"],
        cert_warning_days=params["cert_warning_days"],
        explicit_trust_anchors=bool(params["trust_anchor_paths"]),
        no_site_severity=params["no_site_severity"],
    )
    found = diagnosis.diagnose(evidence, limits)
    verdicts, summary = judge_candidate(params, settings, evidence, side_files)
    return {
        "findings": found,
        "preflight": verdicts,
        "preflight_summary": summary,
        "summary": summarize(found, evidence),
        "evidence": evidence.to_dict(params.get("evidence") or records.COMPACT),
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **servers.DISCOVERY_ARGSPEC,
            "extra_endpoints": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": spec(ENDPOINT_OPTIONS),
            },
            "handshake_timeout": {"type": "float", "default": 5.0},
            "responder_timeout": {"type": "float", "default": 5.0},
            "time_budget": {"type": "float", "default": 120.0},
            "crl_check": {"type": "bool", "default": True},
            "crl_max_bytes": {"type": "int", "default": 10485760},
            **spec(WARMUP, TRUST_ANCHORS, PROXY, CLOCK_SKEW, PREFLIGHT),
            "staple_warning_seconds": {"type": "int", "default": 1800},
            "cert_warning_days": {"type": "int", "default": 21},
            "max_workers": {"type": "int", "default": 16},
            "responder_certificate_limit": {"type": "int", "default": 32},
            "no_site_severity": {
                "type": "str",
                "default": "warning",
                "choices": ["info", "warning", "error", "critical"],
            },
            "evidence": {"type": "str", "default": records.COMPACT, "choices": list(records.DETAILS)},
        },
        supports_check_mode=True,
    )
    require_pyopenssl(module)
    if ocsp.skew_problem(module.params["clock_skew"]):
        module.fail_json(msg=ocsp.skew_problem(module.params["clock_skew"]))
    params = module.params
    if params["handshake_timeout"] <= 0 or params["responder_timeout"] <= 0 or params["max_workers"] < 1:
        module.fail_json(msg="handshake_timeout and responder_timeout must be positive, max_workers at least 1.")
    if params["crl_max_bytes"] < 1024:
        module.fail_json(msg="crl_max_bytes must be at least 1024 bytes (a CRL is never smaller than a few hundred).")
    if params["time_budget"] < 0:
        module.fail_json(msg="time_budget must be 0 (no limit) or a positive number of seconds.")
    exit_with_result(module, run, params, servers.process_runner())


if __name__ == "__main__":
    main()
