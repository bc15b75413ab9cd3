# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test a TLS server's configuration, reload it gracefully, and wait until it serves again.

The per-server knowledge is small (which command tests, which reloads, which systemd unit); each
server type keeps it in its own ``servers/<type>/control.py`` (see the contract in
``servers/__init__.py``), reached through the registry. The rest is the same for every server:

1. find the server: the running master (its pid, command line, config file) and the binaries,
   from /proc the way discovery does (``common.list_processes``/``common.masters``);
2. run the config test; on failure stop, having changed nothing; then refuse when a listen address of the
   configuration is held by another process (Apache would exit on the graceful restart), see ``check_binds``;
3. reload (``systemctl reload <unit>`` or the server's own command; SIGUSR2 to a HAProxy master);
4. watch the master stay alive and new workers replace the old ones (pids from /proc), and poll
   the TLS ports with a TCP connect until they accept.

Everything that touches the node is injected (runner, /proc root, clock, signal, connect), so the
unit tests drive it with fakes and the real-server tests with real processes.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, TlsfleetError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common

# Makes AnsiballZ ship every server type's control part with this module (servers/parts.py says why).
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import parts as shipped_parts  # noqa: F401 pylint: disable=unused-import
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.common import Runner, Which

SYSTEMD_DIR = "/run/systemd/system"
POLL_INTERVAL = 0.2
#: Listen hosts meaning "every address": connect to the loopback address instead.
WILDCARD_HOSTS = ("", "*", "0.0.0.0", "_default_")  # noqa: S104  # compared against, never bound to


class ReloadError(TlsfleetError):
    """The config test, the reload or the wait failed; ``result`` holds what was learned so far."""

    def __init__(self, message: str, result: Dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


@dataclass(repr=False)
class Target(Record):
    """The server instance to act on."""

    server: str
    binary: Optional[str] = None
    ctl: Optional[str] = None
    master_pid: Optional[int] = None
    master_cmdline: List[str] = field(default_factory=list)
    configs: List[str] = field(default_factory=list)
    config_explicit: bool = False
    prefix: Optional[str] = None
    server_root: Optional[str] = None
    pid_file: Optional[str] = None
    master_worker: Optional[bool] = None

    @property
    def part(self):
        """The server type's own control knowledge (``servers/<type>/control.py``)."""
        return _control(self.server)

    @property
    def label(self) -> str:
        return self.part.LABEL

    @property
    def running(self) -> bool:
        return self.master_pid is not None


# ---------------------------------------------------------------------------------------------
# finding the running master


def _control(server: str):
    """``servers/<type>/control.py`` of a registered server type; InputError names the known types."""
    if server not in servers.REGISTRY:
        raise InputError(f"unknown server type {server!r}; known: {', '.join(servers.REGISTRY)}.")
    return servers.REGISTRY[server].CONTROL


def _master_settings(server: str, cmdline: List[str]) -> Dict[str, Any]:
    """Config files, prefix/root, pid file and mode a master was started with (its own command line)."""
    return _control(server).master_settings(cmdline)


def _same_path(one: str, other: str) -> bool:
    return os.path.normpath(one) == os.path.normpath(other) or os.path.realpath(one) == os.path.realpath(other)


def running_masters(server: str, proc_root: str = "/proc") -> List[common.ProcInfo]:
    """The masters of ``server`` in this node's network namespace (live processes only)."""
    processes = common.list_processes(proc_root, _control(server).PROCESS_NAMES)
    processes = [proc for proc in processes if is_alive(proc_root, proc.pid)]
    return common.masters(processes, servers.REGISTRY[server].one_shot)


def _matches(server: str, master: common.ProcInfo, config: Optional[str]) -> bool:
    if not config:
        return True
    configs = _master_settings(server, master.cmdline)["configs"]
    if not configs and _control(server).DEFAULT_CONFIG:
        configs = [_control(server).DEFAULT_CONFIG]
    return any(_same_path(value, config) for value in configs)


def find_target(
    server: str,
    which: Which,
    proc_root: str = "/proc",
    config: Optional[str] = None,
) -> Target:
    """The instance of ``server`` to act on: the running master (chosen by ``config`` when several run).

    A server that does not run yields a Target without ``master_pid``. Several masters and no
    ``config`` to choose between them is an error: reloading the wrong one must not happen.
    """
    part = _control(server)
    masters = [master for master in running_masters(server, proc_root) if _matches(server, master, config)]
    if len(masters) > 1:
        described = ", ".join(f"pid {master.pid} ({' '.join(master.cmdline)[:120]})" for master in masters)
        raise InputError(
            f"{len(masters)} {part.LABEL} masters run on this node: {described}; "
            "choose one with the config option (its main configuration file)."
        )
    master = masters[0] if masters else None
    binary = next((path for path in (which(name) for name in part.BINARIES) if path), None)
    if master and master.exe and os.path.exists(master.exe):
        binary = master.exe
    target = Target(server=server, binary=binary)
    target.ctl = part.find_ctl(which)
    if master:
        settings = _master_settings(server, master.cmdline)
        target.master_pid = master.pid
        target.master_cmdline = list(master.cmdline)
        target.configs = settings["configs"]
        target.prefix = settings["prefix"]
        target.server_root = settings["server_root"]
        target.pid_file = settings["pid_file"]
        target.master_worker = settings.get("master_worker")
        part.complete_target(target, lambda: workers_of(server, master.pid, proc_root))
    if config:
        target.configs = [config]
        target.config_explicit = True
    return target


def is_alive(proc_root: str, pid: Optional[int]) -> bool:
    """Whether ``pid`` exists and is not a zombie (a dead master its parent has not reaped yet)."""
    if pid is None:
        return False
    try:
        with open(os.path.join(proc_root, str(pid), "stat"), "rb") as handle:
            data = handle.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    end = data.rfind(")")
    state = data[end + 2 : end + 3] if end != -1 else ""
    return state not in ("Z", "X", "x")


def workers_of(server: str, master_pid: Optional[int], proc_root: str = "/proc") -> List[int]:
    """Pids of the master's live child processes of the same server (workers, cache manager, ...)."""
    if master_pid is None:
        return []
    processes = common.list_processes(proc_root, _control(server).PROCESS_NAMES)
    return sorted(proc.pid for proc in processes if proc.ppid == master_pid and is_alive(proc_root, proc.pid))


# ---------------------------------------------------------------------------------------------
# commands


def _binary(target: Target) -> str:
    return target.binary or target.part.BINARIES[0]


def config_test_command(target: Target) -> List[str]:
    """The server's own read-only configuration test, for the same files the master uses."""
    return target.part.config_test_command(target, _binary(target))


def native_reload_command(target: Target) -> List[str]:
    """The server's own graceful reload; for a server reloaded by a signal, a description of the signal."""
    return target.part.native_reload_command(target, _binary(target))


def native_start_command(target: Target) -> List[str]:
    """The server's own start command (each daemonizes)."""
    return target.part.native_start_command(target, _binary(target))


def default_unit(server: str, which: Which) -> str:
    """The usual unit name (the type may choose by the binaries present, as Debian and Red Hat differ)."""
    return _control(server).default_unit(which)


def choose_method(
    method: str,
    server: str,
    unit: Optional[str],
    run: Runner,
    which: Which,
    timeout: float,
    systemd_dir: str = SYSTEMD_DIR,
) -> Tuple[str, Optional[str]]:
    """``(method, unit)``: ``auto`` is systemd when systemd runs and the unit is active, else native."""
    if method == "native":
        return "native", None
    systemctl = which("systemctl")
    if method == "systemd":
        if not systemctl:
            raise InputError("method=systemd was asked for, but systemctl is not installed on this node.")
        return "systemd", unit or default_unit(server, which)
    if not systemctl or not os.path.isdir(systemd_dir):
        return "native", None
    candidates = [unit] if unit else list(_control(server).UNITS)
    for name in candidates:
        result = common.run_command(run, [systemctl, "is-active", "--quiet", name], timeout)
        if result.ok:
            return "systemd", name
    return "native", None


# ---------------------------------------------------------------------------------------------
# waiting


def parse_wait_for(values: Sequence[Any]) -> List[Tuple[str, int]]:
    """``(host, port)`` pairs from ports (``443``) and ``host:port`` / ``[v6]:port`` strings."""
    pairs: List[Tuple[str, int]] = []
    for value in values:
        text = str(value).strip()
        host = "127.0.0.1"
        port_text = text
        if text.startswith("["):
            end = text.find("]:")
            if end == -1:
                raise InputError(f"wait_for entry {text!r} is not a port, host:port or [address]:port.")
            host, port_text = text[1:end], text[end + 2 :]
        elif ":" in text:
            host, port_text = text.rsplit(":", 1)
        if not port_text.isdigit() or not 0 < int(port_text) < 65536 or not host:
            raise InputError(f"wait_for entry {text!r} is not a port, host:port or [address]:port.")
        pair = (host, int(port_text))
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def listen_to_wait_for(address: str) -> Optional[Tuple[str, int]]:
    """Where to connect to test a listen address (``*:443`` -> ``127.0.0.1:443``); None when not TCP."""
    text = address.strip()
    for prefix in ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text.startswith("["):
        end = text.find("]:")
        if end == -1:
            return None
        host, port = text[1:end], text[end + 2 :]
        host = "::1" if host in ("::", "") else host
    elif ":" in text:
        host, port = text.rsplit(":", 1)
        if host in WILDCARD_HOSTS:
            host = "127.0.0.1"
    elif text.isdigit():
        host, port = "127.0.0.1", text
    else:
        return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def tls_ports_from_discovery(info: Optional[common.ServerInfo]) -> List[Tuple[str, int]]:
    """The TLS listen addresses of a discovered server, as connect targets, without duplicates."""
    pairs: List[Tuple[str, int]] = []
    if info is None:
        return pairs
    for site in info.sites:
        for listen in site.listen:
            if not listen.get("ssl"):
                continue
            pair = listen_to_wait_for(str(listen.get("address", "")))
            if pair and pair not in pairs:
                pairs.append(pair)
    return pairs


def tcp_accepts(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to ``host:port`` is accepted within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=max(timeout, 0.05)):
            return True
    except OSError:
        return False


def format_pair(pair: Tuple[str, int]) -> str:
    host, port = pair
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------------------------------------
# the bind check: is a listen address of the new configuration held by another process?
#
# A configuration test does not bind, so it passes when another process holds a port the new
# configuration listens on. nginx and HAProxy then keep their old workers (the reload silently does not
# take effect), but Apache httpd exits altogether on a graceful restart that cannot bind a Listen
# address (AH00072 make_sock: could not bind to address, AH00451 no listening sockets available,
# shutting down). So before reloading, the listen addresses of the configuration on disk are compared
# with the TCP sockets in LISTEN state (net/tcp, net/tcp6), and each matching socket's holder is found
# through the ``socket:[inode]`` links in /proc/PID/fd. The check only reads /proc.

#: The ``st`` column value of a socket in LISTEN state (include/net/tcp_states.h: TCP_LISTEN = 10).
TCP_LISTEN_STATE = "0A"
#: Address prefixes of HAProxy binds that are not TCP sockets of this network namespace.
NON_TCP_PREFIXES = (
    "unix:",
    "unix@",
    "abns@",
    "abnsz@",
    "fd@",
    "sockpair@",
    "udp@",
    "udp4@",
    "udp6@",
    "quic4@",
    "quic6@",
    "uxst@",
    "uxdg@",
    "rhttp@",
)
#: HAProxy ``bind`` prefixes naming a TCP address family.
TCP_PREFIXES = ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@")
#: Ports of one HAProxy port range checked at most.
MAX_RANGE_PORTS = 1024
#: Bytes of one net/tcp file read at most (a busy node has a few thousand lines of 150 bytes).
MAX_NET_TCP_BYTES = 64 * 1024 * 1024


@dataclass(repr=False)
class ListenSocket(Record):
    """One TCP socket in LISTEN state; ``host`` is the normalised IP text (``0.0.0.0``/``::`` for all)."""

    host: str
    port: int
    inode: int

    def display(self) -> str:
        return format_pair((self.host, self.port))


def _normal_ip(text: str) -> Optional[str]:
    """An IP literal in canonical form (IPv4-mapped IPv6 as IPv4), or None when ``text`` is no IP."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def decode_proc_address(text: str) -> Optional[Tuple[str, int]]:
    """``(ip, port)`` of a net/tcp ``local_address`` (``0100007F:1F90`` is 127.0.0.1:8080 on x86).

    The kernel prints the address as 32-bit words in the node's own byte order, the port as a plain number.
    """
    addr_hex, sep, port_hex = text.strip().partition(":")
    if not sep or len(addr_hex) not in (8, 32):
        return None
    try:
        port = int(port_hex, 16)
        packed = b"".join(struct.pack("=I", int(addr_hex[i : i + 8], 16)) for i in range(0, len(addr_hex), 8))
    except (ValueError, struct.error):
        return None
    family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
    host = _normal_ip(socket.inet_ntop(family, packed))
    return (host, port) if host else None


def read_listening_sockets(proc_root: str = "/proc", pid: Optional[int] = None) -> Optional[List[ListenSocket]]:
    """The TCP sockets in LISTEN state (IPv4 and IPv6); None when neither net/tcp nor net/tcp6 is readable.

    With ``pid`` the tables of that process's network namespace are read (``/proc/PID/net``), else
    ``/proc/net`` (the reader's own).
    """
    base = os.path.join(proc_root, str(pid), "net") if pid is not None else os.path.join(proc_root, "net")
    sockets: List[ListenSocket] = []
    readable = False
    for name in ("tcp", "tcp6"):
        try:
            with open(os.path.join(base, name), "rb") as handle:
                data = handle.read(MAX_NET_TCP_BYTES).decode("ascii", "replace")
        except OSError:
            continue
        readable = True
        for line in data.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != TCP_LISTEN_STATE or not fields[9].isdigit():
                continue
            decoded = decode_proc_address(fields[1])
            if decoded is None:
                continue
            sockets.append(ListenSocket(decoded[0], decoded[1], int(fields[9])))
    return sockets if readable else None


def _stat_fields(proc_root: str, pid: int) -> Optional[Tuple[str, int]]:
    """``(comm, ppid)`` of a process from /proc/PID/stat."""
    try:
        with open(os.path.join(proc_root, str(pid), "stat"), "rb") as handle:
            data = handle.read(4096).decode("utf-8", "replace")
    except OSError:
        return None
    start, end = data.find("("), data.rfind(")")
    rest = data[end + 2 :].split() if start != -1 and end > start else []
    if len(rest) < 2 or not rest[1].lstrip("-").isdigit():
        return None
    return data[start + 1 : end], int(rest[1])


def _socket_inodes(proc_root: str, pid: int) -> Optional[Set[int]]:
    """Inodes of the sockets a process holds open; None when its fd directory cannot be read."""
    fd_dir = os.path.join(proc_root, str(pid), "fd")
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return None
    inodes: Set[int] = set()
    for name in names:
        try:
            link = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if link.startswith("socket:[") and link.endswith("]") and link[8:-1].isdigit():
            inodes.add(int(link[8:-1]))
    return inodes


def process_family(proc_root: str, master_pid: Optional[int]) -> Tuple[Set[int], Dict[int, Tuple[str, int]]]:
    """``(family, processes)``: the master and every descendant of it, and ``pid -> (comm, ppid)`` of all."""
    processes: Dict[int, Tuple[str, int]] = {}
    try:
        entries = [int(entry) for entry in os.listdir(proc_root) if entry.isdigit()]
    except OSError:
        entries = []
    for pid in entries:
        fields = _stat_fields(proc_root, pid)
        if fields is not None:
            processes[pid] = fields
    family: Set[int] = set()
    if master_pid is None:
        return family, processes
    for pid in processes:
        seen = 0
        current: Optional[int] = pid
        while current is not None and current > 0 and seen < 64:
            if current == master_pid:
                family.add(pid)
                break
            current = processes[current][1] if current in processes else None
            seen += 1
    family.add(master_pid)
    return family, processes


def parse_bind_address(text: str) -> List[Tuple[str, int]]:
    """``(host, port)`` pairs one listen address binds (``""`` for every address); [] when not a TCP address.

    Reads nginx ``listen`` (``*:443``, ``[::]:443``, ``443``), Apache ``Listen`` (``443``, ``192.0.2.1:443``,
    ``[2001:db8::1]:443``) and HAProxy ``bind`` addresses (``:443``, ``ipv4@0.0.0.0:443``, ``10.0.0.1:8000-8010``).
    """
    value = text.strip()
    lowered = value.lower()
    if not value or lowered.startswith(NON_TCP_PREFIXES) or value.startswith("/") or "$" in value:
        return []
    for prefix in TCP_PREFIXES:
        if lowered.startswith(prefix):
            value = value[len(prefix) :]
            break
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return []
        host = value[1:end]
        port_text = value[end + 2 :] if value[end + 1 : end + 2] == ":" else ""
    elif value.replace("-", "").isdigit():
        host, port_text = "", value
    elif ":" in value:
        host, port_text = value.rsplit(":", 1)
    else:
        return []
    if host in WILDCARD_HOSTS or host == "::":
        host = ""
    first, sep, last = port_text.partition("-")
    if not first.isdigit() or (sep and not last.isdigit()):
        return []
    low, high = int(first), int(last) if sep else int(first)
    if not 0 < low <= high < 65536:
        return []
    high = min(high, low + MAX_RANGE_PORTS - 1)
    normal = _normal_ip(host) if host else ""
    return [(normal if normal is not None else host, port) for port in range(low, high + 1)]


def config_listen_addresses(server: str, info: Optional[common.ServerInfo], proc_root: str) -> Optional[List[str]]:
    """The TCP listen addresses the configuration on disk declares, as written; None when unknown.

    A server type may bind other addresses than its sites' (Apache binds its ``Listen`` directives, a
    <VirtualHost> address only selects among them): its ``bound_addresses`` says so. Otherwise the sites'
    ``listen``/``bind`` addresses are bound (QUIC is UDP and left out).
    """
    if info is None:
        return None
    addresses: List[str] = []
    try:
        listens = _control(server).bound_addresses(info, proc_root)
    except Exception:  # pylint: disable=broad-exception-caught  # the check is a safeguard, never a crash
        listens = None
    if listens:
        return list(dict.fromkeys(listens))
    for site in info.sites:
        for listen in site.listen:
            if listen.get("quic") and not listen.get("ssl"):
                continue
            address = str(listen.get("address", ""))
            if address and address not in addresses:
                addresses.append(address)
    return addresses


def _resolve(host: str) -> Optional[List[str]]:
    """IP addresses of a listen host (``""`` stays the wildcard); None when a name does not resolve."""
    if host == "" or _normal_ip(host) is not None:
        return [host]
    try:
        answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    return list(dict.fromkeys(ip for ip in (_normal_ip(str(answer[4][0])) for answer in answers) if ip))


def _overlaps(host: str, held: ListenSocket) -> bool:
    """Whether binding ``host`` (``""``: every address) on ``held.port`` collides with the held socket.

    A wildcard bind collides with every address on its port; ``::`` is taken as dual-stack (the Linux default,
    ``net.ipv6.bindv6only=0``), ``0.0.0.0`` covers the IPv4 addresses only.
    """
    if host == "" or held.host == "::":
        return True
    if held.host == "0.0.0.0":  # noqa: S104  # compared against, never bound to
        return ":" not in host
    return host == held.host


def check_binds(
    addresses: Sequence[str],
    master_pid: Optional[int],
    proc_root: str = "/proc",
) -> Dict[str, Any]:
    """Compare listen addresses with the node's LISTEN sockets; return what holds them outside the server.

    ``{"checked": bool, "conflicts": [{"address", "socket", "pid", "command"}], "notes": [...]}``. A socket
    counts as the server's own when the master or any of its descendants holds it. A socket nobody
    visible holds conflicts only when the master's own descriptors were readable (else this is not root and
    cannot tell, which becomes a note).
    """
    outcome: Dict[str, Any] = {"checked": False, "conflicts": [], "notes": []}
    net_pid = None
    if master_pid is not None and os.path.isdir(os.path.join(proc_root, str(master_pid), "net")):
        net_pid = master_pid  # the master's network namespace is the one it binds in
    held = read_listening_sockets(proc_root, net_pid)
    if held is None:
        outcome["notes"].append(
            f"the bind check was skipped: {os.path.join(proc_root, 'net', 'tcp')} and tcp6 cannot be read."
        )
        return outcome
    wanted: List[Tuple[str, str, int]] = []
    for address in addresses:
        for host, port in parse_bind_address(address):
            ips = _resolve(host)
            if ips is None:
                outcome["notes"].append(f"listen address {address} does not resolve; it was not checked.")
                continue
            wanted.extend((address, ip, port) for ip in ips)
    matches: List[Tuple[str, ListenSocket]] = []
    for address, ip, port in wanted:
        for sock in held:
            if sock.port == port and _overlaps(ip, sock) and (address, sock) not in matches:
                matches.append((address, sock))
    outcome["checked"] = True
    if not matches:
        return outcome
    family, processes = process_family(proc_root, master_pid)
    inodes = {sock.inode for _address, sock in matches}
    owners: Dict[int, List[int]] = {}
    unreadable: Set[int] = set()

    def collect(pids: List[int], wanted_inodes: Set[int]) -> None:
        for pid in pids:
            if all(inode in owners for inode in wanted_inodes):
                return
            found = _socket_inodes(proc_root, pid)
            if found is None:
                unreadable.add(pid)
                continue
            for inode in found & wanted_inodes:
                owners.setdefault(inode, []).append(pid)

    # The server's own processes first: they usually hold every matching socket, and nothing else is read.
    collect(sorted(family), inodes)
    foreign = {inode for inode in inodes if inode not in owners}
    if foreign:
        collect(sorted(pid for pid in processes if pid not in family), foreign)
    own_known = master_pid is None or master_pid not in unreadable
    reported: Set[Tuple[str, int]] = set()
    for address, sock in matches:
        holders = owners.get(sock.inode, [])
        if any(pid in family for pid in holders):
            continue
        if not holders and not own_known:
            outcome["notes"].append(
                f"{sock.display()} is listening, but its holder is unknown (run as root to see whose it is)."
            )
            continue
        if (address, sock.inode) in reported:
            continue
        reported.add((address, sock.inode))
        pid = holders[0] if holders else None
        outcome["conflicts"].append(
            {
                "address": address,
                "socket": sock.display(),
                "pid": pid,
                "command": processes[pid][0] if pid in processes else None,
            }
        )
    return outcome


def bind_check_for(target: Target, info: Optional[common.ServerInfo], proc_root: str) -> Dict[str, Any]:
    """The bind check of ``operate()``: ``{"checked", "addresses", "notes", "conflicts"}``; never raises."""
    outcome: Dict[str, Any] = {"checked": False, "addresses": [], "notes": [], "conflicts": []}
    if (
        info is not None
        and not target.running
        and target.config_explicit
        and info.config_file
        and target.configs
        and not _same_path(info.config_file, target.configs[0])
    ):
        info = None  # discovery read the default configuration of a stopped server, not the one to start
    addresses = config_listen_addresses(target.server, info, proc_root)
    if addresses is None:
        outcome["notes"].append(
            f"the bind check was skipped: the listen addresses of the {target.label} configuration could not be read."
        )
        return outcome
    outcome["addresses"] = addresses
    try:
        found = check_binds(addresses, target.master_pid, proc_root)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # a safeguard must not break the reload
        outcome["notes"].append(f"the bind check was skipped: {type(exc).__name__}: {exc}")
        return outcome
    outcome.update(checked=found["checked"], conflicts=found["conflicts"])
    outcome["notes"].extend(found["notes"])
    return outcome


def _describe_conflicts(conflicts: List[Dict[str, Any]]) -> str:
    parts = []
    for conflict in conflicts:
        holder = (
            f"pid {conflict['pid']} ({conflict['command'] or 'unknown command'})"
            if conflict["pid"] is not None
            else "a process this module cannot identify"
        )
        held = f" on {conflict['socket']}" if conflict["socket"] != conflict["address"] else ""
        parts.append(f"{conflict['address']} is held by {holder}{held}")
    return "; ".join(parts)


def bind_conflict_message(target: Target, conflicts: List[Dict[str, Any]]) -> str:
    """Why the reload (or start) is refused, naming each address, holder pid and command."""
    label = target.label
    found = _describe_conflicts(conflicts)
    if not target.running:
        return (
            f"Refusing to start {label}: a listen address of its configuration is in use by another process ({found}). "
            f"{label} could not bind it and would not start. Nothing was started; free the address or change the "
            "configuration."
        )
    consequence = target.part.BIND_FAILURE_CONSEQUENCE
    if not consequence:
        consequence = (
            f"{label} would keep its old workers and the reload would not take effect (the new configuration fails "
            "to bind)"
        )
    return (
        f"Refusing to reload {label} (master pid {target.master_pid}): the new configuration listens on an address "
        f"another process holds ({found}). {consequence}. Nothing was reloaded; the configuration test passed because "
        "it does not bind. Free the address or change the configuration, then reload."
    )


def down_message(target: Target, old_pid: Optional[int], info: Optional[common.ServerInfo]) -> str:
    """The failure of a reload (or start) after which no master runs: the server is down, say so plainly."""
    label = target.label
    logs = ", ".join(info.error_logs) if info is not None and info.error_logs else "its error log"
    if not target.running:
        return f"{label} is not running after the start: it exited at startup; see {logs}."
    cause = target.part.DOWN_CAUSE
    return (
        f"{label} is DOWN: {label} is not running after the reload (master pid {old_pid} is gone) and no new master "
        f"runs, so this node serves nothing on its ports.{cause} See {logs}. Put the previous configuration back and "
        "start it (server_reload with start_if_stopped=true; the tls_reload role's restore does both)."
    )


# ---------------------------------------------------------------------------------------------
# the whole operation


@dataclass(repr=False)
class Environment(Record):
    """What the operation touches on the node; tests replace any of it."""

    run: Runner
    which: Which
    proc_root: str = "/proc"
    systemd_dir: str = SYSTEMD_DIR
    send_signal: Callable[[int, int], None] = os.kill
    connect: Callable[[str, int, float], bool] = tcp_accepts
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    discover: Optional[Callable[[Target], Optional[common.ServerInfo]]] = None


def _discover_for(target: Target, env: Environment, timeout: float) -> Optional[common.ServerInfo]:
    """The discovery record of the target's master (for its TLS ports), or None."""
    if env.discover is not None:
        return env.discover(target)
    try:
        found = servers.discover(env.run, env.which, proc_root=env.proc_root, types=[target.server], timeout=timeout)
    except Exception:  # pylint: disable=broad-exception-caught  # the ports are a convenience, never fatal
        return None
    for info in found:
        if target.master_pid is not None and info.master_pid == target.master_pid:
            return info
    if target.master_pid is None and target.config_explicit and target.configs:
        # A stopped server: discovery read the default configuration; read the one that will be started.
        for info in found:
            if info.config_file and _same_path(info.config_file, target.configs[0]):
                return info
        try:
            return _inspect_stopped(target, env, timeout)
        except Exception:  # pylint: disable=broad-exception-caught  # the ports are a convenience, never fatal
            return None
    return found[0] if len(found) == 1 else None


def _inspect_stopped(target: Target, env: Environment, timeout: float) -> Optional[common.ServerInfo]:
    """Discovery of the configuration a stopped server would be started with (``config`` given)."""
    return target.part.inspect_stopped(env.run, target, _binary(target), timeout)


def _run_checked(env: Environment, argv: List[str], timeout: float) -> common.CommandResult:
    return common.run_command(env.run, argv, timeout)


def operate(params: Dict[str, Any], env: Environment, check_mode: bool = False) -> Dict[str, Any]:
    """Test, then (unless ``state`` is ``tested``) reload and wait; the module's whole job.

    Raises :class:`ReloadError` (with the partial result) when the test, the reload or the wait fails,
    and :class:`InputError` for unusable options. A failed config test changes nothing.
    """
    server = params["server"]
    timeout = float(params["timeout"])
    if timeout <= 0:
        raise InputError(f"timeout must be a positive number of seconds, not {params['timeout']}.")
    wait_pairs = parse_wait_for(params.get("wait_for") or [])
    target = find_target(server, env.which, env.proc_root, params.get("config"))
    label = target.label

    result: Dict[str, Any] = {
        "changed": False,
        "server": server,
        "binary": target.binary,
        "config": target.configs[0] if target.configs else None,
        "running": target.running,
        "method": None,
        "unit": None,
        "command": None,
        "config_test": {"ok": None, "command": None, "output": ""},
        "pid_before": target.master_pid,
        "pid_after": target.master_pid,
        "workers_before": workers_of(server, target.master_pid, env.proc_root),
        "workers_after": [],
        "workers_replaced": None,
        "started": False,
        "wait_for": [],
        "listening": [],
        "elapsed": 0.0,
        "bind_check": {"checked": False, "addresses": [], "notes": []},
        "bind_conflicts": [],
    }
    result["workers_after"] = list(result["workers_before"])

    # 1. The configuration test: read-only, also in check mode; a failure stops everything.
    test_argv = list(params.get("config_test_command") or config_test_command(target))
    test = _run_checked(env, test_argv, timeout)
    result["config_test"] = {"ok": test.ok, "command": " ".join(test_argv), "output": common.trim(test.output)}
    if not test.ok:
        reason = test.error or f"exit code {test.rc}"
        raise ReloadError(
            f"The {label} configuration test failed ({reason}); nothing was reloaded. "
            f"`{' '.join(test_argv)}` said: {common.trim(test.output, 1000) or '(no output)'}",
            result,
        )
    if params["state"] == "tested":
        return result

    # 2. The reload (or start).
    start = bool(params.get("start_if_stopped"))
    if not target.running and not start:
        raise ReloadError(
            f"{label} is not running; start it first (or set start_if_stopped=true). Its configuration test passed.",
            result,
        )
    method, unit = choose_method(
        params.get("method") or "auto", server, params.get("unit"), env.run, env.which, timeout, env.systemd_dir
    )
    if params.get("reload_command") and target.running:
        method = "command"
    result["method"] = method
    result["unit"] = unit
    info = _discover_for(target, env, timeout)
    if not wait_pairs:
        wait_pairs = tls_ports_from_discovery(info)
    result["wait_for"] = [format_pair(pair) for pair in wait_pairs]

    # A listen address another process holds: Apache would exit on the graceful restart. Read-only, so
    # also in check mode, and before anything is sent to the server.
    result["bind_check"] = bind_check_for(target, info, env.proc_root)
    result["bind_conflicts"] = result["bind_check"].pop("conflicts")
    if result["bind_conflicts"]:
        raise ReloadError(bind_conflict_message(target, result["bind_conflicts"]), result)

    systemctl = env.which("systemctl") or "systemctl"
    signal_pid: Optional[int] = None
    if not target.running:
        argv = [systemctl, "start", str(unit)] if method == "systemd" else native_start_command(target)
    elif method == "command":
        argv = list(params["reload_command"])
    elif method == "systemd":
        argv = [systemctl, "reload", str(unit)]
    else:
        argv = native_reload_command(target)
        if target.part.RELOAD_SIGNAL is not None:
            refusal = target.part.reload_refusal(target)
            if refusal:
                raise ReloadError(refusal, result)
            signal_pid = target.master_pid
    result["command"] = " ".join(argv)
    result["changed"] = True
    result["started"] = not target.running
    if check_mode:
        return result

    began = env.clock()
    if signal_pid is not None:
        try:
            env.send_signal(signal_pid, target.part.RELOAD_SIGNAL)
        except OSError as exc:
            name = signal.Signals(target.part.RELOAD_SIGNAL).name
            raise ReloadError(
                f"Sending {name} to the {label} master pid {signal_pid} failed: {exc.strerror or exc}.", result
            ) from None
    else:
        outcome = _run_checked(env, argv, timeout)
        if not outcome.ok:
            what = "start" if not target.running else "reload"
            raise ReloadError(
                f"The {label} {what} failed: {outcome.describe()}. "
                f"Output: {common.trim(outcome.output, 1000) or '(none)'}",
                result,
            )

    # 3. Wait: the master alive (or a new one found), new workers, and every port accepting.
    deadline = began + timeout
    before = set(result["workers_before"])
    old_pid = target.master_pid
    pending = list(wait_pairs)
    listening: List[Tuple[str, int]] = []
    master_pid: Optional[int] = old_pid
    workers: List[int] = []
    replaced = False
    while True:
        if not is_alive(env.proc_root, master_pid):
            master_pid = None
            try:
                again = find_target(server, env.which, env.proc_root, params.get("config"))
                master_pid = again.master_pid
            except InputError:
                master_pid = None
        workers = workers_of(server, master_pid, env.proc_root)
        replaced = bool(workers) and (master_pid != old_pid or any(pid not in before for pid in workers))
        still: List[Tuple[str, int]] = []
        for pair in pending:
            if env.connect(pair[0], pair[1], min(1.0, max(deadline - env.clock(), 0.05))):
                listening.append(pair)
            else:
                still.append(pair)
        pending = still
        if master_pid is not None and (replaced or not target.running) and not pending:
            break
        if env.clock() >= deadline:
            break
        env.sleep(POLL_INTERVAL)

    if master_pid is None:
        # A port accepted during the wait may have been the old master's, before it failed to bind the new
        # configuration and exited (Apache AH00072 then AH00451): what listens is what accepts now.
        listening = [pair for pair in listening if env.connect(pair[0], pair[1], 1.0)]
    result["pid_after"] = master_pid
    result["workers_after"] = workers
    result["workers_replaced"] = replaced
    result["listening"] = [format_pair(pair) for pair in wait_pairs if pair in listening]
    result["elapsed"] = round(env.clock() - began, 3)
    if master_pid is None:
        raise ReloadError(down_message(target, old_pid, info), result)
    if target.running and not replaced:
        raise ReloadError(
            f"The {label} reload did not take effect within {timeout:g} s: master pid {master_pid} still runs only its "
            f"old workers ({', '.join(str(pid) for pid in sorted(before)) or 'none'}), which means it rejected the new "
            "configuration at load time (a bind or certificate error the config test cannot see); check its error log.",
            result,
        )
    if pending:
        raise ReloadError(
            f"{label} was {'started' if not target.running else 'reloaded'} but "
            f"{', '.join(format_pair(pair) for pair in pending)} did not accept connections within {timeout:g} s.",
            result,
        )
    return result
