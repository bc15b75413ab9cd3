#!/usr/bin/python
# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: server_reload
short_description: Test a TLS server's configuration, reload it gracefully and wait until it serves again
version_added: 0.1.0
description:
  - Runs the server's own configuration test first (C(nginx -t), C(apache2ctl -t) or C(apachectl -t),
    C(haproxy -c -f <config>)) for the same configuration files the running master was started with. When the test
    fails, the module fails with the test output and changes nothing.
  - With O(state=reloaded) it then reloads the server gracefully, so that connections in flight are not cut, with
    C(systemctl reload <unit>) or the server's own command (C(nginx -s reload), C(apache2ctl graceful), SIGUSR2 to
    the HAProxy master in master-worker mode).
  - After the reload it waits until the master still runs, new worker processes have replaced the old ones, and every
    port of O(wait_for) accepts TCP connections. A reload the server rejected at load time (nginx keeps its old
    workers after a bind error; a HAProxy master keeps its old worker when the new configuration fails to load) is
    reported as a failure, as is a server that died (the message then says plainly that the server is down).
  - Before reloading (also in check mode, as it only reads C(/proc)) it compares the TCP listen addresses of the
    configuration on disk (Apache C(Listen) directives, nginx C(listen), HAProxy C(bind)) with the sockets in LISTEN
    state on the node (C(/proc/net/tcp) and C(/proc/net/tcp6)). When one of them is held by a process that is not
    the server's master or one of its descendants, the module fails before reloading and names the address, the
    holder's pid and command (RV(bind_conflicts)). The configuration test does not bind, so it passes in that case,
    but Apache httpd exits altogether on a graceful restart that cannot bind a C(Listen) address, and nginx and
    HAProxy keep their old workers. A wildcard socket conflicts with every address on its port (C(0.0.0.0) with every
    IPv4 address, C(::) with all of them). The same check guards a start (O(start_if_stopped)). When C(/proc) cannot
    be read the check is skipped with a warning.
  - The servers are found the way M(tlsfleet.stapling.tls_server_info) finds them, from the running processes.
author:
  - tlsfleet.stapling contributors (!UNKNOWN)
extends_documentation_fragment:
  - tlsfleet.stapling.attributes
  - tlsfleet.stapling.code_cache
requirements:
  - Python 3.8 or later on the managed node, and the server's own commands (nginx, apache2ctl or apachectl,
    haproxy); systemctl when systemd runs the server.
attributes:
  check_mode:
    support: full
    details:
      - In check mode the configuration test still runs (it only reads) and a failing test still fails; with
        O(state=reloaded) the module reports RV(changed=true) and the command it would run, without reloading.
  diff_mode:
    support: none
options:
  server:
    description: The server type to test and reload.
    type: str
    required: true
    choices: [nginx, apache, haproxy]
  state:
    description:
      - V(tested) only runs the configuration test and never changes anything.
      - V(reloaded) runs the configuration test, reloads the server when it passes, and waits until it serves.
    type: str
    choices: [tested, reloaded]
    default: reloaded
  method:
    description:
      - How to reload.
      - V(auto) uses systemd when it runs on the node (C(/run/systemd/system) exists) and the unit is active, and the
        server's own command otherwise.
      - V(systemd) runs C(systemctl reload) on O(unit).
      - V(native) uses the server's own command; a HAProxy master must run in master-worker mode (C(-W) or C(-Ws), or
        C(master-worker) in its global section).
      - Ignored when O(reload_command) is given.
    type: str
    choices: [auto, systemd, native]
    default: auto
  unit:
    description:
      - The systemd unit. The default is C(nginx), C(apache2) (or C(httpd) where C(apache2ctl) is not installed) and
        C(haproxy); with O(method=auto) both C(apache2) and C(httpd) are tried.
    type: str
  config:
    description:
      - The main configuration file of the server instance to act on.
      - Chooses the master when several of the same type run on the node, and is passed to the test and reload
        commands (C(-c) for nginx, C(-f) for Apache and HAProxy). Without it, the running master's own command line
        decides, and the module fails when several masters run.
    type: path
  wait_for:
    description:
      - Ports (V(443)) or V(host:port) (V([address]:port) for IPv6) that must accept TCP connections after the reload.
        A bare port means V(127.0.0.1).
      - When empty, the TLS listen addresses the server's configuration declares are used, as discovery reads them
        (a wildcard address is tried on V(127.0.0.1) or V(::1)).
    type: list
    elements: raw
    default: []
  timeout:
    description:
      - Seconds each command may run, and seconds to wait after the reload for new workers and open ports.
    type: float
    default: 30
  start_if_stopped:
    description:
      - With O(state=reloaded), start a server that is not running (after its configuration test passed) instead of
        failing, with C(systemctl start) or the server's own start command (C(nginx), C(apache2ctl start),
        C(haproxy -W -D -f <config> -p /run/haproxy.pid)).
    type: bool
    default: false
  config_test_command:
    description:
      - Run this command (a list of arguments, no shell) as the configuration test instead of the server's own.
      - Each argument is passed as it is written; a V(~) or V($VAR) in it is not expanded.
    type: list
    elements: str
  reload_command:
    description:
      - Run this command (a list of arguments, no shell) to reload instead of O(method). RV(method) is then
        V(command). Waiting and the worker check work as with the built-in commands.
      - Each argument is passed as it is written; a V(~) or V($VAR) in it is not expanded.
      - A server that is not running is still started as O(start_if_stopped) says, not with this command.
    type: list
    elements: str
