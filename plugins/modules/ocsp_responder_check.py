#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ocsp_responder_check
short_description: Test, from the node, the path to a certificate's OCSP responder stage by stage
version_added: 0.1.0
description:
  - A server can only staple what it can fetch from its own network. This module asks the certificate's OCSP
    responder for the certificate's status from the managed node, the way the node's web server would, and
    reports stage by stage where the path breaks, with timings; DNS (the node's resolver), TCP connect, the HTTP
    exchange (POST, or GET as RFC 6960 Appendix A describes; through the node's proxy settings or O(proxy)),
    then the answer validated in full as OCSP.
  - The certificate comes from a file or PEM content, or from what an endpoint serves (O(endpoint)). Its issuer
    comes from O(issuer_path), O(issuer_content), the rest of the certificate's bundle, or the endpoint's
    presented chain.
  - Every responder URL of the certificate is probed (or only O(url)), concurrently, each within O(timeout)
    seconds in all. A responder that hangs or floods cannot hold the module longer; the answer is read up to
    O(body_limit) bytes.
  - Never changes anything.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.attributes.responder_group
  - tlsfleet.stapling.attributes.info_module
  - tlsfleet.stapling.requirements.cryptography
  - tlsfleet.stapling.options.certificate_input
  - tlsfleet.stapling.options.proxy
  - tlsfleet.stapling.options.clock_skew
  - tlsfleet.stapling.code_cache
options:
  endpoint:
    description:
      - Ask about the certificate this TLS endpoint serves; its presented chain supplies the issuer. Needs pyOpenSSL.
    type: dict
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
  url:
    description:
      - Probe this responder URL instead of the certificate's own (its AIA OCSP URLs). Use it to test a responder
        override such as nginx C(ssl_stapling_responder) or Apache C(SSLStaplingForceURL).
    type: str
  method:
    description: HTTP method; V(both) probes with POST and with GET.
    type: str
    choices: [POST, GET, both]
    default: POST
  timeout:
    description: Seconds one probe may take in all (DNS, connect, HTTP exchange and reading the answer).
    type: float
    default: 10.0
  body_limit:
    description: Largest answer read, in bytes; real OCSP responses are a few KiB.
    type: int
    default: 65536
  hash_algorithm:
    description: Hash for the CertID of the request. Most servers use SHA-1.
    type: str
    choices: [sha1, sha256]
    default: sha1
notes:
  - Exactly one of O(certificate_path), O(certificate_content) and O(endpoint) is required.
  - The DNS stage uses the node's resolver (C(/etc/resolv.conf)). nginx resolves responders with its own
    C(resolver) directive instead; M(tlsfleet.stapling.node_audit) compares the two.
seealso:
  - module: tlsfleet.stapling.tls_endpoint_info
  - module: tlsfleet.stapling.ocsp_response_info
"""

EXAMPLES = r"""
---
- name: Can this node reach the responder of the certificate nginx serves for www?
  tlsfleet.stapling.ocsp_responder_check:
    endpoint:
      server_name: www.example.com
  register: responder

- name: Say where the path breaks
  ansible.builtin.debug:
    msg: "{{ responder.responders | map(attribute='error') | list }}"
  when: not responder.reachable

- name: Check the responder of a deployed certificate through the corporate proxy, POST and GET
  tlsfleet.stapling.ocsp_responder_check:
    certificate_path: /etc/ssl/example/fullchain.pem
    proxy: http://proxy.internal:3128
    method: both
    timeout: 5
"""

RETURN = r"""
reachable:
  description: Whether every probed responder URL answered with a usable OCSP response.
  returned: always
  type: bool
failed_stage:
  description:
    - The first failing stage among the probes; V(dns), V(connect), V(timeout), V(proxy), V(http) (no usable HTTP
      answer, e.g. HTTP 503), V(ocsp) (an answer that is not a usable OCSP response, e.g. an HTML page, the wrong
      content type, V(try_later), V(unauthorized), or a response failing validation), or V(null).
  returned: always
  type: str
certificate:
  description: The certificate asked about.
  returned: always
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
issuer:
  description: Subject of the issuer used to build the request.
  returned: always
  type: str
responders:
  description: One entry per URL and method probed.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The responder URL.
      type: str
    reachable:
      description: Whether the path worked up to an HTTP answer (the OCSP stage can still fail).
      type: bool
    failed_stage:
      description: As RV(failed_stage), for this probe.
      type: str
    error:
      description: What failed, in one sentence, or V(null).
      type: str
    proxy:
      description: The proxy used, or V(null).
      type: str
    addresses:
      description: The addresses the name (or the proxy's name) resolved to.
      type: list
      elements: str
    connected_to:
      description: The address the TCP connection was made to.
      type: str
    dns:
      description: The DNS stage.
      type: dict
      contains:
        ok:
          description: Whether the stage succeeded.
          type: bool
        ms:
          description: How long the stage took, in milliseconds, or V(null) when it did not run.
          type: int
        error:
          description: Why the stage failed, or V(null).
          type: str
    connect:
      description: The TCP connect stage.
      type: dict
      contains:
        ok:
          description: Whether the stage succeeded.
          type: bool
        ms:
          description: How long the stage took, in milliseconds, or V(null) when it did not run.
          type: int
        error:
          description: Why the stage failed, or V(null).
          type: str
    http:
      description: The HTTP stage.
      type: dict
      contains:
        ok:
          description: Whether the stage succeeded.
          type: bool
        ms:
          description: How long the stage took, in milliseconds, or V(null) when it did not run.
          type: int
        error:
          description: Why the stage failed, or V(null).
          type: str

        method:
          description: V(GET) or V(POST).
          type: str
        status:
          description: The HTTP status code, or V(null) without an answer.
          type: int
        content_type:
          description: The Content-Type of the answer, or V(null).
          type: str
        bytes:
          description: How many bytes of body were read.
          type: int
        truncated:
          description: Whether the body exceeded O(body_limit) and was cut.
          type: bool
    total_ms:
      description: Time the probe took.
      type: int
    ocsp:
      description:
        - The answer validated in full (keys as returned by M(tlsfleet.stapling.ocsp_response_info)), or V(null)
          when there was no answer to validate.
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
    ocsp_problems:
      description: Why the answer is not usable, one sentence each.
      type: list
      elements: str
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

# isort: split
# First of the collection's imports: each one after it is compiled once on the node, not twice (zip_import.py).
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import  # noqa: F401 pylint: disable=unused-import

# isort: split

from ansible_collections.tlsfleet.stapling.plugins.module_utils import chain, ocsp, responder_probe, tls_probe, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils.argspec import (
    CERTIFICATE_INPUT,
    CLOCK_SKEW,
    ENDPOINT_OPTIONS,
    PROXY,
    spec,
)
from ansible_collections.tlsfleet.stapling.plugins.module_utils.deps import require_cryptography, require_pyopenssl
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, exit_with_result


def _certificate_and_bundle(params):
    if params["certificate_path"]:
        certs = x509.load_certificates_from_path(params["certificate_path"], "certificate file")
        return certs[0], certs[1:]
    if params["certificate_content"]:
        certs = x509.load_certificates(params["certificate_content"].encode("utf-8"), "certificate_content")
        return certs[0], certs[1:]
    wanted = params["endpoint"]
    target = tls_probe.Endpoint(wanted["host"], wanted["port"], wanted.get("server_name"))
    shake = None
    for protocol in tls_probe.PROTOCOLS:
        shake = tls_probe.handshake(target, protocol, timeout=min(params["timeout"], 10.0))
        if shake.ok and shake.chain_der:
            break
    if shake is None or not shake.ok or not shake.chain_der:
        raise InputError("cannot read the certificate %s serves: %s" % (target.label, shake.error if shake else ""))
    certs = []
    for index, der in enumerate(shake.chain_der):
        certs.extend(x509.load_certificates(der, "certificate %d presented by %s" % (index + 1, target.label)))
    return certs[0], certs[1:]


def _issuer(params, cert, bundle):
    if params["issuer_path"]:
        candidates = x509.load_certificates_from_path(params["issuer_path"], "issuer file")
    elif params["issuer_content"]:
        candidates = x509.load_certificates(params["issuer_content"].encode("utf-8"), "issuer_content")
    else:
        candidates = bundle
    issuer = chain.find_issuer(cert, candidates)
    if issuer is None:
        where = (
            "the issuer given" if (params["issuer_path"] or params["issuer_content"]) else "the certificate's bundle"
        )
        raise InputError(
            "the issuer of %s (%s) is not in %s: give it with issuer_path or issuer_content."
            % (x509.name_string(cert.subject), x509.name_string(cert.issuer), where)
        )
    return issuer


def run(params) -> dict:
    cert, bundle = _certificate_and_bundle(params)
    issuer = _issuer(params, cert, bundle)
    urls = [params["url"]] if params["url"] else x509.ocsp_urls(cert)
    info = x509.describe(cert).to_dict()
    if not urls:
        raise InputError(
            "the certificate %s names no OCSP responder (no AIA OCSP URL), so there is nothing to probe; "
            "give url to probe a responder anyway." % info["subject"]
        )
    methods = ["POST", "GET"] if params["method"] == "both" else [params["method"]]
    jobs = [(url, method) for url in urls for method in methods]

    def one(job):
        url, method = job
        return responder_probe.check(
            url,
            cert,
            issuer,
            timeout=params["timeout"],
            method=method,
            proxy=params["proxy"],
            use_env_proxy=params["use_proxy"],
            body_limit=params["body_limit"],
            hash_name=params["hash_algorithm"],
            skew_seconds=params["clock_skew"],
        )

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        responders = list(pool.map(one, jobs))
    failed = [r for r in responders if r["failed_stage"]]
    return {
        "reachable": not failed,
        "failed_stage": failed[0]["failed_stage"] if failed else None,
        "certificate": info,
        "issuer": x509.name_string(issuer.subject),
        "responders": responders,
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **spec(CERTIFICATE_INPUT, PROXY, CLOCK_SKEW),
            "endpoint": {"type": "dict", "options": spec(ENDPOINT_OPTIONS)},
            "url": {"type": "str"},
            "method": {"type": "str", "choices": ["POST", "GET", "both"], "default": "POST"},
            "timeout": {"type": "float", "default": 10.0},
            "body_limit": {"type": "int", "default": 65536},
            "hash_algorithm": {"type": "str", "choices": ["sha1", "sha256"], "default": "sha1"},
        },
        required_one_of=[("certificate_path", "certificate_content", "endpoint")],
        mutually_exclusive=[("certificate_path", "certificate_content", "endpoint"), ("issuer_path", "issuer_content")],
        supports_check_mode=True,
    )
    require_cryptography(module)
    if ocsp.skew_problem(module.params["clock_skew"]):
        module.fail_json(msg=ocsp.skew_problem(module.params["clock_skew"]))
    if module.params["endpoint"] is not None:
        require_pyopenssl(module)
    if module.params["timeout"] <= 0 or module.params["body_limit"] < 1:
        module.fail_json(msg="timeout and body_limit must be positive.")
    exit_with_result(module, run, module.params)


if __name__ == "__main__":
    main()
