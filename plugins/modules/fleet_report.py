#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_report
short_description: Build the fleet stapling report on the controller from every node's audit
version_added: 0.1.0
description:
  - Runs on the controller (an action plugin; no connection to any host is made). Collects the registered
    M(tlsfleet.stapling.node_audit) result of every host of the play, groups the hosts by region, adds the
    fleet-level findings only the whole fleet shows (C(node_drift) - nodes serving one hostname with different
    leaf or chain fingerprints, across regions too), and writes the report in five files to O(dest) -
    C(report.json), C(report.html), C(report.md), C(junit.xml) and C(metrics.prom).
  - Hosts whose audit failed or that were unreachable are kept in the report with their message, so a node
    missing from the picture is never mistaken for a healthy one.
  - Every node's result is checked against the published schema of the node_audit result (types, finite
    numbers, bounded sizes) and its strings are sanitised before anything uses it; a malformed result makes only
    that node failed, with a message naming the field. See docs/report.md.
  - With O(external), sets the fleet beside what a vantage point outside it sees through its own DNS, and names
    the nodes a client may be handed with a broken staple.
  - With O(merge), combines the reports of sliced jobs (AWX job slicing, or C(--limit) runs) into the report one
    unsliced run would have written; fleet-level findings are computed again over all nodes.
  - Use it with C(run_once) - it reads the results of all hosts itself. The C(tlsfleet.stapling.diagnose) role
    does all of this.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
requirements:
  - Runs on the controller only, with what ansible-core brings (Python 3.11+, PyYAML); nothing on the managed nodes.