notes:
  - Run it as root (C(become)) so that it can read the masters' command lines and signal them.
  - Apache's configuration test cannot see certificate and stapling errors (mod_ssl loads certificates only at
    (re)start), so such an error surfaces as a failed reload.
  - Every command runs under coreutils C(timeout) when installed, in the C locale.
  - The bind check needs root to see which process holds a socket; without it a socket whose holder is unknown is
    reported as a warning, not as a conflict.
seealso:
  - module: tlsfleet.stapling.tls_server_info
"""

EXAMPLES = r"""
---
- name: Check the nginx configuration without touching the server
  tlsfleet.stapling.server_reload:
    server: nginx
    state: tested
  become: true

- name: Reload HAProxy after new certificates were deployed and wait for port 443
  tlsfleet.stapling.server_reload:
    server: haproxy
    wait_for: [443]
    timeout: 20
  become: true
  register: reload

- name: Reload one of several nginx instances, the one started with /etc/nginx-edge/nginx.conf
  tlsfleet.stapling.server_reload:
    server: nginx
    config: /etc/nginx-edge/nginx.conf
    method: native
  become: true
"""

RETURN = r"""
changed:
  description: Whether the server was reloaded or started (or would be, in check mode).
  returned: always
  type: bool
server:
  description: The server type.
  returned: always
  type: str
  sample: nginx
binary:
  description: Path of the server binary used.
  returned: always
  type: str
  sample: /usr/sbin/nginx
config:
  description: The main configuration file of the instance, when known.
  returned: always
  type: str
  sample: /etc/nginx/nginx.conf
running:
  description: Whether the server ran before the module acted.
  returned: always
  type: bool
config_test:
  description: The configuration test.
  returned: always
  type: dict
  contains:
    ok:
      description: Whether the test passed.
      type: bool
    command:
      description: The command run.
      type: str
      sample: /usr/sbin/nginx -t
    output:
      description: What the test printed (stdout and stderr, trimmed).
      type: str
      sample: "nginx: configuration file /etc/nginx/nginx.conf test is successful"
method:
  description:
    - How the server was (or would be) reloaded or started; V(command) for O(reload_command). Null with
      O(state=tested).
  returned: always
  type: str
  sample: native
unit:
  description: The systemd unit used, with RV(method=systemd).
  returned: always
  type: str
command:
  description:
    - The reload or start command, as one string. For a HAProxy master signalled directly it reads
      C(kill -USR2 <pid>).
  returned: always
  type: str
  sample: /usr/sbin/nginx -s reload
pid_before:
  description: The master pid before the reload; null when the server did not run.
  returned: always
  type: int
pid_after:
  description:
    - The master pid after the reload (the same unless the server was restarted by other means).
    - Null when no master runs after the reload or start, that is when the server is down.
  returned: always
  type: int
