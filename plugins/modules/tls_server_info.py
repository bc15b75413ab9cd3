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
    (C(nginx -T), C(apache2ctl -t) with its include, virtual host and module dumps, C(haproxy -c) with its
    crt-lists). Nothing else is executed, and every command is bounded by O(command_timeout).
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
  - tlsfleet.stapling.code_cache
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
      contains:
        server:
          description: V(nginx), V(apache) or V(haproxy).
          type: str
        site_id:
          description: C(<type>:<file>:<line>) of the site's block; stable while the block does not move.
          type: str
        source:
          description: The file that declares the site.
          type: str
        context:
          description: The block's context (for example the HAProxy section name).
          type: str
        server_names:
          description: The hostnames the site serves.
          type: list
          elements: str
        listen:
          description: The TLS listen addresses, each with C(address) and C(ssl).
          type: list
          elements: dict
          contains:
            address:
              description: The address as configured, for example C(0.0.0.0:443).
              type: str
            ssl:
              description: Whether TLS is on for this address.
              type: bool
        certificate_files:
          description: The certificate files the site loads.
          type: list
          elements: str
        key_files:
          description: The key files the site loads (paths only, never content).
          type: list
          elements: str
        chain_file:
          description: The separate chain file (Apache C(SSLCertificateChainFile)), or V(null).
          type: str
        trusted_certificate:
          description: The file the server verifies staples with, or V(null).
          type: str
        stapling:
          description:
            - The effective stapling settings, by the server's own directive names; the keys differ per server type,
              the main ones are listed.
          type: dict
          contains:
            ssl_stapling:
              description: nginx - whether C(ssl_stapling) is on.
              type: bool
            ssl_stapling_verify:
              description: nginx - whether C(ssl_stapling_verify) is on.
              type: bool
            ssl_stapling_file:
              description: nginx - the C(ssl_stapling_file), or V(null).
              type: str
            resolver:
              description: nginx - the resolver addresses, or V(null) without a C(resolver).
              type: list
              elements: str
            SSLUseStapling:
              description: Apache httpd - whether C(SSLUseStapling) is on.
              type: bool
            SSLStaplingCache:
              description: Apache httpd - the C(SSLStaplingCache), or V(null).
              type: str
            certificates:
              description: HAProxy - per certificate loaded, its C(.ocsp) file and ocsp-update settings.
              type: list
              elements: dict
              contains:
                crt:
                  description: The certificate file.
                  type: str
                ocsp_file:
                  description: The C(.ocsp) file HAProxy reads for it.
                  type: str
                ocsp_exists:
                  description: Whether that file exists.
                  type: bool
                ocsp_loaded:
                  description: Whether HAProxy loads it (C(ssl-load-extra-files) or a crt-store C(ocsp)).
                  type: bool
                ocsp_update:
                  description: The effective C(ocsp-update) mode, V(on) or V(off).
                  type: str
            ocsp_update_mode:
              description: HAProxy - the global C(ocsp-update.mode), or V(null).
              type: str
        files:
          description: Per file the site references, its stat record, keyed by path.
          type: dict
          contains:
            path:
              description: The file (each key of the mapping is a path, its value a record with these keys).
              type: str
            exists:
              description: Whether the file exists.
              type: bool
            readable:
              description: Whether the auditing user can read it.
              type: bool
            size:
              description: Size in bytes.
              type: int
            mode:
              description: Permission bits, octal text.
              type: str
            mtime:
              description: Modification time (ISO 8601 UTC).
              type: str

        certificates:
          description: Per certificate file, its leaf, or why it could not be read.
          type: list
          elements: dict
          contains:
            path:
              description: The certificate file.
              type: str
            count:
              description: How many certificates it holds.
              type: int
            subject:
              description: The leaf's subject.
              type: str
            serial:
              description: The leaf's serial number, hex.
              type: str
            sha256:
              description: The leaf's SHA-256 fingerprint.
              type: str
            not_after:
              description: End of the leaf's validity (ISO 8601 UTC).
              type: str
            ocsp_urls:
              description: The leaf's OCSP URLs.
              type: list
              elements: str
            must_staple:
              description: Whether the leaf requires stapling.
              type: bool
            error:
              description: Why the file could not be read (only then).
              type: str
log_events:
  description:
    - Stapling-related log lines since O(since), each with time, file, line_no, server, code, level and message.
  returned: always
  type: list
  elements: dict
  contains:
    time:
      description: The line's time (ISO 8601 UTC), or V(null) when it has none.
      type: str
    file:
      description: The log file.
      type: str
    line_no:
      description: The line number in the file, or V(null).
      type: int
    server:
      description: V(nginx), V(apache) or V(haproxy).
      type: str
    code:
      description: What the line says, as a code (for example C(responder_timeout)).
      type: str
    level:
      description: The line's log level, lower case, or V(null).
      type: str
    message:
      description: The line's message.
      type: str
    responder:
      description: The responder the line names, or V(null).
      type: str
    site_hint:
      description: The site or hostname the line names, or V(null).
      type: str
since:
  description: The time the logs were read back to.
  returned: always
  type: str
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

# isort: split
# First of the collection's imports: each one after it is compiled once on the node, not twice (zip_import.py).
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import  # noqa: F401 pylint: disable=unused-import

# isort: split

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
    exit_with_result(module, run, module.params, servers.process_runner())


if __name__ == "__main__":
    main()
