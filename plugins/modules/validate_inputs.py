#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: validate_inputs
short_description: Check the playbooks' inputs on the controller before any node is audited or touched
version_added: 0.1.0
description:
  - Runs on the controller (an action plugin; no connection to any host is made). The C(remediate) and C(rollout)
    playbooks run it in their first play, on C(localhost); the C(diagnose) role runs it once per play for
    node_audit's numeric options; any play can run it the same way.
  - Checks every certificate entry in its one shape - C(certificate), C(key) and optionally C(chain) (paths on
    the controller), or C(lineage), a certbot live directory standing for its C(cert.pem), C(privkey.pem) and
    C(chain.pem); C(name); C(hosts), the inventory hosts and groups that may receive the key. Each file must
    exist and be readable, the certificate and the chain must parse, and the key must belong to the certificate
    (their public keys are compared). An entry gives either C(lineage) or C(certificate) and C(key), not both.
  - Checks the scalar inputs by name (O(variables)), accepting the strings AWX surveys and C(-e key=value) pass
    (V(true)/V(false), numbers as text, comma-separated lists).
  - "Fails with one sentence per wrong input, naming the variable, the entry and the file, for example
    C(tlsfleet_certificates[1] (shop\\): key /x/privkey.pem does not match certificate /x/cert.pem). Key material
    is never part of the output."
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.attributes.info_module
requirements:
  - Runs on the controller only, with the cryptography library (the collection's floor).
options:
  certificates:
    description:
      - A list of certificate entries (C(tlsfleet_certificates)). Null or missing - none to check.
    type: raw
  certificates_name:
    description: The name O(certificates) is given in messages.
    type: str
    default: tlsfleet_certificates
  certificate:
    description:
      - One certificate entry (C(tlsfleet_rollout_certificate)). Null or an empty string - not given.
    type: raw
  certificate_name:
    description: The name O(certificate) is given in messages.
    type: str
    default: tlsfleet_rollout_certificate
  certificate_required:
    description: Fail when O(certificate) is not given.
    type: bool
    default: false
  candidate:
    description:
      - A preflight candidate (C(tlsfleet_preflight_certificate)) - the shape of O(certificate) without a key -
        C(certificate) and optionally C(chain), each a path on the controller or PEM text, or C(lineage) (a
        certbot live directory, whose C(cert.pem) and C(chain.pem) are read; never C(privkey.pem)); C(hosts), the
        inventory hosts and groups it is judged on (a list or one comma-separated string); C(name).
      - Certificate PEM blocks only pass; a private key in the text or in a file is refused without being
        repeated. A C(key) given is ignored and never read (RV(candidate.ignored) says so).
      - The mapping may come as YAML or JSON text (an AWX survey textarea). Null or a blank string - not given.
    type: raw
  candidate_name:
    description: The name O(candidate) is given in messages.
    type: str
    default: tlsfleet_preflight_certificate
  candidate_required:
    description: Fail when O(candidate) is not given.
    type: bool
    default: false
  candidate_from_certificate:
    description:
      - Make RV(candidate) from O(certificate) (the rollout's certificate, judged before it is deployed) instead
        of O(candidate); its key is left out.
    type: bool
    default: false
  role_argument_spec:
    description:
      - The options of a role's entry point (the C(options) of its C(meta/argument_specs.yml)). The host's
        variables of those names are checked against them, as Ansible checks a role's arguments, and each problem
        fails the task for this host only.
      - For a playbook that runs a role's tasks with C(rolespec_validate=false) and checks the role's variables here,
        per host, in a task it runs anyway (the diagnose playbook).
    type: dict
  role_name:
    description:
      - The role O(role_argument_spec) belongs to, named in each problem.
    type: str
    default: the role
  variables:
    description:
      - Playbook variables to check, by name; a null value means not set and is skipped.
      - Known names - C(tlsfleet_become), C(tlsfleet_cert_fetch_issuers), C(tlsfleet_external_check) and
        C(tlsfleet_audit_use_proxy) and C(tlsfleet_rollout_preflight_gate) (booleans, strings such as V(true) or
        V(no) too); C(tlsfleet_preflight_at) (an ISO 8601 time; blank means now);
        C(tlsfleet_fail_severity) (V(critical), V(error), V(warning), V(info) or V(never));
        C(tlsfleet_report_dir) and C(tlsfleet_remediate_report_dir) (non-empty paths);
        C(tlsfleet_hosts) (a host pattern); C(tlsfleet_nginx_resolver) (a list, or one comma-separated string);
        C(tlsfleet_rollout_batch_size) (a whole number, V(0) or more); C(tlsfleet_rollout_canary) (a host of the
        inventory, or empty); C(tlsfleet_cert_trust_anchors) (controller files holding certificates);
        C(tlsfleet_intermediates) (PEM texts holding certificates); C(tlsfleet_audit_handshake_timeout) and
        C(tlsfleet_audit_responder_timeout) (seconds, more than 0), C(tlsfleet_audit_staple_warning_seconds) and
        C(tlsfleet_audit_cert_warning_days) and C(tlsfleet_audit_crl_max_bytes) (whole numbers, V(0) or more),
        C(tlsfleet_audit_crl_check) (a boolean) - for these six an empty string (what AWX passes for a survey field
        left empty) means not set, so the name is left out of RV(variables) and node_audit's default applies. Any
        other name fails.
    type: dict
    default: {}
  reserved:
    description:
      - Names of variables the playbook keeps its own state in (set with C(set_fact) or C(register)), found set
        before the playbook set them - typically with the C(ansible.builtin.varnames) lookup. Each fails the task,
        since an extra var under such a name would replace the playbook's state (extra vars win over C(set_fact)).
    type: list
    elements: str
    default: []
attributes:
  action:
    description: Runs on the controller as an action plugin.
    support: full
  async:
    description: Can run asynchronously.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
seealso:
  - module: tlsfleet.stapling.certificate_bundle
"""

EXAMPLES = r"""
---
- name: Check the inputs before anything else
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the certificates and the survey's answers
      tlsfleet.stapling.validate_inputs:
        certificates: "{{ tlsfleet_certificates | default(none) }}"
        variables:
          tlsfleet_become: "{{ tlsfleet_become | default(none) }}"
          tlsfleet_fail_severity: "{{ tlsfleet_fail_severity | default(none) }}"
      register: checked

- name: A certbot lineage, with the hosts that may receive its key
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the renewed certificate
      tlsfleet.stapling.validate_inputs:
        certificate:
          name: www
          lineage: /etc/letsencrypt/live/www.example.com
          hosts: [web]
        certificate_required: true
"""

RETURN = r"""
certificates:
  description: The entries of O(certificates) in their one shape, with absolute paths and what is safe to print.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The entry's name, as given.
      type: str
    certificate:
      description: The certificate file (for a lineage, its C(cert.pem)).
      type: str
    key:
      description: The key file (for a lineage, its C(privkey.pem)); never its content.
      type: str
    chain:
      description: The chain file (for a lineage, its C(chain.pem)), or V(null) when none was given.
      type: str
    lineage:
      description: The certbot live directory, when the entry gave one.
      type: str
    hosts:
      description: The inventory hosts and groups that may receive the key, as given.
      type: list
      elements: str
    subject:
      description: The certificate's subject.
      type: str
    sha256:
      description: The certificate's SHA-256 fingerprint.
      type: str
    san_dns:
      description: The certificate's DNS names.
      type: list
      elements: str
certificate:
  description: O(certificate) in the same shape as each element of RV(certificates), or V(null) when not given.
  returned: success
  type: dict
  contains: {}
candidate:
  description:
    - The preflight candidate, or V(null) when none was asked for. Public material only.
  returned: success
  type: dict
  contains:
    name:
      description: The candidate's name, as given, or V(null).
      type: str
    certificate:
      description: The certificate file on the controller, or V(null) when PEM text was given.
      type: str
    chain:
      description: The chain file on the controller, or V(null) when PEM text or no chain was given.
      type: str
    lineage:
      description: The certbot live directory, when one was given.
      type: str
    certificate_pem:
      description: The certificate as PEM text (certificate blocks only), as it is sent to the nodes.
      type: str
    chain_pem:
      description: The chain as PEM text (certificate blocks only), or V(null).
      type: str
    hosts:
      description: The inventory hosts and groups the candidate is judged on.
      type: list
      elements: str
    ignored:
      description: What was given but not used (a C(key)), one sentence each.
      type: list
      elements: str
    subject:
      description: The certificate's subject.
      type: str
    sha256:
      description: The certificate's SHA-256 fingerprint.
      type: str
    serial:
      description: The certificate's serial number (hexadecimal).
      type: str
    san_dns:
      description: The certificate's DNS names.
      type: list
      elements: str
    not_before:
      description: Start of validity (ISO 8601, UTC).
      type: str
    not_after:
      description: End of validity (ISO 8601, UTC).
      type: str
    ocsp_urls:
      description: The certificate's OCSP URLs.
      type: list
      elements: str
    must_staple:
      description: Whether the certificate carries the TLS feature C(status_request) (Must-Staple).
      type: bool
variables:
  description:
    - The variables of O(variables) that were set, as read (booleans as booleans, lists as lists, paths absolute).
  returned: success
  type: dict
  contains: {}
problems:
  description: One sentence per wrong input.
  returned: failure
  type: list
  elements: str
"""
