#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ocsp_staple
short_description: Fetch a fresh OCSP response, validate it, and write it where a server staples it from
version_added: 0.1.0
description:
  - Keeps a stapling file up to date, such as the C(<certificate>.ocsp) file next to an HAProxy certificate bundle
    or the file named by nginx C(ssl_stapling_file). Servers serve such a file as it is and never refresh it.
  - First judges the response already in O(dest), in full (status, signature, authorized signer, that it is for
    this certificate, freshness within O(clock_skew)). When it is good and outside the refresh window
    (O(refresh_window)), nothing is fetched and nothing changes.
  - Otherwise asks the certificate's OCSP responder (or O(responder_url)) from the managed node, validates the answer
    the same way, and writes it in DER, atomically, only when it is valid, says V(good), has a nextUpdate, stays
    valid at least O(min_validity) seconds, and differs from the file. A response that is not newer than a good
    response already in O(dest) does not replace it.
  - Never writes an unusable response. When the responder says the certificate is V(revoked) or V(unknown), answers
    something unusable (an HTML page, V(try_later), V(unauthorized), a bad signature), or cannot be reached in
    O(timeout) seconds, the module fails with a message saying so and leaves O(dest) as it was.
  - Can also hand the response to a running HAProxy through its runtime API (O(haproxy_socket)), so that it is
    served without a reload.
  - With O(state=absent), removes O(dest) instead, for a certificate whose CA dropped OCSP (the OCSP sunset), and
    only when the certificate names no OCSP responder, so that a staple a CA still answers for is never removed.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.attributes.responder_group
  - tlsfleet.stapling.requirements.cryptography
  - ansible.builtin.files
  - tlsfleet.stapling.options.proxy
  - tlsfleet.stapling.options.clock_skew
  - tlsfleet.stapling.code_cache
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module still judges O(dest) and, when a new response is due, fetches and validates one (this
        only reads), and reports what would change; it writes nothing and pushes nothing to HAProxy.
  diff_mode:
    support: full
    details:
      - The diff shows a summary of the old and new response (statuses, times, signer, SHA-256), never their bytes.
options:
  certificate_path:
    description:
      - Path on the managed node of the certificate to staple for, PEM or DER.
      - May be an HAProxy bundle (private key, certificate and chain in one PEM file). The first certificate in the file
        is the one stapled for; the others are searched for its issuer. The private key is skipped and never read into
        the result.
    type: path
    required: true
  issuer_path:
    description:
      - Path on the managed node of the issuer certificate, PEM or DER. When the file holds several certificates, the
        one that issued the certificate is used.
      - When not given, the issuer is looked for among the other certificates of O(certificate_path), then in the file
        C(<certificate_path>.issuer) (HAProxy's convention) when it exists.
    type: path
  dest:
    description:
      - Where to write the DER OCSP response.
      - Defaults to C(<certificate_path>.ocsp), the file HAProxy reads next to a certificate bundle. Give it for nginx
        (the path of C(ssl_stapling_file)) and other servers.
      - Its directory must exist. An empty file is treated as missing (HAProxy uses an empty C(.ocsp) file to turn
        stapling on before the first response exists).
    type: path
  responder_url:
    description:
      - Ask this OCSP responder URL instead of the certificate's own (its AIA OCSP URLs, tried in order until one gives
        a usable answer).
      - Needed for certificates without an OCSP URL, and mirrors nginx C(ssl_stapling_responder).
    type: str
  timeout:
    description:
      - Seconds one request to a responder may take in all (DNS, connect, HTTP exchange, reading the answer). The same
        bound applies to the exchange with the HAProxy runtime API socket.
    type: float
    default: 10.0
  refresh_window:
    description:
      - Fetch a new response once the one in O(dest) has at most this many seconds left before its nextUpdate.
      - When not set, the window is half of the validity period of the response in O(dest) (nextUpdate minus
        thisUpdate), the point from which Caddy and Traefik refresh their staples. With typical 7-day responses that
        leaves 3.5 days to retry through a responder outage, so a daily run keeps the staple fresh, where a fixed
        window of one hour would give a daily run no second chance. Until the CA publishes a newer response, runs in
        the window fetch the same one again and change nothing.
      - The window is never smaller than O(min_validity).
    type: int
  min_validity:
    description:
      - Seconds a response must still be valid (before its nextUpdate) to be written. HAProxy drops a response 300
        seconds before its nextUpdate, and HAProxy 3.2 and later refuse to load one with less than 300 seconds left.
      - A response in O(dest) with less time left is always refreshed.
    type: int
    default: 300
  force:
    description:
      - Fetch a new response even when the one in O(dest) is good and outside the refresh window, and write it when it
        is good and differs from the file, even if it is not newer.
    type: bool
    default: false
  backup:
    description: Keep a copy of O(dest), with a timestamp in its name, before replacing it.
    type: bool
    default: false
  state:
    description:
      - V(present) keeps O(dest) holding a good response, as described above.
      - V(absent) removes O(dest) (with O(backup), a copy is kept first) and fetches nothing. The module refuses, and
        removes nothing, when the certificate in O(certificate_path) names an OCSP responder. A server reads the file
        only when it starts or reloads, so reload it afterwards.
      - With V(absent), O(dest) must be left out or be exactly C(<certificate_path>.ocsp), the file HAProxy loads with
        that certificate; the module refuses any other path, and removes nothing.
    type: str
    choices: [present, absent]
    default: present
  haproxy_socket:
    description:
      - Path of a running HAProxy's runtime API UNIX socket (C(stats socket ... level admin)) to send the response to
        with C(set ssl ocsp-response <base64>), so that HAProxy serves it without a reload.
      - HAProxy accepts a response only for a certificate it loaded with stapling on, that is with an C(.ocsp) file
        next to it (its documentation says the content of that file is optional) or with C(ocsp-update on). For other
        certificates it answers an error; the module then fails, having written O(dest), and a reload is needed.
    type: path
  haproxy_push:
    description:
      - When to send the response to O(haproxy_socket). V(changed) sends it when O(dest) was written. V(always) sends
        the response in O(dest) on every run, for example after HAProxy was restarted from an older file, and then
        always reports a change. V(never) only writes the file.
      - Ignored without O(haproxy_socket).
    type: str
    choices: [never, changed, always]
    default: changed
