#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ocsp_response_info
short_description: Validate an OCSP response file against a certificate and its issuer
version_added: 0.1.0
description:
  - Reads an OCSP response held on the managed node, for example the C(.ocsp) file HAProxy staples or the file
    named by nginx C(ssl_stapling_file), and validates it fully for a certificate, as a TLS client would.
  - Checks the response status, the signature, that the signer is the issuer or a responder certificate the issuer
    signed with the OCSP Signing extended key usage (included in the response and valid at the time checked), that
    the response is for this certificate (serial number, issuer name hash and issuer key hash, for whatever hash
    the response uses, across every certificate status in the response), and that it is fresh (thisUpdate not in
    the future and nextUpdate not in the past, allowing O(clock_skew)).
  - Reports each failed check as one plain sentence in RV(problems). Never changes anything.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.attributes.info_module
  - tlsfleet.stapling.requirements.cryptography
  - tlsfleet.stapling.options.certificate_input
  - tlsfleet.stapling.options.clock_skew
  - tlsfleet.stapling.code_cache
options:
  path:
    description:
      - Path on the managed node of the OCSP response, DER encoded or base64 text.
      - Exactly one of O(path) and O(content) is required.
    type: path
  content:
    description:
      - The OCSP response as base64 text (whitespace is ignored), for example read with M(ansible.builtin.slurp).
      - Exactly one of O(path) and O(content) is required.
    type: str
  valid_at:
    description:
      - The time to judge freshness at, as an ISO 8601 timestamp such as V(2026-11-23T19:31:00Z). A timestamp
        without a time zone is taken as UTC.
      - Defaults to the current time of the managed node.
    type: str
notes:
  - Exactly one of O(certificate_path) and O(certificate_content) is required.
  - O(clock_skew) applies around O(valid_at) when it is given.
  - RV(valid) says whether the response can be trusted, not whether the certificate is fine. A correctly signed
    response saying V(revoked) is valid; use RV(good) to require a valid response with certificate status V(good).
  - A response without nextUpdate is valid per RFC 6960; it is still listed in RV(problems), since servers cannot
    tell when to refresh it.
  - Responses with several certificate statuses need cryptography 37 or later to be read.
seealso:
  - name: RFC 6960, section 3.2 (signed response acceptance requirements)
    description: What a client must check before it accepts an OCSP response.
    link: https://www.rfc-editor.org/rfc/rfc6960#section-3.2
  - name: nginx ssl_stapling_file
    description: An nginx directive that staples a response read from a file instead of fetching it.
    link: https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_stapling_file
  - name: HAProxy OCSP stapling
    description: HAProxy staples the response found in the C(.ocsp) file next to each certificate.
    link: https://docs.haproxy.org/3.0/configuration.html#5.1-crt
"""

EXAMPLES = r"""
---
- name: Check the response HAProxy staples for a site (issuer taken from the bundle)
  tlsfleet.stapling.ocsp_response_info:
    path: /etc/haproxy/certs/www.example.com.pem.ocsp
    certificate_path: /etc/haproxy/certs/www.example.com.pem
  register: staple

- name: Fail when the stapled response is not usable for the certificate
  ansible.builtin.assert:
    that:
      - staple.good
    fail_msg: "{{ staple.problems | join(' ') }}"

- name: Check an nginx ssl_stapling_file with an explicit issuer, one hour from now
  tlsfleet.stapling.ocsp_response_info:
    path: /etc/nginx/ocsp/www.example.com.der
    certificate_path: /etc/ssl/certs/www.example.com.crt
    issuer_path: /etc/ssl/certs/intermediate.crt
    valid_at: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now(utc=true).timestamp() + 3600, utc=true) }}"
  register: soon

- name: Check a response fetched on the controller
  tlsfleet.stapling.ocsp_response_info:
    content: "{{ lookup('ansible.builtin.file', 'responses/www.b64') }}"
    certificate_content: "{{ lookup('ansible.builtin.file', 'certs/www-fullchain.pem') }}"
  delegate_to: localhost
"""

RETURN = r"""
response_status:
  description:
    - The OCSP response status. Anything but V(successful) carries no certificate status.
  returned: success
  type: str
  choices: [successful, malformed_request, internal_error, try_later, sig_required, unauthorized]
  sample: successful
cert_status:
  description: The certificate status the response gives for the certificate, or V(null) when the response has none.
  returned: success
  type: str
  choices: [good, revoked, unknown]
  sample: good
