#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_endpoint_info
short_description: Handshake to TLS endpoints from the node, ask for a staple, and judge chain and staple
version_added: 0.1.0
description:
  - Connects from the managed node to each endpoint (by default the node's own C(127.0.0.1:443)) with the
    C(status_request) extension, as a strict client does, once per protocol version (TLS 1.3 and TLS 1.2 staple
    through different messages, and a server can get one right and the other wrong).
  - Reports per endpoint and protocol the presented chain certificate by certificate, the chain verdicts (order,
    completeness, missing issuer, extra or duplicate certificates, root sent) and the stapled OCSP response
    validated in full against the leaf and its issuer (status, signature, authorized signer, CertID, freshness).
  - Servers fetch staples lazily (nginx on the first handshake that asks, per worker process). When a handshake
    brings no staple and the leaf names an OCSP responder, the module warms up with further handshakes and a
    growing pause, up to O(warmup_attempts), before it reports the staple missing; RV(endpoints[].protocols)
    says how many handshakes it took.
  - Endpoints are probed concurrently, each handshake bounded by O(timeout). One endpoint that fails never stops
    the others from being reported. Never changes anything.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.attributes.info_module
  - tlsfleet.stapling.requirements.pyopenssl
  - tlsfleet.stapling.options.clock_skew
  - tlsfleet.stapling.options.trust_anchors
  - tlsfleet.stapling.options.warmup
  - tlsfleet.stapling.code_cache
options:
  endpoints:
    description:
      - The endpoints to probe. Each item needs at least one of O(endpoints[].host), O(endpoints[].port) and
        O(endpoints[].server_name); missing values come from O(host) and O(port).
      - When empty, the single endpoint O(host):O(port) is probed without SNI, unless O(server_names) is given.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: Address or name to connect to.
        type: str
      port:
        description: TCP port.
        type: int
      server_name:
        description: The name sent as SNI, which selects the site on a server with several.
        type: str
  server_names:
    description:
      - Shorthand for one endpoint per name at O(host):O(port), each with that name as SNI. With O(resolve_all),
        each name is resolved and its addresses probed instead.
    type: list
    elements: str
    default: []
  host:
    description: Default address for endpoints that name none.
    type: str
    default: 127.0.0.1
  port:
    description: Default port for endpoints that name none.
    type: int
    default: 443
  protocols:
    description: The protocol versions to try, each in its own handshake.
    type: list
    elements: str
    choices: [TLSv1.3, TLSv1.2]
    default: [TLSv1.3, TLSv1.2]
  timeout:
    description: Seconds one handshake (connect included) may take.
    type: float
    default: 5.0
  certificate_pool_paths:
    description:
      - Files on the managed node with further certificates (for example the server's configured chain file or a
        CA bundle) used to find the leaf's issuer when the server does not present it, so that its staple can
        still be validated. Unreadable or unusable files fail the module with a message naming them.
    type: list
    elements: path
    default: []
  max_workers:
    description: How many endpoints to probe at the same time.
    type: int
    default: 16
  resolve_all:
    description:
      - Resolve each endpoint's host with the managed node's own resolver, as a client there would, and probe
        every address the name resolves to (IPv4 and IPv6), each as its own endpoint. The name is sent as SNI
        unless O(endpoints[].server_name) names another.
      - This is the external view. Behind DNS round robin or a load balancer a client may be handed any of the
        addresses, so one address serving a broken staple is enough for some clients to fail.
      - Names in O(server_names) are resolved themselves (instead of connecting to O(host)).
      - A name that does not resolve is reported as one unreachable endpoint whose RV(endpoints[].resolve_error)
        says why.
    type: bool
    default: false
notes:
  - O(trust_anchor_paths) decides C(complete) in RV(endpoints[].protocols.chain).
  - The chain is judged as presented; the leaf is the first certificate the server sends. Trust in a root is not
    checked here (the staple's signature is checked against the leaf's issuer).
seealso:
  - module: tlsfleet.stapling.ocsp_response_info
  - module: tlsfleet.stapling.ocsp_responder_check
"""

EXAMPLES = r"""
---
- name: Judge the staple every site name on the node serves
  tlsfleet.stapling.tls_endpoint_info:
    server_names:
      - www.example.com
      - api.example.com
  register: served

- name: Fail when any endpoint serves no good staple
  ansible.builtin.assert:
    that: served.endpoints | map(attribute='summary.staple_state') | unique == ['good']

- name: Probe another address and port, TLS 1.2 only, without warm-up
  tlsfleet.stapling.tls_endpoint_info:
    endpoints:
      - host: 10.0.0.5
        port: 8443
        server_name: shop.example.com
    protocols: [TLSv1.2]
    warmup_attempts: 0

- name: See a public name as clients do - every address DNS hands out, from a host outside the fleet
  tlsfleet.stapling.tls_endpoint_info:
    server_names:
      - www.example.com
      - shop.example.com
    resolve_all: true
  delegate_to: localhost
  register: external

- name: List the addresses that serve no good staple
  ansible.builtin.debug:
    msg: "{{ external.endpoints | rejectattr('summary.staple_state', 'eq', 'good') | map(attribute='host') }}"
"""

RETURN = r"""
endpoints:
  description: One entry per endpoint, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    label:
      description: The endpoint as text, for example C(127.0.0.1:443 (SNI www.example.com)).
      type: str
      sample: 127.0.0.1:443 (SNI www.example.com)
    host:
      description: The address connected to.
      type: str
    resolved_from:
      description: With O(resolve_all), the name that was resolved to RV(endpoints[].host); otherwise V(null).
      type: str
    resolve_error:
      description: With O(resolve_all), why the name did not resolve; otherwise V(null).
      type: str
    port:
      description: The port connected to.
      type: int
    server_name:
      description: The SNI name sent, or V(null).
      type: str
    reachable:
      description: Whether at least one protocol's handshake completed.
      type: bool
    warmup_used:
      description: Whether warm-up handshakes were needed.
      type: bool
    leaf_sha256:
      description: SHA-256 fingerprint of the leaf, when every protocol presented the same one.
      type: str
    same_leaf_for_all_protocols:
      description: Whether every protocol presented the same leaf certificate.
      type: bool
    summary:
      description: The worst staple state across protocols, each protocol's state, and the fewest seconds left.
      type: dict
      contains:
        staple_state:
          description:
            - V(good), V(none) (no staple), V(revoked), V(unknown), V(expired) (valid but past nextUpdate beyond
              the clock skew), V(invalid) (fails any other check, or cannot be validated), or V(unreachable).
          type: str
          sample: good
        staple_states:
          description: The state per protocol.
          type: dict
          contains:
            tls1_3:
              description: The staple state of the TLS 1.3 handshake, when it was requested.
              type: str
            tls1_2:
              description: The staple state of the TLS 1.2 handshake, when it was requested.
              type: str
          sample: {"tls1_3": "good", "tls1_2": "good"}
        seconds_left:
          description: The smallest seconds until nextUpdate among the validated staples, or V(null).
          type: int
    protocols:
      description:
        - Per protocol requested, what the handshake showed, under the keys V(tls1_3) and V(tls1_2) (dot-free, so
          that C(endpoint.protocols.tls1_3.staple.good) works in Jinja and jmespath).
      type: dict
      contains:
        ok:
          description: Whether the handshake completed.
          type: bool
        protocol:
          description: The protocol negotiated.
          type: str
        cipher:
          description: The cipher negotiated.
          type: str
        error:
          description: Why the handshake failed, in one sentence, or V(null).
          type: str
        error_stage:
          description: V(connect), V(timeout), V(handshake) or V(unsupported_protocol), or V(null).
          type: str
        handshakes_made:
          description: Handshakes made for this protocol, warm-up included.
          type: int
        staple_present:
          description: Whether the server stapled a response in the final handshake.
          type: bool
        presented:
          description: The presented certificates in the order sent, each described (subject, issuer, serial,
            sha256, not_before, not_after, san_dns, ocsp_urls, ca_issuers_urls, must_staple, key_type, ...).
          type: list
          elements: dict
          contains:
            subject:
              description: Subject (RFC 4514).
              type: str
            issuer:
              description: Issuer (RFC 4514).
              type: str
            serial:
              description: Serial number, lowercase hex.
              type: str
            sha256:
              description: SHA-256 fingerprint, lowercase hex without colons.
              type: str
            not_before:
              description: Start of validity (ISO 8601 UTC).
              type: str
            not_after:
              description: End of validity (ISO 8601 UTC).
              type: str
            ocsp_urls:
              description: The OCSP responder URLs of the certificate.
              type: list
              elements: str
            ca_issuers_urls:
              description: The caIssuers URLs of the certificate.
              type: list
              elements: str

            sha1:
              description: SHA-1 fingerprint, lowercase hex without colons.
              type: str
            san_dns:
              description: The DNS names of the subjectAltName extension.
              type: list
              elements: str
            must_staple:
              description: Whether the certificate carries the TLS feature status_request (OCSP Must-Staple).
              type: bool
            short_lived:
              description: Whether the validity period (notBefore through notAfter, inclusive) is 7 days or less
                (a short-lived certificate, CA/Browser Forum); such a certificate needs no OCSP or CRL.
              type: bool
            is_ca:
              description: Whether the certificate is a CA certificate (basicConstraints CA:TRUE).
              type: bool
            self_signed:
              description: Whether subject and issuer are the same and the certificate verifies with its own key.
              type: bool
            key_type:
              description: The public key type and size, for example C(RSA-2048) or C(EC-P256).
              type: str
            public_key_sha256:
              description: SHA-256 of the public key (SubjectPublicKeyInfo), or V(null).
              type: str
            signature_algorithm:
              description: The algorithm the issuer signed the certificate with.
              type: str
            subject_key_id:
              description: The subject key identifier, hex, or V(null).
              type: str
            authority_key_id:
              description: The authority key identifier, hex, or V(null).
              type: str
        chain:
          description:
            - Chain verdicts as presented, completed from O(certificate_pool_paths) where needed (order_ok,
              complete, presented_complete, missing_issuer, issuer, extra, duplicates, root_sent, path, problems).
          type: dict
          contains:
            leaf:
              description: The leaf certificate.
              type: dict
              contains:
                subject:
                  description: Subject (RFC 4514).
                  type: str
                issuer:
                  description: Issuer (RFC 4514).
                  type: str
                serial:
                  description: Serial number, lowercase hex.
                  type: str
                sha256:
                  description: SHA-256 fingerprint, lowercase hex without colons.
                  type: str
                not_before:
                  description: Start of validity (ISO 8601 UTC).
                  type: str
                not_after:
                  description: End of validity (ISO 8601 UTC).
                  type: str
                ocsp_urls:
                  description: The OCSP responder URLs of the certificate.
                  type: list
                  elements: str
                ca_issuers_urls:
                  description: The caIssuers URLs of the certificate.
                  type: list
                  elements: str

                sha1:
                  description: SHA-1 fingerprint, lowercase hex without colons.
                  type: str
                san_dns:
                  description: The DNS names of the subjectAltName extension.
                  type: list
                  elements: str
                must_staple:
                  description: Whether the certificate carries the TLS feature status_request (OCSP Must-Staple).
                  type: bool
                short_lived:
                  description: Whether the validity period (notBefore through notAfter, inclusive) is 7 days or less
                    (a short-lived certificate, CA/Browser Forum); such a certificate needs no OCSP or CRL.
                  type: bool
                is_ca:
                  description: Whether the certificate is a CA certificate (basicConstraints CA:TRUE).
                  type: bool
                self_signed:
                  description: Whether subject and issuer are the same and the certificate verifies with its own key.
                  type: bool
                key_type:
                  description: The public key type and size, for example C(RSA-2048) or C(EC-P256).
                  type: str
                public_key_sha256:
                  description: SHA-256 of the public key (SubjectPublicKeyInfo), or V(null).
                  type: str
                signature_algorithm:
                  description: The algorithm the issuer signed the certificate with.
                  type: str
                subject_key_id:
                  description: The subject key identifier, hex, or V(null).
                  type: str
                authority_key_id:
                  description: The authority key identifier, hex, or V(null).
                  type: str

            order_ok:
              description: Whether each presented certificate is issued by the next one.
              type: bool
            complete:
              description: Whether a path to a trust anchor could be built (with the pool).
              type: bool
            presented_complete:
              description: Whether the presented certificates alone reach a trust anchor.
              type: bool
            anchored:
              description: Whether the path ends at a trust anchor, or V(null) when that was not checked.
              type: bool
            missing_issuer:
              description: The subject of the first issuer neither presented nor found, or V(null).
              type: str
            missing_issuer_of:
              description: The subject of the certificate whose issuer is missing, or V(null).
              type: str
            issuer:
              description: The leaf's issuer as found, or V(null).
              type: dict
              contains:
                subject:
                  description: Subject (RFC 4514).
                  type: str
                issuer:
                  description: Issuer (RFC 4514).
                  type: str
                serial:
                  description: Serial number, lowercase hex.
                  type: str
                sha256:
                  description: SHA-256 fingerprint, lowercase hex without colons.
                  type: str
                not_before:
                  description: Start of validity (ISO 8601 UTC).
                  type: str
                not_after:
                  description: End of validity (ISO 8601 UTC).
                  type: str
                ocsp_urls:
                  description: The OCSP responder URLs of the certificate.
                  type: list
                  elements: str
                ca_issuers_urls:
                  description: The caIssuers URLs of the certificate.
                  type: list
                  elements: str

                sha1:
                  description: SHA-1 fingerprint, lowercase hex without colons.
                  type: str
                san_dns:
                  description: The DNS names of the subjectAltName extension.
                  type: list
                  elements: str
                must_staple:
                  description: Whether the certificate carries the TLS feature status_request (OCSP Must-Staple).
                  type: bool
                short_lived:
                  description: Whether the validity period (notBefore through notAfter, inclusive) is 7 days or less
                    (a short-lived certificate, CA/Browser Forum); such a certificate needs no OCSP or CRL.
                  type: bool
                is_ca:
                  description: Whether the certificate is a CA certificate (basicConstraints CA:TRUE).
                  type: bool
                self_signed:
                  description: Whether subject and issuer are the same and the certificate verifies with its own key.
                  type: bool
                key_type:
                  description: The public key type and size, for example C(RSA-2048) or C(EC-P256).
                  type: str
                public_key_sha256:
                  description: SHA-256 of the public key (SubjectPublicKeyInfo), or V(null).
                  type: str
                signature_algorithm:
                  description: The algorithm the issuer signed the certificate with.
                  type: str
                subject_key_id:
                  description: The subject key identifier, hex, or V(null).
                  type: str
                authority_key_id:
                  description: The authority key identifier, hex, or V(null).
                  type: str

            issuer_found_in:
              description: Where the issuer was found (presented, the pool, a trust anchor), or V(null).
              type: str
            extra:
              description: Presented certificates that are not on the path.
              type: list
              elements: dict
              contains:
                subject:
                  description: Subject (RFC 4514).
                  type: str
                issuer:
                  description: Issuer (RFC 4514).
                  type: str
                serial:
                  description: Serial number, lowercase hex.
                  type: str
                sha256:
                  description: SHA-256 fingerprint, lowercase hex without colons.
                  type: str
                not_before:
                  description: Start of validity (ISO 8601 UTC).
                  type: str
                not_after:
                  description: End of validity (ISO 8601 UTC).
                  type: str
                ocsp_urls:
                  description: The OCSP responder URLs of the certificate.
                  type: list
                  elements: str
                ca_issuers_urls:
                  description: The caIssuers URLs of the certificate.
                  type: list
                  elements: str

                sha1:
                  description: SHA-1 fingerprint, lowercase hex without colons.
                  type: str
                san_dns:
                  description: The DNS names of the subjectAltName extension.
                  type: list
                  elements: str
                must_staple:
                  description: Whether the certificate carries the TLS feature status_request (OCSP Must-Staple).
                  type: bool
                short_lived:
                  description: Whether the validity period (notBefore through notAfter, inclusive) is 7 days or less
                    (a short-lived certificate, CA/Browser Forum); such a certificate needs no OCSP or CRL.
                  type: bool
                is_ca:
                  description: Whether the certificate is a CA certificate (basicConstraints CA:TRUE).
                  type: bool
                self_signed:
                  description: Whether subject and issuer are the same and the certificate verifies with its own key.
                  type: bool
                key_type:
                  description: The public key type and size, for example C(RSA-2048) or C(EC-P256).
                  type: str
                public_key_sha256:
                  description: SHA-256 of the public key (SubjectPublicKeyInfo), or V(null).
                  type: str
                signature_algorithm:
                  description: The algorithm the issuer signed the certificate with.
                  type: str
                subject_key_id:
                  description: The subject key identifier, hex, or V(null).
                  type: str
                authority_key_id:
                  description: The authority key identifier, hex, or V(null).
                  type: str

            duplicates:
              description: Certificates presented more than once.
              type: list
              elements: dict
              contains:
                subject:
                  description: Subject (RFC 4514).
                  type: str
                issuer:
                  description: Issuer (RFC 4514).
                  type: str
                serial:
                  description: Serial number, lowercase hex.
                  type: str
                sha256:
                  description: SHA-256 fingerprint, lowercase hex without colons.
                  type: str
                not_before:
                  description: Start of validity (ISO 8601 UTC).
                  type: str
                not_after:
                  description: End of validity (ISO 8601 UTC).
                  type: str
                ocsp_urls:
                  description: The OCSP responder URLs of the certificate.
                  type: list
                  elements: str
                ca_issuers_urls:
                  description: The caIssuers URLs of the certificate.
                  type: list
                  elements: str

                sha1:
                  description: SHA-1 fingerprint, lowercase hex without colons.
                  type: str
                san_dns:
                  description: The DNS names of the subjectAltName extension.
                  type: list
                  elements: str
                must_staple:
                  description: Whether the certificate carries the TLS feature status_request (OCSP Must-Staple).
                  type: bool
                short_lived:
                  description: Whether the validity period (notBefore through notAfter, inclusive) is 7 days or less
                    (a short-lived certificate, CA/Browser Forum); such a certificate needs no OCSP or CRL.
                  type: bool
                is_ca:
                  description: Whether the certificate is a CA certificate (basicConstraints CA:TRUE).
                  type: bool
                self_signed:
                  description: Whether subject and issuer are the same and the certificate verifies with its own key.
                  type: bool
                key_type:
                  description: The public key type and size, for example C(RSA-2048) or C(EC-P256).
                  type: str
                public_key_sha256:
                  description: SHA-256 of the public key (SubjectPublicKeyInfo), or V(null).
                  type: str
                signature_algorithm:
                  description: The algorithm the issuer signed the certificate with.
                  type: str
                subject_key_id:
                  description: The subject key identifier, hex, or V(null).
                  type: str
                authority_key_id:
                  description: The authority key identifier, hex, or V(null).
                  type: str

            root_sent:
              description: Whether the server sent a self-signed root.
              type: bool
            path:
              description: The path built, the leaf first.
              type: list
              elements: dict
              contains:
                subject:
                  description: Subject (RFC 4514).
                  type: str
                issuer:
                  description: Issuer (RFC 4514).
                  type: str
                serial:
                  description: Serial number, lowercase hex.
                  type: str
                sha256:
                  description: SHA-256 fingerprint, lowercase hex without colons.
                  type: str
                not_before:
                  description: Start of validity (ISO 8601 UTC).
                  type: str
                not_after:
                  description: End of validity (ISO 8601 UTC).
                  type: str
                ocsp_urls:
                  description: The OCSP responder URLs of the certificate.
                  type: list
                  elements: str
                ca_issuers_urls:
                  description: The caIssuers URLs of the certificate.
                  type: list
                  elements: str

                sha1:
                  description: SHA-1 fingerprint, lowercase hex without colons.
                  type: str
                san_dns:
                  description: The DNS names of the subjectAltName extension.
                  type: list
                  elements: str
                must_staple:
                  description: Whether the certificate carries the TLS feature status_request (OCSP Must-Staple).
                  type: bool
                short_lived:
                  description: Whether the validity period (notBefore through notAfter, inclusive) is 7 days or less
                    (a short-lived certificate, CA/Browser Forum); such a certificate needs no OCSP or CRL.
                  type: bool
                is_ca:
                  description: Whether the certificate is a CA certificate (basicConstraints CA:TRUE).
                  type: bool
                self_signed:
                  description: Whether subject and issuer are the same and the certificate verifies with its own key.
                  type: bool
                key_type:
                  description: The public key type and size, for example C(RSA-2048) or C(EC-P256).
                  type: str
                public_key_sha256:
                  description: SHA-256 of the public key (SubjectPublicKeyInfo), or V(null).
                  type: str
                signature_algorithm:
                  description: The algorithm the issuer signed the certificate with.
                  type: str
                subject_key_id:
                  description: The subject key identifier, hex, or V(null).
                  type: str
                authority_key_id:
                  description: The authority key identifier, hex, or V(null).
                  type: str

            path_sources:
              description: Where each certificate of RV(endpoints[].protocols.chain.path) came from.
              type: list
              elements: str
            problems:
              description: What is wrong with the chain, one sentence each.
              type: list
              elements: str
            path_validated:
              description: Whether OpenSSL validated the path, or V(null) when it was not asked to.
              type: bool
            path_validation_error:
              description: Why the path validation failed, or V(null).
              type: str
            presented_count:
              description: How many certificates the server presented.
              type: int
        staple:
          description:
            - The staple validated in full, or V(null) when there was none or it could not be validated (then
              RV(endpoints[].protocols.staple_error) says why).
            - The keys are those M(tlsfleet.stapling.ocsp_response_info) returns, among them C(response_status),
              C(cert_status), C(revocation_time), C(revocation_reason), C(this_update), C(next_update),
              C(produced_at), C(seconds_until_next_update), C(signer), C(signature_valid), C(cert_id_matches),
              C(valid), C(good) and C(problems).
          type: dict
          contains:
            response_status:
              description: The OCSP response status (V(successful), V(try_later), V(unauthorized), ...).
              type: str
            cert_status:
              description: V(good), V(revoked) or V(unknown), or V(null) without a status for the certificate.
              type: str
            this_update:
              description: thisUpdate (ISO 8601 UTC).
              type: str
            next_update:
              description: nextUpdate (ISO 8601 UTC), or V(null).
              type: str
            seconds_until_next_update:
              description: Seconds from the check until nextUpdate, or V(null).
              type: int
            signature_valid:
              description: Whether the response's signature verifies with the signer's key.
              type: bool
            cert_id_matches:
              description: Whether the response's CertID is the certificate's.
              type: bool
            valid:
              description: Whether the response passed every check.
              type: bool
            good:
              description: Whether it is valid and says V(good).
              type: bool
            problems:
              description: Why it is not valid, one sentence each.
              type: list
              elements: str
        staple_error:
          description: Why a staple that was present could not be validated, or V(null).
          type: str
"""

import socket

from ansible.module_utils.basic import AnsibleModule

# isort: split
# First of the collection's imports: each one after it is compiled once on the node, not twice (zip_import.py).
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import  # noqa: F401 pylint: disable=unused-import

# isort: split

from ansible_collections.tlsfleet.stapling.plugins.module_utils import endpoint as endpoint_judge
from ansible_collections.tlsfleet.stapling.plugins.module_utils import ocsp, tls_probe, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils.argspec import CLOCK_SKEW, TRUST_ANCHORS, WARMUP, spec
from ansible_collections.tlsfleet.stapling.plugins.module_utils.deps import require_pyopenssl
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import exit_with_result


def resolve(endpoint):
    """The endpoint once per address its host resolves to, as (name, [endpoints], error)."""
    name = endpoint.host
    try:
        infos = socket.getaddrinfo(name, endpoint.port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as error:
        return name, [], "cannot resolve %s: %s" % (name, getattr(error, "strerror", None) or error)
    addresses = []
    for info in infos:
        address = info[4][0]
        if address not in addresses:
            addresses.append(address)
    server_name = endpoint.server_name or name
    return name, [tls_probe.Endpoint(host=a, port=endpoint.port, server_name=server_name) for a in addresses], None


def unresolved_entry(name, endpoint, error) -> dict:
    """The unreachable endpoint reported for a name that did not resolve."""
    return {
        "host": name,
        "port": endpoint.port,
        "server_name": endpoint.server_name or name,
        "label": endpoint.label,
        "resolved_from": name,
        "resolve_error": error,
        "reachable": False,
        "warmup_used": False,
        "leaf_sha256": None,
        "same_leaf_for_all_protocols": True,
        "protocols": {},
        "summary": {"staple_state": "unreachable", "staple_states": {}, "seconds_left": None},
    }


def endpoints_from(params) -> list:
    endpoints = []
    for given in params["endpoints"]:
        item = given or {}
        endpoints.append(
            tls_probe.Endpoint(
                host=item.get("host") or params["host"],
                port=int(item.get("port") or params["port"]),
                server_name=item.get("server_name") or None,
            )
        )
    for name in params["server_names"]:
        # With resolve_all the name itself is looked up, as a client of that name would.
        host = name if params["resolve_all"] else params["host"]
        endpoints.append(tls_probe.Endpoint(host=host, port=params["port"], server_name=name))
    if not endpoints:
        endpoints.append(tls_probe.Endpoint(host=params["host"], port=params["port"]))
    return endpoints


def trust_anchors(paths) -> list:
    """The named anchor files, or the first system CA bundle found when none are named."""
    if not paths:
        return x509.system_trust_anchors()
    anchors = []
    for path in paths:
        anchors.extend(x509.load_certificates_from_path(path, "trust anchor file"))
    return anchors


def run(params) -> dict:
    pool = []
    for path in params["certificate_pool_paths"]:
        pool.extend(x509.load_certificates_from_path(path, "certificate pool file"))
    anchors = trust_anchors(params["trust_anchor_paths"])
    plan = []  # (endpoint to probe, resolved_from) or (None, unresolved entry)
    for endpoint in endpoints_from(params):
        if not params["resolve_all"]:
            plan.append((endpoint, None))
            continue
        name, resolved, error = resolve(endpoint)
        if error:
            plan.append((None, unresolved_entry(name, endpoint, error)))
        plan.extend((item, name) for item in resolved)
    probes = tls_probe.probe_endpoints(
        [endpoint for endpoint, _origin in plan if endpoint is not None],
        max_workers=params["max_workers"],
        protocols=params["protocols"],
        timeout=params["timeout"],
        warmup_attempts=params["warmup_attempts"],
        warmup_delay=params["warmup_delay"],
        wants_staple=endpoint_judge.wants_staple,
    )
    judged = iter(
        endpoint_judge.judge_probe(p, pool=pool, anchors=anchors, skew_seconds=params["clock_skew"]) for p in probes
    )
    results = []
    for endpoint, origin in plan:
        if endpoint is None:
            results.append(origin)
            continue
        entry = next(judged)
        entry["resolved_from"] = origin
        entry["resolve_error"] = None
        results.append(entry)
    return {"endpoints": results}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "endpoints": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "host": {"type": "str"},
                    "port": {"type": "int"},
                    "server_name": {"type": "str"},
                },
            },
            "server_names": {"type": "list", "elements": "str", "default": []},
            "host": {"type": "str", "default": "127.0.0.1"},
            "port": {"type": "int", "default": 443},
            "protocols": {
                "type": "list",
                "elements": "str",
                "choices": ["TLSv1.3", "TLSv1.2"],
                "default": ["TLSv1.3", "TLSv1.2"],
            },
            "timeout": {"type": "float", "default": 5.0},
            **spec(WARMUP, TRUST_ANCHORS, CLOCK_SKEW),
            "certificate_pool_paths": {"type": "list", "elements": "path", "default": []},
            "max_workers": {"type": "int", "default": 16},
            "resolve_all": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    require_pyopenssl(module)
    if ocsp.skew_problem(module.params["clock_skew"]):
        module.fail_json(msg=ocsp.skew_problem(module.params["clock_skew"]))
    if module.params["timeout"] <= 0 or module.params["warmup_attempts"] < 0 or module.params["max_workers"] < 1:
        module.fail_json(msg="timeout must be positive, warmup_attempts zero or more, and max_workers at least 1.")
    exit_with_result(module, run, module.params)


if __name__ == "__main__":
    main()