notes:
  - The response is requested with a SHA-1 CertID and without a nonce, as HAProxy and nginx do, and written as DER.
  - HAProxy reads C(.ocsp) files only when it starts or reloads; use O(haproxy_socket) or reload it. nginx reads
    C(ssl_stapling_file) only at start and reload, so reload nginx after a change (for example with a handler).
  - Certificates issued by Let's Encrypt since May 2025 have no OCSP URL and its responders are off; there is nothing
    to staple for them and the module fails saying so. Disable stapling for them instead.
seealso:
  - module: tlsfleet.stapling.ocsp_response_info
  - module: tlsfleet.stapling.ocsp_responder_check
  - name: HAProxy runtime API, set ssl ocsp-response
    description: The command used to hand the response to a running HAProxy.
    link: https://docs.haproxy.org/2.6/management.html#9.3-set%20ssl%20ocsp-response
  - name: nginx ssl_stapling_file
    description: An nginx directive that staples a response read from a file instead of fetching it.
    link: https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_stapling_file
"""

EXAMPLES = r"""
---
- name: Keep the .ocsp file of an HAProxy bundle fresh and hand it to the running HAProxy
  tlsfleet.stapling.ocsp_staple:
    certificate_path: /etc/haproxy/certs/www.example.com.pem
    haproxy_socket: /run/haproxy/admin.sock
    owner: root
    group: haproxy
    mode: "0640"
  register: staple

- name: Refresh the nginx stapling file, then reload nginx
  tlsfleet.stapling.ocsp_staple:
    certificate_path: /etc/ssl/example/fullchain.pem
    dest: /etc/nginx/ocsp/www.example.com.der
    refresh_window: 172800
  notify: Reload nginx

- name: Say what was done
  ansible.builtin.debug:
    msg: "{{ staple.reason }}; staple valid until {{ staple.response.next_update }}"

- name: Remove the staple file of a certificate whose CA dropped OCSP, keeping a backup
  tlsfleet.stapling.ocsp_staple:
    certificate_path: /etc/haproxy/certs/legacy.example.com.pem
    state: absent
    backup: true

- name: Fetch through a proxy from an internal responder mirror, in check mode first
  tlsfleet.stapling.ocsp_staple:
    certificate_path: /etc/haproxy/certs/api.example.com.pem
    responder_url: http://ocsp-mirror.internal/
    proxy: http://proxy.internal:3128
    timeout: 5
  check_mode: true