revocation_time:
  description: When the certificate was revoked (ISO 8601 UTC), when RV(cert_status=revoked).
  returned: success
  type: str
  sample: "2026-11-20T08:00:00Z"
revocation_reason:
  description: The revocation reason, such as V(key_compromise) or V(superseded), when the response gives one.
  returned: success
  type: str
  sample: key_compromise
this_update:
  description: The thisUpdate time of the certificate status (ISO 8601 UTC).
  returned: success
  type: str
  sample: "2026-11-23T18:00:00Z"
next_update:
  description: The nextUpdate time of the certificate status (ISO 8601 UTC), V(null) when the response has none.
  returned: success
  type: str
  sample: "2026-11-30T18:00:00Z"
produced_at:
  description: When the responder produced the response (ISO 8601 UTC).
  returned: success
  type: str
  sample: "2026-11-23T18:00:00Z"
seconds_until_next_update:
  description: Seconds from O(valid_at) to nextUpdate; negative when nextUpdate is past, V(null) when absent.
  returned: success
  type: int
  sample: 599400
signer:
  description:
    - Who signed the response. V(issuer) is the certificate's issuer. V(delegated) is an authorized delegated
      responder (issued by the issuer, with the OCSP Signing extended key usage, valid at O(valid_at)).
      V(unknown) is anyone else, including a delegated certificate that is not authorized.
  returned: success
  type: str
  choices: [issuer, delegated, unknown]
  sample: issuer
signer_subject:
  description: The subject of the signing certificate, when known.
  returned: success
  type: str
  sample: "CN=Example Intermediate CA,O=Example"
signer_authorized:
  description: Whether the signer may sign OCSP responses for the certificate's issuer.
  returned: success
  type: bool
responder_id:
  description: The responder ID of the response, a name or C(key hash) followed by hex.
  returned: success
  type: str
  sample: "key hash 8fac0278a4dc0d37de83a482b4d1916cbc7358e7"
signature_valid:
  description: Whether the response signature verifies with the signer's public key.
  returned: success
  type: bool
signature_algorithm:
  description: The response's signature algorithm.
  returned: success
  type: str
  sample: ecdsa-with-SHA256
cert_id_matches:
  description:
    - Whether the response holds a certificate status for this certificate (serial number, issuer name hash and
      issuer key hash all match).
  returned: success
  type: bool
cert_id_hash:
  description: The hash algorithm of the CertID used, such as V(sha1) or V(sha256).
  returned: success
  type: str
  sample: sha1
single_responses:
  description: How many certificate statuses the response holds.
  returned: success
  type: int
  sample: 1
valid:
  description:
    - Whether the response can be trusted for the certificate, at O(valid_at) within O(clock_skew).
    - True only when the status is V(successful), the signature is valid, the signer is authorized, the response is
      for this certificate, thisUpdate is not in the future and nextUpdate (when present) is not past.
  returned: success
  type: bool
good:
  description: Whether RV(valid) is true and RV(cert_status) is V(good).
  returned: success
  type: bool
problems:
  description:
    - One plain sentence per failed check, plus the certificate's revoked or unknown status and a missing
      nextUpdate. Empty when everything is fine.
  returned: success
  type: list
  elements: str
  sample:
    - "the response expired: its nextUpdate 2026-11-20T18:00:00Z is before 2026-11-23T19:31:00Z
      (allowing 300 seconds of clock skew)."
checked_at:
  description: The time the response was judged at (ISO 8601 UTC).
  returned: success
  type: str
  sample: "2026-11-23T19:31:00Z"
clock_skew:
  description: The clock skew allowed, in seconds.
  returned: success
  type: int
  sample: 300
response_sha256:
  description: SHA-256 fingerprint of the DER response (lowercase hex), to compare responses across nodes.
  returned: success
  type: str
certificate:
  description: The certificate that was checked.
  returned: success
  type: dict
  contains:
    subject:
      description: Subject (RFC 4514).
      type: str
      sample: "CN=www.example.com"
    serial:
      description: Serial number, lowercase hex with an even number of digits.
      type: str
      sample: "04a1f3"
    sha256:
      description: SHA-256 fingerprint, lowercase hex without colons.
      type: str
    not_after:
      description: End of validity (ISO 8601 UTC).
      type: str
    ocsp_urls:
      description: The OCSP responder URLs of the certificate.
      type: list
      elements: str
    must_staple:
      description: Whether the certificate requires a stapled response (TLS Feature status_request).
      type: bool
