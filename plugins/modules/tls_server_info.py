#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_server_info
short_description: Discover nginx, Apache httpd and HAProxy on the node, their TLS sites, stapling settings and logs
version_added: 0.1.0
description:
  - Finds nginx, Apache httpd and HAProxy on the managed node (binary, version, whether it runs, when its master
    process started) and reads each one's configuration through the server's own dump and test commands
    (C(nginx -T), C(apache2ctl -S) and C(-t -D DUMP_INCLUDES), C(haproxy -c) with its crt-lists). Nothing else is
    executed, and every command is bounded by O(command_timeout).
  - Reports per TLS site the server names, listen addresses, certificate, key and chain files as configured, the
    stapling directives with their effective values (defaults applied), and the files' fingerprints and
    modification times, so a renewed file the server has not reloaded shows up.
  - Reads the servers' error logs back to O(since) and classifies stapling messages to cause codes, using the
    servers' real message strings.
  - Never changes anything. Private keys are not read.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.attributes.info_module
  - tlsfleet.stapling.discovery
  - tlsfleet.stapling.requirements.cryptography
options:
  logs:
    description: Whether to read and classify the error logs.
    type: bool
    default: true
  command_timeout:
    description: Seconds each dump or test command may run.
    type: float
    default: 30.0
notes:
  - Run it as root (C(become)) so that the dump commands can read every included file.
seealso:
  - module: tlsfleet.stapling.node_audit
"""

EXAMPLES = r"""
---
- name: What TLS servers and sites does this node run?
  tlsfleet.stapling.tls_server_info:
  become: true
  register: tls

- name: Sites whose certificate file changed after the server started
  ansible.builtin.debug:
    msg: "{{ tls.servers | map(attribute='sites') | flatten | selectattr('certificates', 'defined') | list }}"

- name: Stapling messages logged since midnight
  tlsfleet.stapling.tls_server_info:
    since: "2026-11-23T00:00:00Z"
  become: true
  register: logs
"""

RETURN = r"""
servers:
  description: One entry per server type found.
  returned: always
  type: list
  elements: dict
  contains:
    type:
      description: V(nginx), V(apache) or V(haproxy).
      type: str
    binary:
      description: Path of the server binary.
      type: str
    version:
      description: The server's version.
      type: str
      sample: 1.22.1
    running:
      description: Whether a master process runs.
      type: bool
    master_started_at:
      description: When the master process started (ISO 8601 UTC), to compare with file modification times.
      type: str
    config_test_ok:
      description: Whether the server's own configuration test passed.
      type: bool
    error_logs:
      description: The error log files the configuration names.
      type: list
      elements: str
    stapling_capable:
      description:
        - Whether this server and version can staple as configured, with the reason in C(stapling_capable_reason).
      type: bool
    errors:
      description: What could not be read or run, one sentence each.
      type: list
      elements: str
    sites:
      description:
        - Per TLS site; C(site_id), C(server_names), C(listen), C(certificate_files), C(key_files), C(chain_file),
          C(trusted_certificate), C(stapling) (effective directives), C(files) (path to size, mode and mtime), and
          C(certificates) (per certificate file the leaf's subject, sha256, not_after, ocsp_urls and the number of
          certificates in the file, or the reason it could not be read).
      type: list
      elements: dict
log_events:
  description:
    - Stapling-related log lines since O(since), each with time, file, line_no, server, code, level and message.
  returned: always
  type: list
  elements: dict
since:
  description: The time the logs were read back to.
  returned: always
  type: str
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils.deps import require_cryptography
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, exit_with_result


def describe_certificate_file(path: str) -> dict:
    """The leaf of a certificate file (and how many certificates it holds), or why it cannot be read."""
    try:
        certs = x509.load_certificates_from_path(path, "certificate file")
    except InputError as exc:
        return {"path": path, "error": str(exc)}
    leaf = x509.describe(certs[0])
    return {
        "path": path,
        "count": len(certs),
        "subject": leaf.subject,
        "serial": leaf.serial,
        "sha256": leaf.sha256,
        "not_after": leaf.not_after,
        "ocsp_urls": leaf.ocsp_urls,
        "must_staple": leaf.must_staple,
    }


def run(params, runner) -> dict:
    if params["since"]:
        since = x509.parse_time(params["since"], "since")
    else:
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    found = servers.discover(runner, servers.default_which, types=params["servers"], timeout=params["command_timeout"])
    events = []
    if params["logs"]:
        for server in found:
            events.extend(event.to_dict() for event in servers.log_events(server, since))
    reported = []
    for server in found:
        data = server.to_dict()
        for site in data["sites"]:
            site["certificates"] = [describe_certificate_file(path) for path in site["certificate_files"] if path]
        reported.append(data)
    return {"servers": reported, "log_events": events, "since": x509.format_time(since)}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **servers.DISCOVERY_ARGSPEC,
            "logs": {"type": "bool", "default": True},
            "command_timeout": {"type": "float", "default": 30.0},
        },
        supports_check_mode=True,
    )
    require_cryptography(module)
    if module.params["command_timeout"] <= 0:
        module.fail_json(msg="command_timeout must be positive.")
    exit_with_result(module, run, module.params, servers.module_runner(module))


if __name__ == "__main__":
    main()