"""

RETURN = r"""
dest:
  description: The path of the stapling file.
  returned: success
  type: str
  sample: /etc/haproxy/certs/www.example.com.pem.ocsp
reason:
  description:
    - Why a new response was or was not fetched. V(missing) (no file, or an empty one), V(invalid) (not a response,
      not for this certificate, badly signed, expired, or not V(good)), V(refresh_window) (good, but within
      O(refresh_window) or O(min_validity) of its nextUpdate), V(forced) (O(force)), or V(current) (good and outside
      the window; nothing was fetched).
    - With O(state=absent), V(removed) (the file was, or in check mode would be, removed) or V(absent) (there was no
      file).
  returned: success
  type: str
  choices: [missing, invalid, refresh_window, forced, current, removed, absent]
  sample: refresh_window
fetched:
  description: Whether a responder was asked for a new response.
  returned: success
  type: bool
responder_url:
  description: The responder URL the new response came from, or V(null) when nothing was fetched.
  returned: success
  type: str
  sample: http://ocsp.example.com/
written:
  description: Whether O(dest) was (or in check mode would be) replaced with the new response.
  returned: success
  type: bool
removed:
  description: Whether O(dest) was (or in check mode would be) removed (O(state=absent)).
  returned: success
  type: bool
response:
  description:
    - The verdict on the response O(dest) holds after the run (in check mode, would hold); the fetched one when it was
      written, else the one kept. The same keys as M(tlsfleet.stapling.ocsp_response_info) returns.
    - On failure, the verdict on the fetched response when there was one (for example V(cert_status=revoked)).
  returned: success
  type: dict
  contains:
    cert_status:
      description: V(good), V(revoked) or V(unknown).
      type: str
    this_update:
      description: thisUpdate (ISO 8601 UTC).
      type: str
    next_update:
      description: nextUpdate (ISO 8601 UTC).
      type: str
    seconds_until_next_update:
      description: Seconds from now to nextUpdate.
      type: int
    signer:
      description: V(issuer), V(delegated) or V(unknown).
      type: str
    valid:
      description: Whether the response can be trusted for the certificate.
      type: bool
    good:
      description: Whether it is valid and says V(good).
      type: bool
    problems:
      description: One sentence per failed check.
      type: list
      elements: str
    response_sha256:
      description: SHA-256 of the DER response.
      type: str
previous:
  description:
    - The verdict on the response O(dest) held before the run (same keys as RV(response)), or V(null) when there was no
      file or it was empty. When the file could not be read as a response, RV(previous.response_status) is V(null) and
      RV(previous.problems) says why.
  returned: success
  type: dict
  contains:
    response_status:
      description: The OCSP response status, or V(null) when the file does not hold a readable response.
      type: str
    good:
      description: Whether the response was valid and said V(good).
      type: bool
    problems:
      description: One sentence per failed check.
      type: list
      elements: str
pushed:
  description: Whether the response was sent to HAProxy and accepted.
  returned: success
  type: bool
haproxy_reply:
  description: HAProxy's answer to C(set ssl ocsp-response), or V(null) when nothing was sent.
  returned: success
  type: str
  sample: OCSP Response updated!
backup_file:
  description: The backup copy of the old O(dest), when O(backup) made one.
  returned: changed and a backup was made
  type: str
  sample: /etc/haproxy/certs/www.example.com.pem.ocsp.12345.2026-11-23@19:31:00~
