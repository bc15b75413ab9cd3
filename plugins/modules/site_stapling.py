#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: site_stapling
short_description: Set the OCSP stapling directives of one nginx server block or Apache virtual host
version_added: 0.1.0
description:
  - Edits, in place, the one nginx C(server) block or Apache C(<VirtualHost>) that starts at line O(line) of the
    configuration file O(path), the way M(tlsfleet.stapling.node_audit) and M(tlsfleet.stapling.tls_server_info)
    name a site (their C(source) is C(path:line)).
  - An existing directive of the block is replaced on its own line, keeping its indentation. A missing one is added
    after the block's C(ssl_certificate_key) (nginx) or C(SSLCertificateKeyFile) (Apache) line, or at the start of
    the block when it has none. Directives in nested blocks (nginx C(location), Apache C(<Directory>)) and comments are
    never touched. Directives in Apache C(<IfModule>)-style conditional sections inside the virtual host count as
    the virtual host's own.
  - The module refuses, and changes nothing, when no block starts at O(line) (the file changed since the audit), when
    a directive is set twice in the block, or when it cannot be replaced without losing something (a comment inside a
    directive written over several lines, a block written on one line).
  - Never reloads the server and never runs it. Check the result with C(nginx -t) or C(apachectl configtest) and
    reload, as the C(tlsfleet.stapling.stapling_config) role does.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - ansible.builtin.files
  - tlsfleet.stapling.code_cache
requirements:
  - Python 3.8 or later on the managed node; no further library (the configuration is edited as text).
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the changed directives of each changed file with three lines of context around them, as a
        unified diff - never the whole file. Web server configuration files hold file names, not key material.