options:
  dest:
    description:
      - The report directory on the controller, created when missing. Relative paths are relative to the
        directory C(ansible-playbook) runs in. The five files in it are replaced together, only once all
        five were rendered; when rendering fails, the previous five are left as they were.
    type: path
    default: ./stapling-report
  hosts:
    description:
      - The hosts to report on. Defaults to every host of the play (C(ansible_play_hosts_all)), failed and
        unreachable ones included.
      - With the default, a host that left the run before this task (unreachable or failed in an earlier play or
        task, so no longer in C(ansible_play_hosts)) is reported as failed, not audited in this run - never with
        the result an earlier audit left in its host variables.
    type: list
    elements: str
  results_var:
    description: The variable each host registered its M(tlsfleet.stapling.node_audit) result in.
    type: str
    default: tlsfleet_audit
  region_var:
    description:
      - The host variable naming each host's region. Hosts without it are in region V(default).
    type: str
    default: tlsfleet_region
  fail_severity:
    description:
      - Findings at this severity or above make their hosts failing (RV(failing_hosts)); failed and unreachable
        hosts are failing too. V(never) makes no host failing.
      - This module itself never fails because of findings; the role decides what to do with RV(failing_hosts).
    type: str
    choices: [critical, error, warning, info, never]
    default: error
  external:
    description:
      - What a vantage point saw, as a dictionary with the keys C(vantage) (its name) and C(endpoints) (the
        C(endpoints) list M(tlsfleet.stapling.tls_endpoint_info) returned there, run with C(resolve_all=true)).
      - Addresses are matched to nodes by their C(ansible_host) and the host variable C(tlsfleet_public_addresses)
        (a list, for nodes that clients reach through NAT or a virtual address).
    type: dict
  merge:
    description:
      - C(report.json) files of earlier runs to merge. When O(hosts) is empty (V([])), only these are merged;
        otherwise this run's report is merged with them. Reports must have the same fail severity and collection
        version. When a host is in several, the last one wins.
      - Preflight reports merge only with preflight reports of the same candidate.
    type: list
    elements: path
    default: []
  preflight:
    description:
      - Adds the C(preflight) section - the verdicts each host's M(tlsfleet.stapling.node_audit) gave for a
        candidate certificate (its O(tlsfleet.stapling.node_audit#module:preflight) option), per node and site -
        and the return values RV(preflight), RV(preflight_breaking), RV(preflight_changes) and RV(preflight_failing).
      - A dictionary with C(candidate) (what the report says about the certificate - C(name), C(subject),
        C(sha256), C(serial), C(san_dns), C(not_before), C(not_after), C(ocsp_urls), C(must_staple); other keys,
        such as its PEM text, are left out), C(at) (the planned deployment time, or V(null) for now) and
        C(hosts_out_of_scope) (hosts of the play the candidate is not meant for, listed as such).
      - O(hosts) should then be the hosts in the candidate's scope; the tlsfleet.stapling.preflight playbook
        does all of this. docs/preflight.md describes the section.
    type: dict
attributes:
  action:
    description: Runs on the controller as an action plugin.
    support: full
  async:
    description: Can run asynchronously.
    support: none
  check_mode:
    support: full
    details:
      - The report is written in check mode too; it changes nothing on any managed host.
  diff_mode:
    support: N/A
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
notes:
  - The report format is described by C(docs/report-schema.json) in the collection.
seealso:
  - name: The cause catalogue
    description: Every finding code of the report, its severity, what it means and the fix.
    link: https://github.com/tlsfleet/stapling/blob/main/docs/causes.md
  - module: tlsfleet.stapling.node_audit
  - module: tlsfleet.stapling.tls_endpoint_info
  - ref: tlsfleet.stapling.diagnose role <ansible_collections.tlsfleet.stapling.diagnose_role>
    description: The role that audits every node and calls this module.
"""

EXAMPLES = r"""
---
- name: Audit every node
  tlsfleet.stapling.node_audit:
  register: tlsfleet_audit
  ignore_errors: true
  ignore_unreachable: true

- name: Write the fleet report
  tlsfleet.stapling.fleet_report:
    dest: /var/lib/stapling/report
    fail_severity: warning
  run_once: true
  register: fleet

- name: Merge the reports of two slices into one
  tlsfleet.stapling.fleet_report:
    hosts: []
    merge:
      - slice1/report.json
      - slice2/report.json
    dest: merged
  run_once: true
"""

RETURN = r"""
report_dir:
  description: The absolute path of the report directory.
  returned: success
  type: str
  sample: /srv/runs/stapling-report
files:
  description: The path of each file written, by kind.
  returned: success
  type: dict
  contains:
    json:
      description: C(report.json).
      type: str
    html:
      description: C(report.html).
      type: str
    markdown:
      description: C(report.md).
      type: str
    junit:
      description: C(junit.xml).
      type: str
    prometheus:
      description: C(metrics.prom).
      type: str
  sample:
    json: /srv/runs/stapling-report/report.json
    html: /srv/runs/stapling-report/report.html
    markdown: /srv/runs/stapling-report/report.md
    junit: /srv/runs/stapling-report/junit.xml
    prometheus: /srv/runs/stapling-report/metrics.prom
stats:
  description:
    - The compact summary for C(ansible.builtin.set_stats) (AWX artifacts) - counts by code and severity, worst
      severity, failing hosts, failed and unreachable nodes, and with O(external) the nodes handed out with a
      broken staple.
  returned: success
  type: dict
  contains:
    generated_at:
      description: When the report was made (ISO 8601 UTC).
      type: str
    collection_version:
      description: The version of this collection that made it.
      type: str
    nodes:
      description: How many nodes the report holds.
      type: int
    nodes_failed:
      description: Hosts whose audit failed.
      type: list
      elements: str
    nodes_unreachable:
      description: Hosts that could not be reached.
      type: list
      elements: str
    hostnames:
      description: How many hostnames were audited.
      type: int
    findings:
      description: How many findings, fleet-level ones included.
      type: int
    by_code:
      description: Finding counts keyed by cause code (the keys are data, so none is listed).
      type: dict
      contains: {}
    by_severity:
      description: Finding counts keyed by severity (the keys are data, so none is listed).
      type: dict
      contains: {}
    worst_severity:
      description: The worst severity, or V(null).
      type: str
    fail_threshold:
      description: The O(fail_severity) used.
      type: str
    failing_hosts:
      description: As RV(failing_hosts).
      type: list
      elements: str
    external_broken_nodes:
      description: With O(external), the nodes DNS hands out with a broken staple.
      type: list
      elements: str
    preflight:
      description: With O(preflight), as RV(preflight).
      type: dict
      contains: {}
preflight:
  description: With O(preflight), the counts of the report's preflight section.
  returned: success and O(preflight) given
  type: dict
  contains:
    nodes:
      description: How many nodes in the candidate's scope the report holds.
      type: int
    sites:
      description: How many sites the candidate's names cover, over all judged nodes.
      type: int
    ready:
      description: How many of them are V(ready).
      type: int
    ready_after_change:
      description: How many are V(ready_after_change).
      type: int
    will_break:
      description: How many are V(will_break).
      type: int
    will_break_nodes:
      description: The nodes with at least one site that will break.
      type: list
      elements: str
    nodes_not_judged:
      description: The nodes whose audit did not run (failed or unreachable).
      type: list
      elements: str
    nodes_without_sites:
      description: The judged nodes with no site the candidate covers.
      type: list
      elements: str
    hosts_out_of_scope:
      description: The hosts the candidate is not meant for, as given.
      type: list
      elements: str
preflight_breaking:
  description:
    - With O(preflight), one line per node and site the candidate will break - node, site, hostnames and the
      reasons.
  returned: success and O(preflight) given
  type: list
  elements: str
  sample:
    - "eu-web-2: site nginx:/etc/nginx/sites-enabled/www:3 (www.shop.test, shop.test) will break: must_staple: ..."
preflight_changes:
  description:
    - With O(preflight), every change a V(ready_after_change) site needs first, one item per change.
  returned: success and O(preflight) given
  type: list
  elements: dict
  contains:
    host:
      description: The node.
      type: str
    site:
      description: The site.
      type: str
    server:
      description: The site's server type.
      type: str
    hostnames:
      description: The site's names the candidate covers.
      type: list
      elements: str
    by_rollout:
      description:
        - Whether the rollout playbook makes this change itself (it deploys a new key, and refreshes a staple file
          the server loads with the certificate, as HAProxy's C(.ocsp)); any other change must be made before it.
      type: bool
    by:
      description: The role that makes the change (V(cert_deploy) or V(stapling_config)).
      type: str
    action:
      description: What it does (for example V(deploy_key), V(replace_issuer_file), V(refresh_staple_file)).
      type: str
    path:
      description: The file the change touches, or V(null).
      type: str
    text:
      description: The change in one sentence.
      type: str
preflight_failing:
  description:
    - With O(preflight), keyed by node (the keys are data, so none is listed) - one line per site of that node the
      candidate will break (site, hostnames, why), or why the node could not be judged (its audit did not run).
  returned: success and O(preflight) given
  type: dict
  contains: {}
  sample:
    eu-web-2:
      - "site nginx:/etc/nginx/sites-enabled/www:3 (www.shop.test, shop.test) will break: must_staple: ..."
failing_hosts:
  description: Hosts with findings at or above O(fail_severity), plus failed and unreachable hosts.
  returned: success
  type: list
  elements: str
failing:
  description:
    - Keyed by failing host (the keys are data, so none is listed), one line per reason - each finding at or
      above O(fail_severity) (severity, code, hostname), or why the audit did not run. Fleet-level findings are
      listed on every node they name.
  returned: success
  type: dict
  contains: {}
  sample:
    eu-web-2:
      - error responder_unreachable for www.shop.test (nginx)
fleet_findings:
  description:
    - The fleet-level findings (C(node_drift)), as in C(report.json); C(details.outliers) names the nodes that
      differ from the majority. The remediation plan reads them.
  returned: success
  type: list
  elements: dict
  contains:
    code:
      description: V(node_drift).
      type: str
    severity:
      description: The severity of the cause.
      type: str
    hostname:
      description: The hostname whose nodes differ.
      type: str
    evidence:
      description: What differs, one line each.
      type: list
      elements: str
    remediation:
      description: What fixes it.
      type: str
    fixed_by:
      description: The role that applies the fix, or V(null).
      type: str
    details:
      description: What differs and where.
      type: dict
      contains:
        kind:
          description: What differs (for example the served certificate).
          type: str
        fingerprints:
          description: The nodes grouped by what they serve, keyed by fingerprint (the keys are data).
          type: dict
          contains: {}
        nodes:
          description: Every node serving the hostname.
          type: list
          elements: str
        outliers:
          description: The nodes that differ from the majority.
          type: list
          elements: str
        regions:
          description: The regions involved.
          type: list
          elements: str
worst_severity:
  description: The worst severity of any finding, or V(null) when there is none.
  returned: success
  type: str
findings:
  description: How many findings the report holds, fleet-level ones included.
  returned: success
  type: int
"""