"""

import os

from ansible.module_utils.basic import AnsibleModule

# isort: split
# First of the collection's imports: each one after it is compiled once on the node, not twice (zip_import.py).
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import  # noqa: F401 pylint: disable=unused-import

# isort: split

from ansible_collections.tlsfleet.stapling.plugins.module_utils import files
from ansible_collections.tlsfleet.stapling.plugins.module_utils.argspec import CLOCK_SKEW, PROXY, spec
from ansible_collections.tlsfleet.stapling.plugins.module_utils.deps import require_cryptography
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, TlsfleetError

try:
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import ocsp, staple
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.chain import find_issuer
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.x509 import (
        load_certificates_from_path,
        name_string,
        ocsp_urls,
        utc_now,
    )
except ImportError:  # only when cryptography is missing; require_cryptography() reports it
    pass


def _certificate_and_issuer(params):
    path = params["certificate_path"]
    certs = load_certificates_from_path(path, "certificate file")
    cert = certs[0]
    if params["issuer_path"]:
        issuer = find_issuer(cert, load_certificates_from_path(params["issuer_path"], "issuer file"))
        if issuer is None:
            raise InputError(
                f"none of the certificates in issuer file {params['issuer_path']} issued the certificate "
                f"'{name_string(cert.subject)}' (its issuer is '{name_string(cert.issuer)}')."
            )
        return cert, issuer
    issuer = find_issuer(cert, certs[1:])
    if issuer is None and os.path.isfile(path + ".issuer"):
        issuer = find_issuer(cert, load_certificates_from_path(path + ".issuer", "issuer file"))
        if issuer is None:
            raise InputError(staple.describe_issuer_missing(cert, f"certificate file {path} nor in {path}.issuer"))
    if issuer is None:
        raise InputError(staple.describe_issuer_missing(cert, f"certificate file {path}"))
    return cert, issuer


def _check_params(params) -> str:
    for key, low in (("clock_skew", 0), ("min_validity", 0), ("refresh_window", 0)):
        if params[key] is not None and params[key] < low:
            raise InputError(f"{key} must be zero or more seconds, not {params[key]}.")
    if ocsp.skew_problem(params["clock_skew"]):
        raise InputError(ocsp.skew_problem(params["clock_skew"]))
    if params["timeout"] <= 0:
        raise InputError(f"timeout must be a positive number of seconds, not {params['timeout']:g}.")
    dest = params["dest"] or params["certificate_path"] + ".ocsp"
    if os.path.isdir(dest):
        raise InputError(f"dest {dest} is a directory; give the path of the stapling file.")
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise InputError(f"the directory {parent} of dest {dest} does not exist.")
    return dest


def _write(module, dest: str, der: bytes, backup: bool) -> dict:
    """Write ``der`` to ``dest`` atomically; return extra result keys (backup_file)."""
    # a symlinked dest (e.g. into a deploy directory) keeps its link: the file it points to is replaced
    saved = files.replace_atomically(module, os.path.realpath(dest), der, keep_backup=backup)
    return {"backup_file": saved} if saved else {}


def remove(module, dest: str) -> dict:
    """state=absent: remove ``dest`` when the certificate names no OCSP responder (the OCSP sunset)."""
    params = module.params
    own = params["certificate_path"] + ".ocsp"
    if os.path.normpath(dest) != os.path.normpath(own):
        # Only HAProxy's file beside the certificate: a dest elsewhere could be any file (the certificate itself,
        # a staple another certificate or server uses), and nothing here ties it to this certificate.
        raise InputError(
            f"state=absent removes only the certificate's own staple file {own} (HAProxy's <certificate>.ocsp), "
            f"not {dest}: leave dest out or give exactly that path."
        )
    cert = load_certificates_from_path(params["certificate_path"], "certificate file")[0]
    urls = ocsp_urls(cert)
    if urls:
        raise InputError(
            f"the certificate '{name_string(cert.subject)}' names the OCSP responder {urls[0]}: its staple file {dest} "
            "is kept (state=absent is for certificates whose CA dropped OCSP)."
        )
    result = {
        "changed": False,
        "dest": dest,
        "reason": "absent",
        "fetched": False,
        "responder_url": None,
        "written": False,
        "removed": False,
        "response": None,
        "previous": None,
        "pushed": False,
        "haproxy_reply": None,
    }
    if not os.path.lexists(dest):
        return result
    result.update(changed=True, removed=True, reason="removed")
    if module._diff:
        result["diff"] = {"before_header": dest, "after_header": dest, "before": "%s exists\n" % dest, "after": ""}
    if not module.check_mode:
        real = os.path.realpath(dest)
        if params["backup"]:
            result["backup_file"] = files.backup(module, real)
        try:
            os.unlink(dest)
        except OSError as exc:
            raise InputError(f"cannot remove {dest}: {exc.strerror or exc}.") from None
    return result


def run(module) -> dict:
    params = module.params
    dest = _check_params(params)
    if params["state"] == "absent":
        return remove(module, dest)
    cert, issuer = _certificate_and_issuer(params)
    skew, min_validity = params["clock_skew"], params["min_validity"]

    assessment = staple.assess_existing(
        dest,
        cert,
        issuer,
        at=utc_now(),
        skew=skew,
        refresh_window=params["refresh_window"],
        min_validity=min_validity,
        force=params["force"],
    )
    result = {
        "changed": False,
        "dest": dest,
        "reason": assessment.reason,
        "fetched": False,
        "responder_url": None,
        "written": False,
        "removed": False,
        "response": assessment.previous if assessment.reason == staple.REASON_CURRENT else None,
        "previous": assessment.previous,
        "pushed": False,
        "haproxy_reply": None,
    }
    current_der = assessment.der if assessment.reason == staple.REASON_CURRENT else None

    if assessment.needs_fetch:
        urls = [params["responder_url"]] if params["responder_url"] else ocsp_urls(cert)
        if not urls:
            raise staple.StapleError(
                f"the certificate '{name_string(cert.subject)}' names no OCSP responder (no AIA OCSP URL), so there is "
                "nothing to staple; give responder_url, or turn stapling off for this certificate.",
                **_failure_keys(result),
            )
        try:
            der, verdict, url = staple.fetch_fresh(
                urls,
                cert,
                issuer,
                at_func=utc_now,
                skew=skew,
                min_validity=min_validity,
                timeout=params["timeout"],
                proxy=params["proxy"],
                use_env_proxy=params["use_proxy"],
            )
        except staple.StapleError as exc:
            details = _failure_keys(result)
            details.update(exc.details)
            details["fetched"] = True
            raise staple.StapleError(f"{exc} {dest} was left unchanged.", **details) from None
        result.update(fetched=True, responder_url=url)
        new = verdict.to_dict()
        if der == assessment.der:
            result["response"], current_der = new, der
        elif assessment.reason != staple.REASON_FORCED and not staple.is_newer(new, assessment.previous):
            module.warn(
                f"{url} answered with a response no newer than the good one in {dest} "
                f"(nextUpdate {new['next_update']}); kept the file as it is."
            )
            result["response"], current_der = assessment.previous, assessment.der
        else:
            result.update(changed=True, written=True, response=new)
            current_der = der
            if module._diff:
                result["diff"] = {
                    "before_header": dest,
                    "after_header": dest,
                    "before": staple.summary(assessment.previous),
                    "after": staple.summary(new),
                }
            if not module.check_mode:
                result.update(_write(module, dest, der, params["backup"]))

    if os.path.exists(dest) or not module.check_mode:
        file_args = module.load_file_common_arguments(params, path=dest)
        result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])

    push = params["haproxy_push"]
    if params["haproxy_socket"] and current_der and (push == "always" or (push == "changed" and result["written"])):
        result["changed"] = True
        if not module.check_mode:
            try:
                result["haproxy_reply"] = staple.haproxy_set_ocsp_response(
                    params["haproxy_socket"], current_der, params["timeout"]
                )
            except TlsfleetError as exc:
                wrote = f" {dest} was written." if result["written"] else ""
                raise staple.StapleError(f"{exc}{wrote}", **_failure_keys(result)) from None
            result["pushed"] = True
    return result


def _failure_keys(result: dict) -> dict:
    keys = ("changed", "dest", "reason", "fetched", "responder_url", "written", "response", "previous", "pushed")
    return {key: result[key] for key in keys}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "certificate_path": {"type": "path", "required": True},
            "issuer_path": {"type": "path"},
            "dest": {"type": "path"},
            "responder_url": {"type": "str"},
            "timeout": {"type": "float", "default": 10.0},
            **spec(PROXY, CLOCK_SKEW),
            "refresh_window": {"type": "int"},
            "min_validity": {"type": "int", "default": 300},
            "force": {"type": "bool", "default": False},
            "backup": {"type": "bool", "default": False},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "haproxy_socket": {"type": "path"},
            "haproxy_push": {"type": "str", "choices": ["never", "changed", "always"], "default": "changed"},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    require_cryptography(module)
    error, details = None, {}
    try:
        result = run(module)
    except TlsfleetError as exc:  # fail outside the except block: no traceback for a plain error
        error, details = str(exc), dict(getattr(exc, "details", {}))
    if error is not None:
        details.setdefault("changed", False)
        details.setdefault("pushed", False)
        module.fail_json(msg=error, **details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
