#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_bundle
short_description: Write the full chain, chain and trusted files of a server certificate in the right order
version_added: 0.1.0
description:
  - Takes a server certificate (the leaf) and a pool of intermediate certificates given in any order, with
    duplicates, roots and unrelated certificates mixed in, finds the leaf's issuer path, and writes the files a TLS
    server needs.
  - The full chain (O(fullchain_dest)) holds the leaf first, then each intermediate followed by its issuer, as nginx
    C(ssl_certificate), Apache C(SSLCertificateFile) and HAProxy C(crt) expect.
  - The chain (O(chain_dest)) holds the intermediates only, the leaf's issuer first, as Apache
    C(SSLCertificateChainFile) or certbot's C(chain.pem).
  - The trusted file (O(trusted_dest)) holds the intermediates and the root, which is what nginx
    C(ssl_trusted_certificate) needs for C(ssl_stapling_verify on). nginx never reads the system CA store, and OpenSSL
    only accepts a response signed by a delegated OCSP responder with the full chain up to a trusted root.
  - Every link of the path is checked by issuer name and signature, so a certificate with the right name but another
    key, or a cross-signed variant that leads to no known root, is not picked. The module fails, naming the missing
    certificate, when the path cannot be completed; nothing is written then.
  - Missing issuers can be downloaded from the caIssuers URL of the certificate that lacks one (O(fetch_issuers)).
  - Files are only replaced when their content or attributes differ, atomically, with an optional backup.
  - With none of O(fullchain_dest), O(chain_dest) and O(trusted_dest), nothing is written and the ordered chain is
    only returned (RV(chain_pem)), for example to build it on the controller.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.requirements.cryptography
  - ansible.builtin.files
  - ansible.builtin.backup
  - tlsfleet.stapling.options.trust_anchors
  - tlsfleet.stapling.code_cache
attributes:
  check_mode:
    support: full
    details:
      - In check mode caIssuers URLs are still downloaded when O(fetch_issuers=true), since that changes nothing.
  diff_mode:
    support: full
    details:
      - The diff shows one line per certificate (subject, issuer, SHA-256 fingerprint, notAfter) for each file, never
        PEM text or key material.
options:
  certificate_path:
    description:
      - Path on the managed node of the server certificate, PEM or DER.
      - The first certificate in the file is the leaf. Further certificates (for example an existing full chain) are
        added to the pool. A private key in the same file is ignored.
      - Exactly one of O(certificate_path) and O(certificate_content) is required.
    type: path
  certificate_content:
    description:
      - The server certificate as PEM text, used like O(certificate_path).
      - Do not put a private key here; use O(private_key_path). A key found here is ignored, hidden from the output,
        and reported with a warning.
    type: str
    aliases: [certificate]
  intermediates:
    description:
      - Candidate intermediate certificates as PEM text. Each item may hold several certificates, in any order.
      - Duplicates, roots and certificates that are not on the leaf's path are allowed; the ones not used are
        reported in RV(ignored) and with a warning.
    type: list
    elements: str
    default: []
  intermediate_paths:
    description:
      - Files on the managed node with candidate intermediate certificates (PEM, several per file, or DER), used like
        O(intermediates).
    type: list
    elements: path
    default: []
  require_root:
    description:
      - Whether the path must end at a self-signed root found in the pool or the trust anchors.
      - With V(false), a path that stops at an intermediate whose issuer is unknown is accepted (as long as the leaf's
        issuer is known), with a warning. The trusted file then lacks the root, which is enough for
        C(ssl_stapling) but not for C(ssl_stapling_verify) with responses signed by a delegated OCSP responder.
    type: bool
    default: true
  fetch_issuers:
    description:
      - Download missing issuers from the caIssuers URL (Authority Information Access) of the certificate that lacks
        one, repeatedly up the path. The answer may be a DER or PEM certificate or a PKCS#7 certs-only bundle.
      - Only C(http) and C(https) URLs are fetched, from the managed node, through the proxy of its environment
        (C(http_proxy)); at most 8 downloads of up to 1 MiB each. Fetched URLs are listed in RV(fetched).
      - To fetch on the controller instead, run the module there (C(delegate_to=localhost)) without destinations and
        pass RV(chain_pem) on as O(intermediates).
    type: bool
    default: false
  fetch_timeout:
    description: Seconds to wait for each caIssuers download.
    type: int
    default: 10
  include_root:
    description:
      - Append the root to the full chain and the chain files. Clients ignore a root sent by the server, so this only
        adds bytes; leave it off unless a consumer needs it.
      - Fails when no root is known. The trusted file always holds the root when one is known.
    type: bool
    default: false
  private_key_path:
    description:
      - Path on the managed node of the private key the server uses with the certificate. The module fails, before
        writing anything, when the key does not belong to the certificate.
      - The key is read on the node only to compare public keys and is never returned. Encrypted keys are refused (no
        passphrase is taken).
    type: path
  fullchain_dest:
    description: Where to write the full chain (leaf, then the intermediates). Its directory must exist.
    type: path
  private_key_content:
    description:
      - The private key of the certificate, PEM text, to write to O(private_key_dest). It must belong to the
        certificate. Never returned, logged or shown in a diff.
      - Required with O(private_key_dest).
    type: str
  private_key_dest:
    description:
      - Where to write O(private_key_content). Its directory must exist.
      - When it names the same file as O(fullchain_dest), one combined file is written - the full chain, then the
        key - as HAProxy loads it.
      - A file that holds the key, and its backup, is created with mode V(0600) (by C(open) with that mode, never
        changed afterwards to get there), so no other user can read it at any moment; O(mode), O(owner) and
        O(group) are then applied as given.
    type: path
  chain_dest:
    description:
      - Where to write the intermediates only, the leaf's issuer first. Its directory must exist.
      - Fails when the leaf is issued directly by the root and O(include_root) is not set, as the file would be empty.
    type: path
  trusted_dest:
    description:
      - Where to write the trusted file (the intermediates, then the root when known), for nginx
        C(ssl_trusted_certificate). Its directory must exist.
    type: path
  backup:
    description:
      - Keep a timestamped copy of each file that is replaced. No backup is made of a file whose content stays the
        same, or of a file that did not exist.