options:
  server:
    description:
      - The web server that reads O(path).
    type: str
    choices: [nginx, apache]
    required: true
  path:
    description:
      - The configuration file that holds the block, as the audit reports it.
      - When it is a symbolic link (Debian's C(sites-enabled/) entries point to C(sites-available/)), the file it points
        to is edited and the link stays.
    type: path
    required: true
  line:
    description:
      - The line of O(path) where the block starts, as the audit reports it in C(source) (C(path:line)).
      - For nginx, the line of the C(server) word of C(server {). Line numbers of C(nginx -T) output are those of
        the file, so the audit's number can be used unchanged.
      - For Apache, the first line of the C(<VirtualHost ...>) opening.
      - When no such block starts at this line, the module fails and changes nothing; it never edits another block.
    type: int
    required: true
  stapling:
    description:
      - V(on) sets C(ssl_stapling on) (nginx) or C(SSLUseStapling on) (Apache) in the block.
      - V(off) sets C(ssl_stapling off) or C(SSLUseStapling off) and leaves the other stapling directives in place,
        so that turning it back on restores the previous setup.
    type: str
    choices: ['on', 'off']
    required: true
  verify:
    description:
      - nginx only. Sets C(ssl_stapling_verify on) or C(off) in the block.
      - V(null) leaves the directive as it is (or absent; nginx then does not verify).
      - C(ssl_stapling_verify on) needs the issuer, the intermediates and the root in O(trusted_certificate).
    type: bool
  trusted_certificate:
    description:
      - nginx only. Sets C(ssl_trusted_certificate) to this file, for example the trusted file written by
        M(tlsfleet.stapling.certificate_bundle). Not set when omitted.
    type: path
  staple_file:
    description:
      - nginx only. Sets C(ssl_stapling_file), a DER OCSP response nginx staples instead of fetching one.
      - nginx never refreshes nor re-checks this file; keep it fresh with M(tlsfleet.stapling.ocsp_staple) and reload.
    type: path
  resolver:
    description:
      - nginx only. Sets C(resolver) in the block to these DNS server addresses, and C(resolver_timeout) to
        O(resolver_timeout).
      - Items of the form C(key=value) are resolver options, for example V(ipv6=off) for hosts without IPv6 egress.
        Options of an existing C(resolver) directive that the list does not give (such as C(ipv6=off)) are kept, and
        C(valid=300s) is added when no C(valid) option is set.
      - V(null) or an empty list leaves C(resolver) and C(resolver_timeout) as they are.
    type: list
    elements: str
  resolver_timeout:
    description:
      - nginx only. The C(resolver_timeout) set together with O(resolver) (nginx time syntax, such as V(5s)).
      - Not used when O(resolver) is empty.
    type: str
    default: 5s
  responder_timeout:
    description:
      - Apache only. Sets C(SSLStaplingResponderTimeout) (seconds per socket operation; Apache's default is 10) in
        the virtual host. mod_ssl allows it in a virtual host.
    type: int
  return_responder_errors:
    description:
      - Apache only. Sets C(SSLStaplingReturnResponderErrors) in the virtual host. V(false) staples only good responses
        instead of passing responder errors (such as C(tryLater)) on to clients.
    type: bool
  cache:
    description:
      - Apache only. The C(SSLStaplingCache) value, for example V(shmcb:${APACHE_RUN_DIR}/ssl_stapling(131072)).
        C(SSLUseStapling on) without a cache stops Apache from starting (AH01958).
      - C(SSLStaplingCache) is allowed only once, in the server config context, so it is not put in the virtual host.
        The module writes it to the file O(cache_file), which then holds a comment header (C(managed by
        tlsfleet.stapling)) and exactly one C(SSLStaplingCache) line inside C(<IfModule ssl_module>). That file is
        owned by the module and is rewritten whole when it differs.
      - Give O(cache) only when the server has no C(SSLStaplingCache) yet, as the C(tlsfleet.stapling.stapling_config)
        role does (it passes O(cache) only when M(tlsfleet.stapling.node_audit) found none). The module looks for
        other C(SSLStaplingCache) lines in the C(.conf) files next to and one directory below the parent of
        O(cache_file) (for example C(/etc/apache2/*.conf) and C(/etc/apache2/*/*.conf)) and warns about each one; it
        does not remove them.
      - The C(shmcb) type needs mod_socache_shmcb, which Debian enables together with mod_ssl.
    type: str
  cache_file:
    description:
      - Apache only, required with O(cache). The file that holds the server-wide C(SSLStaplingCache), in a directory
        Apache includes, for example V(/etc/apache2/conf-enabled/tlsfleet-stapling-cache.conf) on Debian or
        V(/etc/httpd/conf.d/tlsfleet-stapling-cache.conf) on Red Hat.
      - A symbolic link is followed; the file it points to is written.
    type: path
  backup:
    description:
      - Keep a timestamped copy of each file before it is changed. RV(backup_file) says where.
    type: bool
    default: true
notes:
  - The file attributes (O(mode), O(owner)...) apply to O(path). Without them the owner and mode of the edited file
    are kept.
  - Files are replaced atomically; a file that does not change is not written.
  - nginx C(include) directives inside the server block are read; when an included file sets one of the directives
    set here, a warning names it, since its value may conflict with the one written in the block (nginx then fails
    with a duplicate directive, which C(nginx -t) shows). The same is done for Apache C(Include) inside the virtual
    host.
  - Only a C(<VirtualHost>) can be edited for Apache, not stapling of the main server outside any virtual host.
seealso:
  - module: tlsfleet.stapling.node_audit
  - module: tlsfleet.stapling.certificate_bundle
  - name: nginx ssl_stapling
    description: The nginx OCSP stapling directives.
    link: https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_stapling
  - name: Apache SSLUseStapling
    description: The mod_ssl OCSP stapling directives.
    link: https://httpd.apache.org/docs/2.4/mod/mod_ssl.html#sslusestapling
"""

EXAMPLES = r"""
---
- name: Turn stapling on for the nginx site the audit found at sites-enabled/shop.conf line 3
  tlsfleet.stapling.site_stapling:
    server: nginx
    path: /etc/nginx/sites-enabled/shop.conf
    line: 3
    stapling: "on"
    verify: true
    trusted_certificate: /etc/ssl/tlsfleet/shop.trusted.pem
    resolver: [127.0.0.53, ipv6=off]
  register: edit

- name: Show what changed
  ansible.builtin.debug:
    var: edit.changes

- name: Turn stapling on for an Apache virtual host and add the server-wide cache
  tlsfleet.stapling.site_stapling:
    server: apache
    path: /etc/apache2/sites-enabled/default-ssl.conf
    line: 2
    stapling: "on"
    responder_timeout: 5
    return_responder_errors: false
    cache: shmcb:${APACHE_RUN_DIR}/ssl_stapling(131072)
    cache_file: /etc/apache2/conf-enabled/tlsfleet-stapling-cache.conf

- name: Turn stapling off for one site, leaving its other stapling settings
  tlsfleet.stapling.site_stapling:
    server: nginx
    path: /etc/nginx/sites-enabled/legacy.conf
    line: 1
    stapling: "off"
"""

RETURN = r"""
path:
  description: The file that was edited (or would be, in check mode), after following symbolic links.
  returned: success
  type: str
  sample: /etc/nginx/sites-available/shop.conf
changes:
  description:
    - One line per directive changed or added, C(directive old -> new); C((not set)) stands for a directive that was
      absent. Empty when everything was already as wanted.
  returned: success
  type: list
  elements: str
  sample:
    - ssl_stapling off -> on
    - ssl_stapling_verify (not set) -> on
    - resolver (not set) -> 127.0.0.53 valid=300s ipv6=off
backup_file:
  description: The backup copy of RV(path), when one was made.
  returned: changed and O(backup=true)
  type: str
  sample: /etc/nginx/sites-available/shop.conf.12345.2026-11-23@19:31:00~
cache_file:
  description: The cache file written (or checked), after following symbolic links; V(null) without O(cache).
  returned: success
  type: str
  sample: /etc/apache2/conf-enabled/tlsfleet-stapling-cache.conf
cache_backup_file:
  description: The backup copy of the previous cache file, when it existed, changed and O(backup=true).
  returned: when the cache file changed
  type: str
cache_changed:
  description: Whether the cache file was (or, in check mode, would be) written.
  returned: when the cache file changed
  type: bool
cache_created:
  description: Whether the cache file did not exist before.
  returned: when the cache file changed
  type: bool
"""

import difflib
import glob
import os

from ansible.module_utils.basic import AnsibleModule

# isort: split
# First of the collection's imports: each one after it is compiled once on the node, not twice (zip_import.py).
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import  # noqa: F401 pylint: disable=unused-import

# isort: split

from ansible_collections.tlsfleet.stapling.plugins.module_utils import files, servers
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, exit_with_result

# Makes AnsiballZ ship every server type's editing part with this module (servers/parts.py says why).
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import parts as shipped_parts  # noqa: F401 pylint: disable=unused-import
from ansible_collections.tlsfleet.stapling.plugins.module_utils.stapling_edit import MAX_SCANNED_FILES

MAX_FILE_BYTES = 16 * 1024 * 1024
DIFF_CONTEXT = 3  # lines of context around each change in --diff output


def _read(path, what):
    data = files.read_bounded(path, what, MAX_FILE_BYTES)
    return data.decode("utf-8", "surrogateescape")


def _write(module, path, text, keep_backup):
    """Replace ``path`` with ``text``; return the backup's path when ``keep_backup`` made one."""
    return files.replace_atomically(module, path, text.encode("utf-8", "surrogateescape"), keep_backup=keep_backup)


def _printable(text):
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _diff(before_header, after_header, before, after):
    """The changed lines with DIFF_CONTEXT lines around them (a unified diff), not the whole file: a configuration
    file may hold more than the directives this module sets."""
    lines = difflib.unified_diff(
        _printable(before).splitlines(keepends=True),
        _printable(after).splitlines(keepends=True),
        fromfile=before_header,
        tofile=after_header,
        n=DIFF_CONTEXT,
    )
    return {
        "before_header": before_header,
        "after_header": after_header,
        "prepared": "".join(line if line.endswith("\n") else line + "\n" for line in lines),
    }


def _editor(server):
    """The stapling editor of a server type (``servers/<type>/edit.py``); the choices admit editable types only."""
    return servers.server_module(server).EDITOR


def _include_warnings(editor, real, includes, names):
    """Warnings for included files (inside the block) that set one of the directives this module sets."""
    if not includes:
        return []
    root = editor.config_root(real)
    warnings = []
    for argument, line in includes:
        if not argument or "$" in argument:
            continue
        pattern = argument if os.path.isabs(argument) else os.path.join(root, argument)
        for included in sorted(glob.glob(pattern))[:MAX_SCANNED_FILES]:
            try:
                found = editor.directives_found(_read(included, "included file"), names, included)
            except InputError:
                continue
            for name, number in found:
                warnings.append(
                    f"{included}:{number} (included at {real}:{line}) also sets {name}; it may conflict with the "
                    f"value set in the block. Check the configuration with the server's test command."
                )
    return warnings


def _check_options(params):
    server = params["server"]
    editor = _editor(server)
    # Options of the other editable types that this type does not use, with the type each belongs to.
    owners = {}
    for other in servers.EDITABLE_TYPES:
        if other == server:
            continue
        for name in _editor(other).OPTIONS:
            if name not in editor.OPTIONS:
                owners.setdefault(name, other)
    given = [name for name in owners if params[name] not in (None, [])]
    if given:
        other = "/".join(dict.fromkeys(owners[name] for name in given))
        raise InputError(f"{', '.join(given)} applies to server={other} only, not to server={server}.")
    if params["line"] < 1:
        raise InputError(f"line must be 1 or more, not {params['line']}.")
    editor.check_options(params)


def run(module):
    params = module.params
    _check_options(params)
    editor = _editor(params["server"])
    real = os.path.realpath(params["path"])
    text = _read(real, "configuration file")
    edit, names = editor.edit_site(text, params["line"], params, real)
    for warning in _include_warnings(editor, real, edit.includes, names):
        module.warn(warning)

    diffs = []
    changes = list(edit.changes)
    backup_file = None
    if edit.changed:
        diffs.append(_diff(real, real, text, edit.text))
        if not module.check_mode:
            editor.before_write(params)  # before the first write: fail with nothing changed
            backup_file = _write(module, real, edit.text, params["backup"])
    file_args = module.load_file_common_arguments(params, path=real)
    changed = module.set_fs_attributes_if_different(file_args, edit.changed)

    output = {"path": real, "changes": changes, "cache_file": None}
    if backup_file:
        output["backup_file"] = backup_file
    companion = editor.companion_file(params)  # Apache's SSLStaplingCache file (cache, cache_file)
    if companion is not None:
        cache_real = os.path.realpath(companion.path)
        wanted = companion.text
        existing = _read(cache_real, "cache_file") if os.path.lexists(cache_real) else None
        output["cache_file"] = cache_real
        for warning in companion.conflicts(cache_real, lambda path: _read(path, "configuration file")):
            module.warn(warning)
        if existing != wanted:
            changed = True
            changes.append(companion.describe(cache_real, existing))
            diffs.append(_diff(cache_real if existing is not None else "(absent)", cache_real, existing or "", wanted))
            output["cache_changed"] = True
            output["cache_created"] = existing is None
            if not module.check_mode:
                editor.before_write(params)
                saved = _write(module, cache_real, wanted, params["backup"])
                if saved:
                    output["cache_backup_file"] = saved
    output["changed"] = changed
    if module._diff and diffs:
        output["diff"] = diffs
    return output


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "server": {"type": "str", "required": True, "choices": list(servers.EDITABLE_TYPES)},
            "path": {"type": "path", "required": True},
            "line": {"type": "int", "required": True},
            "stapling": {"type": "str", "required": True, "choices": ["on", "off"]},
            "verify": {"type": "bool"},
            "trusted_certificate": {"type": "path"},
            "staple_file": {"type": "path"},
            "resolver": {"type": "list", "elements": "str"},
            "resolver_timeout": {"type": "str", "default": "5s"},
            "responder_timeout": {"type": "int"},
            "return_responder_errors": {"type": "bool"},
            "cache": {"type": "str"},
            "cache_file": {"type": "path"},
            "backup": {"type": "bool", "default": True},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    exit_with_result(module, run, module)


if __name__ == "__main__":
    main()