issuer:
  description: The issuer certificate the response was checked against.
  returned: success
  type: dict
  contains:
    subject:
      description: Subject (RFC 4514).
      type: str
    sha256:
      description: SHA-256 fingerprint, lowercase hex without colons.
      type: str
    source:
      description: Where the issuer was found.
      type: str
      choices: [issuer_path, issuer_content, certificate_path, certificate_content]
"""

from ansible.module_utils.basic import AnsibleModule

# isort: split
# First of the collection's imports: each one after it is compiled once on the node, not twice (zip_import.py).
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import  # noqa: F401 pylint: disable=unused-import

# isort: split

from ansible_collections.tlsfleet.stapling.plugins.module_utils import ocsp
from ansible_collections.tlsfleet.stapling.plugins.module_utils.argspec import CERTIFICATE_INPUT, CLOCK_SKEW, spec
from ansible_collections.tlsfleet.stapling.plugins.module_utils.deps import require_cryptography
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, exit_with_result

try:
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.chain import find_issuer
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.ocsp import load_response, validate_response
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.x509 import (
        describe,
        load_certificates,
        name_string,
        parse_time,
        read_input_file,
    )
except ImportError:  # only when cryptography is missing; require_cryptography() reports it
    pass


def _load_certs(params, path_key, content_key, description):
    if params[path_key] is not None:
        path = params[path_key]
        source = f"{description} {path}"
        return load_certificates(read_input_file(path, description), source), source, path_key
    source = f"{content_key.replace('_', ' ')}"
    return load_certificates(params[content_key], source), source, content_key


def run(params) -> dict:
    at = parse_time(params["valid_at"], "valid_at") if params["valid_at"] else None
    skew = params["clock_skew"]
    if skew < 0:
        raise InputError(f"clock_skew must be zero or more seconds, not {skew}.")

    if params["path"] is not None:
        source = f"ocsp response {params['path']}"
        data = read_input_file(params["path"], "ocsp response")
    else:
        source = "ocsp response content"
        data = params["content"]
    response = load_response(data, source)
    certs, cert_source, cert_key = _load_certs(params, "certificate_path", "certificate_content", "certificate file")
    cert = certs[0]
    if params["issuer_path"] is not None or params["issuer_content"] is not None:
        candidates, issuer_source, issuer_key = _load_certs(params, "issuer_path", "issuer_content", "issuer file")
        issuer = find_issuer(cert, candidates)
        if issuer is None:
            raise InputError(
                f"none of the certificates in {issuer_source} issued the certificate '{name_string(cert.subject)}' "
                f"(its issuer is '{name_string(cert.issuer)}')."
            )
    else:
        issuer_key = cert_key
        issuer = find_issuer(cert, certs[1:])
        if issuer is None:
            raise InputError(
                f"the issuer '{name_string(cert.issuer)}' of the certificate '{name_string(cert.subject)}' is not in "
                f"{cert_source}; give it with issuer_path or issuer_content."
            )

    verdict = validate_response(response, cert, issuer, at=at, skew_seconds=skew, source=source)
    result = verdict.to_dict()
    info = describe(cert)
    result["certificate"] = {
        "subject": info.subject,
        "serial": info.serial,
        "sha256": info.sha256,
        "not_after": info.not_after,
        "ocsp_urls": info.ocsp_urls,
        "must_staple": info.must_staple,
    }
    issuer_info = describe(issuer)
    result["issuer"] = {"subject": issuer_info.subject, "sha256": issuer_info.sha256, "source": issuer_key}
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path"},
            "content": {"type": "str"},
            **spec(CERTIFICATE_INPUT, CLOCK_SKEW),
            "valid_at": {"type": "str"},
        },
        mutually_exclusive=[
            ("path", "content"),
            ("certificate_path", "certificate_content"),
            ("issuer_path", "issuer_content"),
        ],
        required_one_of=[("path", "content"), ("certificate_path", "certificate_content")],
        supports_check_mode=True,
    )
    require_cryptography(module)
    if ocsp.skew_problem(module.params["clock_skew"]):
        module.fail_json(msg=ocsp.skew_problem(module.params["clock_skew"]))
    exit_with_result(module, run, module.params)


if __name__ == "__main__":
    main()
