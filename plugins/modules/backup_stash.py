#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_stash
short_description: Move backups out of the TLS servers' directories into one backup directory, in one step
version_added: 0.1.0
description:
  - Ansible, and this collection's modules, write the backup of a replaced file beside it
    (C(<file>.<pid>.<date>@<time>~)). There a server may load it - a HAProxy C(crt) directory loads every file in it,
    the old certificate and key among them; nginx C(include sites-enabled/*) loads every site file - so the roles
    move each backup under one backup directory before anything reloads. This module makes those moves in one call
    on the node.
  - Every pair of O(moves) is checked before anything moves. Both paths must be absolute; each destination must lie
    under O(backup_dir) once normalised (C(..) cannot lead out of it); each source must be a regular file (not a
    symbolic link) outside O(backup_dir), named as a backup (C(<file>.<pid>.<date>@<time>~)), so a live file is never
    taken for one; no destination may exist already (none is replaced). A source that is gone while its
    destination exists was moved by an earlier run and is left alone, so a second run changes nothing.
  - A move is a rename when both paths lie on one file system. Across file systems the backup is copied to a file
    created with mode 0600, given the source's mode and owner once its bytes are synced, renamed into place, and
    the sources are removed once every backup is in place; the backup of a private key is never readable by others,
    at any moment. All or nothing - when a move fails, the backups moved before it are put back.
  - O(backup_dir) is created (mode 0700, missing directories above it 0755) when it does not exist. Below it,
    directories are created 0700 and entered one at a time without following a symbolic link (a directory there
    replaced by a link to C(/etc) fails the call, and what moved is put back); the directory a backup lands in is
    made 0700 even when it existed.
  - A source copied across file systems that cannot be removed afterwards stays beside its file, with a warning;
    a backup that cannot be put back after a failure is named in the message.
  - The P(tlsfleet.stapling.tls_reload#role) role calls it (its C(stash) tasks) with the moves the
    P(tlsfleet.stapling.stashed_backups#filter) filter plans, and records the new places for a restore.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.code_cache
requirements:
  - Python 3.8 or later on the managed node.
attributes:
  check_mode:
    support: full
    details:
      - In check mode the pairs are checked as in a real run and RV(moved) lists what would move; nothing moves.
  diff_mode:
    support: none
options:
  backup_dir:
    description:
      - The directory the backups go under. Every destination in O(moves) must lie below it.
    type: path
    required: true
  moves:
    description:
      - Where each backup is now (key) and where it goes (value), both absolute paths on the node.
      - An empty dictionary moves nothing.
    type: dict
    required: true
notes:
  - Run it as the user who owns the backups (root, with C(become), for the servers' files).
seealso:
  - module: tlsfleet.stapling.certificate_bundle
  - module: tlsfleet.stapling.site_stapling
  - module: tlsfleet.stapling.ocsp_staple
"""

EXAMPLES = r"""
---
- name: Write a fresh staple file for HAProxy, keeping a backup of the old one (beside it, in the crt directory)
  tlsfleet.stapling.ocsp_staple:
    certificate_path: /etc/haproxy/certs/www.pem
    dest: /etc/haproxy/certs/www.pem.ocsp
    backup: true
  become: true
  register: staple

- name: Move that backup out of the crt directory before HAProxy reloads, keeping its path below the backup directory
  tlsfleet.stapling.backup_stash:
    backup_dir: /var/backups/tlsfleet
    moves: "{{ {staple.backup_file: '/var/backups/tlsfleet' ~ staple.backup_file} }}"
  become: true
  when: staple.backup_file is defined
"""

RETURN = r"""
changed:
  description: Whether any backup was moved (or would be, in check mode).
  returned: always
  type: bool
moved:
  description:
    - The backups moved (or that would be, in check mode), sorted by RV(moved[].src). Backups moved by an earlier
      run are not listed.
  returned: always
  type: list
  elements: dict
  contains:
    src:
      description: Where the backup was.
      type: str
      sample: /etc/haproxy/certs/www.pem.4242.2026-12-03@08:00:00~
    dest:
      description: Where it is now.
      type: str
      sample: /var/backups/tlsfleet/etc/haproxy/certs/www.pem.4242.2026-12-03@08:00:00~
"""

from ansible.module_utils.basic import AnsibleModule

# isort: split
# First of the collection's imports: each one after it is compiled once on the node, not twice (zip_import.py).
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import  # noqa: F401 pylint: disable=unused-import

# isort: split

from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.files import stash_backups


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "backup_dir": {"type": "path", "required": True},
            "moves": {"type": "dict", "required": True},
        },
        supports_check_mode=True,
    )
    moves = module.params["moves"]
    if any(not isinstance(value, str) for value in moves.values()):
        module.fail_json(msg="each value of moves must be a path (a string)", changed=False, moved=[])
    try:
        moved = stash_backups(moves, module.params["backup_dir"], check_mode=module.check_mode, warn=module.warn)
    except InputError as error:
        module.fail_json(msg=str(error), changed=False, moved=[])
    module.exit_json(changed=bool(moved), moved=moved)


if __name__ == "__main__":
    main()