workers_before:
  description: Pids of the master's child processes before the reload.
  returned: always
  type: list
  elements: int
workers_after:
  description: Pids of the master's child processes when the wait ended.
  returned: always
  type: list
  elements: int
workers_replaced:
  description:
    - Whether new worker processes appeared after the reload (or the start). False means the master kept its old
      workers, which is how nginx and HAProxy react to a configuration they cannot load. Null when nothing was
      reloaded.
  returned: always
  type: bool
started:
  description: Whether the server was started because it was not running (O(start_if_stopped)).
  returned: always
  type: bool
wait_for:
  description: The addresses waited for, given or taken from the configuration.
  returned: always
  type: list
  elements: str
  sample: ["127.0.0.1:443"]
listening:
  description: The addresses of RV(wait_for) that accepted a TCP connection after the reload.
  returned: always
  type: list
  elements: str
  sample: ["127.0.0.1:443"]
elapsed:
  description: Seconds from the reload command until the server served again (0 when nothing was reloaded).
  returned: always
  type: float
  sample: 0.412
bind_check:
  description: The check of the configuration's listen addresses against the sockets already listening on the node.
  returned: always
  type: dict
  contains:
    checked:
      description:
        - Whether the check ran. False with O(state=tested), and when it was skipped (see RV(bind_check.notes)).
      type: bool
    addresses:
      description: The listen addresses of the configuration on disk, as written there.
      type: list
      elements: str
      sample: ["*:443", "127.0.0.1:8443"]
    notes:
      description: Why the check was skipped or left an address out; each is also a warning.
      type: list
      elements: str
bind_conflicts:
  description:
    - The listen addresses of the configuration that another process already holds; the module fails before
      reloading when this is not empty.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The listen address as the configuration writes it.
      type: str
      sample: 127.0.0.1:8444
    socket:
      description: The socket in LISTEN state that collides with it (a wildcard one collides with every address).
      type: str
      sample: 0.0.0.0:8444
    pid:
      description: The pid of a process holding that socket; null when it cannot be identified.
      type: int
      sample: 4242
    command:
      description: That process's command name (C(/proc/PID/comm)).
      type: str
      sample: python3
  sample: [{"address": "127.0.0.1:8444", "socket": "127.0.0.1:8444", "pid": 4242, "command": "python3"}]
"""

from ansible.module_utils.basic import AnsibleModule

# isort: split
# First of the collection's imports: each one after it is compiled once on the node, not twice (zip_import.py).
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import  # noqa: F401 pylint: disable=unused-import

# isort: split

from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import TlsfleetError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.control import (
    Environment,
    ReloadError,
    operate,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "server": {"type": "str", "required": True, "choices": list(servers.TYPES)},
            "state": {"type": "str", "default": "reloaded", "choices": ["tested", "reloaded"]},
            "method": {"type": "str", "default": "auto", "choices": ["auto", "systemd", "native"]},
            "unit": {"type": "str"},
            "config": {"type": "path"},
            "wait_for": {"type": "list", "elements": "raw", "default": []},
            "timeout": {"type": "float", "default": 30.0},
            "start_if_stopped": {"type": "bool", "default": False},
            "config_test_command": {"type": "list", "elements": "str"},
            "reload_command": {"type": "list", "elements": "str"},
        },
        supports_check_mode=True,
    )
    env = Environment(run=common.process_runner(), which=common.default_which)
    failure = None
    try:
        result = operate(module.params, env, check_mode=module.check_mode)
    except ReloadError as exc:
        failure = (str(exc), exc.result)
    except TlsfleetError as exc:
        failure = (str(exc), {"changed": False})
    if failure is not None:
        msg, data = failure
        _warn_notes(module, data)
        module.fail_json(msg=msg, **data)
    _warn_notes(module, result)
    module.exit_json(**result)


def _warn_notes(module: AnsibleModule, data: dict) -> None:
    """The bind check's notes (skipped, holder unknown) as warnings: a safeguard that did not run must show."""
    for note in (data.get("bind_check") or {}).get("notes") or []:
        module.warn(f"server_reload: {note}")


if __name__ == "__main__":
    main()