notes:
  - A root found in O(trust_anchor_paths) or among the given certificates ends the path and goes into the trusted
    file.
  - The files get the same O(mode), O(owner) and O(group). Those without a key hold public certificates only.
  - All files are computed and checked before the first one is replaced.
  - When a destination is a symbolic link (such as certbot's C(live/) files), the file it points to is replaced and
    the link is kept.
seealso:
  - name: nginx ssl_trusted_certificate and ssl_stapling_verify
    description: What nginx needs to verify the OCSP responses it staples.
    link: https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_stapling_verify
  - name: Apache SSLCertificateFile
    description: Apache reads the certificate and its intermediates, sorted from leaf to root, from this file.
    link: https://httpd.apache.org/docs/2.4/mod/mod_ssl.html#sslcertificatefile
  - module: tlsfleet.stapling.tls_endpoint_info
    description: Check what the server then presents and staples.
"""

EXAMPLES = r"""
---
- name: Write nginx's full chain and trusted file from the certificate and a CA bundle in any order
  tlsfleet.stapling.certificate_bundle:
    certificate_path: /etc/ssl/acme/www.example.com/cert.pem
    intermediate_paths:
      - /etc/ssl/acme/www.example.com/ca-bundle.pem
    private_key_path: /etc/ssl/private/www.example.com.key
    fullchain_dest: /etc/nginx/tls/www.example.com.fullchain.pem
    trusted_dest: /etc/nginx/tls/www.example.com.trusted.pem
    mode: "0644"
    backup: true
  notify: Reload nginx

- name: Complete a certificate whose intermediates were lost, downloading them from the caIssuers URLs
  tlsfleet.stapling.certificate_bundle:
    certificate_path: /etc/apache2/tls/shop.example.com.crt
    fetch_issuers: true
    chain_dest: /etc/apache2/tls/shop.example.com.chain.pem
  register: bundle

- name: Show what was downloaded
  ansible.builtin.debug:
    msg: "{{ bundle.fetched }}"

- name: Private CA whose root is not in the system store
  tlsfleet.stapling.certificate_bundle:
    certificate_path: /etc/haproxy/certs/api.internal.crt
    intermediate_paths: [/etc/pki/internal/intermediates.pem]
    trust_anchor_paths: [/etc/pki/internal/root.pem]
    fullchain_dest: /etc/haproxy/certs/api.internal.pem.chain

# Fetching on the controller: nodes without egress get the chain built there.
- name: Build the chain on the controller (nothing written there)
  tlsfleet.stapling.certificate_bundle:
    certificate_content: "{{ lookup('ansible.builtin.file', 'certs/www.example.com.crt') }}"
    fetch_issuers: true
  delegate_to: localhost
  run_once: true
  register: controller_chain

- name: Write the files on the nodes from the chain built on the controller
  tlsfleet.stapling.certificate_bundle:
    certificate_path: /etc/nginx/tls/www.example.com.crt
    intermediates:
      - "{{ controller_chain.chain_pem }}"
    fullchain_dest: /etc/nginx/tls/www.example.com.fullchain.pem
    trusted_dest: /etc/nginx/tls/www.example.com.trusted.pem
"""

RETURN = r"""
leaf:
  description: The server certificate.
  returned: success
  type: dict
  contains:
    subject:
      description: Subject (RFC 4514).
      type: str
      sample: "CN=www.example.com"
    issuer:
      description: Issuer (RFC 4514).
      type: str
      sample: "CN=Example Intermediate CA,O=Example"
    serial:
      description: Serial number, lowercase hex with an even number of digits.
      type: str
      sample: "04a1f3"
    sha256:
      description: SHA-256 fingerprint, lowercase hex without colons.
      type: str
    not_before:
      description: Start of validity (ISO 8601 UTC).
      type: str
      sample: "2026-10-01T00:00:00Z"
    not_after:
      description: End of validity (ISO 8601 UTC).
      type: str
      sample: "2026-12-30T00:00:00Z"
    ocsp_urls:
      description: The OCSP responder URLs of the certificate.
      type: list
      elements: str
    ca_issuers_urls:
      description: The caIssuers URLs of the certificate.
      type: list
      elements: str
chain:
  description:
    - The intermediates in file order, the leaf's issuer first, described like RV(leaf). The root is not included.
  returned: success
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
root:
  description:
    - The root the path ends at, described like RV(leaf), or V(null) when none is known (O(require_root=false)).
  returned: success
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
fetched:
  description: The caIssuers URLs downloaded, in order.
  returned: success
  type: list
  elements: str
  sample: ["http://ca.example.com/intermediate.der"]
ignored:
  description:
    - Certificates given in the pool (O(certificate_path) after the first, O(intermediates), O(intermediate_paths))
      that are not on the path, described like RV(leaf), with C(source) saying where each came from.
  returned: success
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

    source:
      description: Where the certificate came from (the option and, for files, the path).
      type: str
key_matches:
  description:
    - V(true) when O(private_key_path) belongs to the certificate, V(null) when no key was given. (A key that does
      not match fails the module.)
  returned: success
  type: bool
chain_pem:
  description:
    - The content of the chain file (intermediates, the leaf's issuer first, and the root with O(include_root)), as
      PEM text. Public data, to pass on as O(intermediates).
  returned: success
  type: str
fullchain_pem:
  description:
    - The content of the full chain file (the leaf, then RV(chain_pem)), as PEM text. Public data; with a key
      appended it is what HAProxy loads from one file.
  returned: success
  type: str
files:
  description:
    - One entry per destination given, keyed V(fullchain), V(chain), V(trusted), and V(key) (O(private_key_dest)) or
      V(combined) (full chain and key in one file, which then replaces V(fullchain)).
  returned: success
  type: dict
  contains:
    path:
      description: The file written.
      type: str
    changed:
      description: Whether the file's content or attributes changed (or would change in check mode).
      type: bool
    content_changed:
      description: Whether the file's content changed (or would change in check mode).
      type: bool
    created:
      description: Whether the file did not exist before (it was, or in check mode would be, created).
      type: bool
    backup_file:
      description: The backup made of the previous content, or V(null).
      type: str
    certificates:
      description: How many certificates the file holds (none for V(key)).
      type: int
  sample:
    fullchain:
      path: /etc/nginx/tls/www.example.com.fullchain.pem
      changed: true
      content_changed: true
      backup_file: /etc/nginx/tls/www.example.com.fullchain.pem.12345.2026-11-23@19:31:00~
      certificates: 2
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule

# isort: split
# First of the collection's imports: each one after it is compiled once on the node, not twice (zip_import.py).
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import  # noqa: F401 pylint: disable=unused-import

# isort: split

from ansible_collections.tlsfleet.stapling.plugins.module_utils import files as file_io
from ansible_collections.tlsfleet.stapling.plugins.module_utils.argspec import TRUST_ANCHORS, spec
from ansible_collections.tlsfleet.stapling.plugins.module_utils.deps import require_cryptography
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, exit_with_result

try:
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import bundle as bundle_lib
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.x509 import (
        load_certificates,
        load_private_key,
        name_string,
        public_key_matches,
        public_key_sha256,
        read_input_file,
    )
except ImportError:  # only when cryptography is missing; require_cryptography() reports it
    pass

_KEY_BLOCK_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL)

DEST_KINDS = (("fullchain", "fullchain_dest"), ("chain", "chain_dest"), ("trusted", "trusted_dest"))


def _hide_keys(module, name, text):
    """Hide private key blocks found in a content option from every output, and warn once."""
    if not text:
        return
    blocks = [match.group(0) for match in _KEY_BLOCK_RE.finditer(text)]
    if not blocks:
        return
    for block in blocks:
        module.no_log_values.add(block)
        module.no_log_values.add(block.strip())
    module.warn(f"{name} holds a private key; it was ignored and hidden from the output. Use private_key_path.")


def _load_inputs(module, params):
    pool = []
    if params["certificate_path"] is not None:
        path = params["certificate_path"]
        certs = load_certificates(read_input_file(path, "certificate file"), f"certificate file {path}")
        extra_source = f"certificate file {path}"
    else:
        _hide_keys(module, "certificate_content", params["certificate_content"])
        certs = load_certificates(params["certificate_content"], "certificate_content")
        extra_source = "certificate_content"
    leaf = certs[0]
    pool.extend((cert, extra_source) for cert in certs[1:])
    for index, text in enumerate(params["intermediates"]):
        name = f"intermediates[{index}]"
        _hide_keys(module, name, text)
        pool.extend((cert, name) for cert in load_certificates(text, name))
    for path in params["intermediate_paths"]:
        source = f"intermediate file {path}"
        pool.extend((cert, source) for cert in load_certificates(read_input_file(path, "intermediate file"), source))
    return leaf, pool


def _summary(certs):
    return "".join(bundle_lib.summary_line(cert) + "\n" for cert in certs)


def _existing_summary(data: bytes, path: str) -> str:
    """Describe an existing file for the diff without ever echoing its content."""
    if not data.strip():
        return ""
    try:
        certs = load_certificates(data, path)
    except InputError:
        return f"(not a certificate file: {len(data)} bytes)\n"
    text = _summary(certs)
    if b"PRIVATE KEY-----" in data:
        text += "(and a private key, not shown)\n"
    return text


def _check_dest(kind, option, path):
    if os.path.isdir(path):
        raise InputError(f"{option} {path} is a directory; give the path of the {kind} file.")
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        where = "" if target == os.path.abspath(path) else f" (where the link {path} points)"
        raise InputError(f"the directory {directory} of {option}{where} does not exist.")


def _read_existing(path, option):
    if not os.path.lexists(path):
        return None
    # A file far larger than any bundle is cut short: enough to see that it differs, and it is replaced.
    return file_io.read_bounded(path, option, bundle_lib.MAX_FETCH_BYTES * 10, truncate=True)


def _attribute_lines(attr_diff, side):
    values = attr_diff.get(side) or {}
    return "".join(f"{key}: {values[key]}\n" for key in sorted(values))


def run(module) -> dict:
    params = module.params
    if params["fetch_timeout"] <= 0:
        raise InputError(f"fetch_timeout must be a positive number of seconds, not {params['fetch_timeout']}.")
    leaf, pool = _load_inputs(module, params)

    key_matches = None
    if params["private_key_path"] is not None:
        key_matches = bundle_lib.key_matches(leaf, params["private_key_path"])
        if not key_matches:
            raise InputError(
                f"the private key in {params['private_key_path']} does not belong to the certificate "
                f"'{name_string(leaf.subject)}' (the certificate's public key has SHA-256 "
                f"{public_key_sha256(leaf)}); nothing was written."
            )

    key_pem = None
    if params["private_key_dest"] is not None:
        if not params["private_key_content"]:
            raise InputError("private_key_dest needs private_key_content (the key to write).")
        key = load_private_key(params["private_key_content"], "private_key_content")
        if not public_key_matches(leaf, key):
            raise InputError(
                f"private_key_content does not belong to the certificate '{name_string(leaf.subject)}' (the "
                f"certificate's public key has SHA-256 {public_key_sha256(leaf)}); nothing was written."
            )
        key_pem = params["private_key_content"].strip().encode("ascii", "replace") + b"\n"
    elif params["private_key_content"]:
        raise InputError("private_key_content needs private_key_dest (where to write it).")

    anchors, _anchor_paths = bundle_lib.load_trust_anchors(params["trust_anchor_paths"])
    fetch = None
    if params["fetch_issuers"]:
        timeout = params["fetch_timeout"]

        def fetch(url):
            return bundle_lib.fetch_url(url, timeout)

    result = bundle_lib.build_bundle(leaf, pool, anchors, fetch=fetch, require_root=params["require_root"])
    include_root = params["include_root"]
    contents = {
        "fullchain": result.fullchain(include_root),
        "chain": result.chain(include_root),
        "trusted": result.trusted(),
    }

    wanted = [(kind, option, params[option]) for kind, option in DEST_KINDS if params[option] is not None]
    if key_pem is not None:
        key_real = os.path.realpath(params["private_key_dest"])
        if params["fullchain_dest"] is not None and os.path.realpath(params["fullchain_dest"]) == key_real:
            wanted = [item for item in wanted if item[0] != "fullchain"]
            wanted.append(("combined", "private_key_dest", params["private_key_dest"]))
        else:
            wanted.append(("key", "private_key_dest", params["private_key_dest"]))
        contents["combined"] = contents["fullchain"]
        contents["key"] = []
    seen = {}
    for kind, option, path in wanted:
        real = os.path.realpath(path)
        if real in seen:
            raise InputError(f"{option} and {seen[real]} name the same file {path}.")
        seen[real] = option
        _check_dest(kind, option, path)
        if not contents[kind] and kind != "key":
            raise InputError(
                f"the {kind} file {path} would be empty: '{name_string(leaf.subject)}' is issued directly by the root. "
                f"Drop {option} or set include_root."
            )

    for text in result.warnings:
        module.warn(text)

    files = {}
    diffs = []
    changed = False
    for kind, option, path in wanted:
        private = kind in ("key", "combined")
        desired = bundle_lib.to_pem(contents[kind]).encode("ascii") if contents[kind] else b""
        if private:
            desired += key_pem
        target = os.path.realpath(path)  # a symbolic link (certbot's live/ files) stays; the file it names is replaced
        existing = _read_existing(target, option)
        content_changed = existing != desired
        backup_file = None
        if content_changed and not module.check_mode:
            backup_file = file_io.replace_atomically(
                module, target, desired, keep_backup=params["backup"] and existing is not None, private=private
            )
        attr_diff = {"before": {}, "after": {}}
        file_args = module.load_file_common_arguments(params, path=target)
        file_changed = module.set_fs_attributes_if_different(file_args, content_changed, diff=attr_diff)
        changed = changed or file_changed
        files[kind] = {
            "path": path,
            "changed": file_changed,
            "content_changed": content_changed,
            "created": content_changed and existing is None,
            "backup_file": backup_file,
            "certificates": len(contents[kind]),
        }
        if module._diff:
            before = _existing_summary(existing, path) if existing is not None else ""
            after = _summary(contents[kind]) + ("(and a private key, not shown)\n" if private else "")
            if kind == "key":
                before = "(a private key, not shown)\n" if existing is not None else ""
                after = "(a private key, not shown%s)\n" % ("; replaced" if content_changed else "")
            diffs.append(
                {
                    "before_header": f"{path} ({kind})" if existing is not None else "(absent)",
                    "after_header": f"{path} ({kind})",
                    "before": before + _attribute_lines(attr_diff, "before"),
                    "after": after + _attribute_lines(attr_diff, "after"),
                }
            )

    output = {
        "changed": changed,
        "leaf": bundle_lib.describe_short(leaf),
        "chain": [bundle_lib.describe_short(cert) for cert in result.intermediates],
        "root": bundle_lib.describe_short(result.root) if result.root is not None else None,
        "fetched": result.fetched,
        "ignored": [dict(bundle_lib.describe_short(cert), source=source) for cert, source in result.ignored],
        "key_matches": key_matches,
        "chain_pem": bundle_lib.to_pem(contents["chain"]),
        "fullchain_pem": bundle_lib.to_pem(contents["fullchain"]),
        "files": files,
    }
    if module._diff:
        output["diff"] = diffs
    return output


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "certificate_path": {"type": "path"},
            "certificate_content": {"type": "str", "aliases": ["certificate"]},
            "intermediates": {"type": "list", "elements": "str", "default": []},
            "intermediate_paths": {"type": "list", "elements": "path", "default": []},
            **spec(TRUST_ANCHORS),
            "require_root": {"type": "bool", "default": True},
            "fetch_issuers": {"type": "bool", "default": False},
            "fetch_timeout": {"type": "int", "default": 10},
            "include_root": {"type": "bool", "default": False},
            "private_key_path": {"type": "path", "no_log": False},
            "fullchain_dest": {"type": "path"},
            "private_key_content": {"type": "str", "no_log": True},
            "private_key_dest": {"type": "path", "no_log": False},
            "chain_dest": {"type": "path"},
            "trusted_dest": {"type": "path"},
            "backup": {"type": "bool", "default": False},
        },
        mutually_exclusive=[("certificate_path", "certificate_content")],
        required_one_of=[("certificate_path", "certificate_content")],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    require_cryptography(module)
    exit_with_result(module, run, module)


if __name__ == "__main__":
    main()
