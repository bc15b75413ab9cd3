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
  - Handshakes and responder probes run concurrently, each bounded by its own timeout, so an unreachable responder
    costs about O(responder_timeout) once per node, not once per site. The whole audit is bounded by
    O(time_budget).
  - Files named by the servers' configuration are read only when they are regular files; a FIFO, socket or device
    (such as V(/dev/zero)) is reported as an error of its site, never read or waited on.
  - Never changes anything. Private keys are read only to check that they match their certificate; no key
    material appears in the result.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.attributes.responder_group
  - tlsfleet.stapling.attributes.info_module
  - tlsfleet.stapling.discovery
  - tlsfleet.stapling.requirements.pyopenssl
  - tlsfleet.stapling.options.clock_skew
  - tlsfleet.stapling.options.proxy
  - tlsfleet.stapling.options.trust_anchors
  - tlsfleet.stapling.options.warmup
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
notes:
  - Run it as root (C(become)) so that it can read key files and run the servers' dump commands.
  - Hostnames come from the sites' C(server_name) / C(ServerName) / C(ServerAlias); for HAProxy, from the DNS names
    of each bound certificate. Wildcard names are not probed.
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
evidence:
  description:
    - Everything gathered, for reports and for people who want to see for themselves; C(servers) (discovery),
      C(sites) (per site and certificate, the configured files and, per hostname, what was served, as
      M(tlsfleet.stapling.tls_endpoint_info) reports it), C(responders) (per URL, as
      M(tlsfleet.stapling.ocsp_responder_check) reports it, with the fingerprint of the certificate it asked
      about), C(certificate_responders) (per certificate fingerprint and URL, the answers about that certificate),
      per site C(resolver_checks) (the server's own resolver asked for the responder's name), C(log_events),
      C(errors) and C(timings).
  returned: always
  type: dict
  contains:
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
        site:
          description: The site's C(site_id).
          type: str
        hostnames:
          description: The hostnames audited on the site.
          type: list
          elements: str
    responders:
      description:
        - Keyed by responder URL (the keys are data, so no fixed keys are listed); each value is what
          M(tlsfleet.stapling.ocsp_responder_check) reports in its
          RV(tlsfleet.stapling.ocsp_responder_check#module:responders) entries.
      type: dict
      contains: {}
    extra_endpoints:
      description:
        - What M(tlsfleet.stapling.tls_endpoint_info) reports in its
          RV(tlsfleet.stapling.tls_endpoint_info#module:endpoints) for O(extra_endpoints).
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

from ansible_collections.tlsfleet.stapling.plugins.module_utils import audit, diagnosis, findings, ocsp, servers, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils.argspec import (
    CLOCK_SKEW,
    ENDPOINT_OPTIONS,
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
    hostnames = {(s["site"], h) for s in evidence["sites"] for h in s["hostnames"]}
    return {
        "findings": len(found),
        "by_code": by_code,
        "by_severity": by_severity,
        "worst_severity": findings.worst_severity(found),
        "servers": [s["type"] for s in evidence["servers"]],
        "sites": len({s["site"] for s in evidence["sites"]}),
        "hostnames": len(hostnames),
    }


def run(params, runner) -> dict:
    since = None
    if params["since"]:
        since = x509.parse_time(params["since"], "since")
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
    )
    evidence = audit.gather(settings, runner)
    limits = diagnosis.Thresholds(
        staple_warning_seconds=params["staple_warning_seconds"],
        cert_warning_days=params["cert_warning_days"],
        explicit_trust_anchors=bool(params["trust_anchor_paths"]),
        no_site_severity=params["no_site_severity"],
    )
    found = diagnosis.diagnose(evidence, limits)
    return {"findings": found, "summary": summarize(found, evidence), "evidence": evidence}


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
            **spec(WARMUP, TRUST_ANCHORS, PROXY, CLOCK_SKEW),
            "staple_warning_seconds": {"type": "int", "default": 1800},
            "cert_warning_days": {"type": "int", "default": 21},
            "max_workers": {"type": "int", "default": 16},
            "responder_certificate_limit": {"type": "int", "default": 32},
            "no_site_severity": {
                "type": "str",
                "default": "warning",
                "choices": ["info", "warning", "error", "critical"],
            },
        },
        supports_check_mode=True,
    )
    require_pyopenssl(module)
    if ocsp.skew_problem(module.params["clock_skew"]):
        module.fail_json(msg=ocsp.skew_problem(module.params["clock_skew"]))
    params = module.params
    if params["handshake_timeout"] <= 0 or params["responder_timeout"] <= 0 or params["max_workers"] < 1:
        module.fail_json(msg="handshake_timeout and responder_timeout must be positive, max_workers at least 1.")
    if params["time_budget"] < 0:
        module.fail_json(msg="time_budget must be 0 (no limit) or a positive number of seconds.")
    exit_with_result(module, run, params, servers.module_runner(module))


if __name__ == "__main__":
    main()
