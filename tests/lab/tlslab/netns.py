"""Network namespaces, the lab bridge, and process plumbing shared by the lab modules.

Everything the lab creates carries the ``tflab`` prefix (namespaces ``tflab-*``, veths ``tflabv*``,
the bridge ``tflab0``) so that ``down`` can find and remove it even without the state directory.
Addresses stay inside 198.18.0.0/15 (RFC 2544 benchmarking range) and loopback.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PREFIX = "tflab"
BRIDGE = "tflab0"
SVC_NS = "tflab-svc"
SVC_VETH = "tflabvsvc"
LAB_NET = ipaddress.ip_network("198.18.0.0/15")
SUBNET = ipaddress.ip_network("198.18.0.0/24")
CONTROLLER_ADDR = "198.18.0.1"
# Service addresses inside tflab-svc: each one can be blocked on its own by a node's egress policy.
OCSP_ADDR = "198.18.0.2"
CA_ADDR = "198.18.0.3"
DNS_ADDR = "198.18.0.4"
DEAD_DNS_ADDR = "198.18.0.5"  # assigned, nothing listens: a resolver that "points nowhere"
NXDOMAIN_DNS_ADDR = "198.18.0.6"  # tlslab.dnsfail: NXDOMAIN for every name
SERVFAIL_DNS_ADDR = "198.18.0.7"  # tlslab.dnsfail: SERVFAIL for every name
CRL_ADDR = "198.18.0.8"  # the CA's CRL distribution points (served by tlslab.responder), firewalled on their own
SVC_ADDRS = (OCSP_ADDR, CA_ADDR, DNS_ADDR, DEAD_DNS_ADDR, NXDOMAIN_DNS_ADDR, SERVFAIL_DNS_ADDR, CRL_ADDR)
FIRST_NODE_HOST = 10
MAX_NODES = 240


class LabError(Exception):
    """A failure the user can act on; the CLI prints it as one line, never as a traceback."""


def state_dir() -> Path:
    return Path(os.environ.get("TLSFLEET_LAB_STATE", "/var/lib/tlsfleet-lab"))


def run(argv, *, check=True, input_text=None, timeout=60, env=None, cwd=None) -> subprocess.CompletedProcess:
    """Run a command, capture text output; raise LabError naming the command on failure."""
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [str(a) for a in argv],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabError(f"command not found: {argv[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"command timed out after {timeout}s: {' '.join(map(str, argv))}") from exc
    if os.environ.get("TLSFLEET_LAB_DEBUG"):
        print(f"[{time.monotonic() - started:5.2f}s rc={proc.returncode}] {' '.join(map(str, argv))}", file=sys.stderr)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        tail = detail[-1] if detail else f"exit {proc.returncode}"
        raise LabError(f"{' '.join(map(str, argv[:6]))} failed: {tail}")
    return proc


def check_lab_address(addr: str) -> str:
    ip = ipaddress.ip_address(addr)
    if ip not in LAB_NET and not ip.is_loopback:
        raise LabError(f"address {addr} is outside the lab range {LAB_NET}")
    return addr


def node_address(index: int) -> str:
    if not 0 <= index < MAX_NODES:
        raise LabError(f"too many nodes: the lab supports at most {MAX_NODES}")
    return check_lab_address(str(SUBNET.network_address + FIRST_NODE_HOST + index))


def ns_name(node: str) -> str:
    return f"{PREFIX}-{node}"


def veth_name(index: int) -> str:
    return f"{PREFIX}v{index}"


# ---------------------------------------------------------------- listing


def lab_namespaces() -> list[str]:
    proc = run(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(PREFIX + "-")]


def lab_links() -> list[str]:
    proc = run(["ip", "-o", "link", "show"], check=False)
    links = []
    for line in proc.stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            name = parts[1].strip().split("@")[0]
            if name.startswith(PREFIX):
                links.append(name)
    return links


def link_exists(name: str) -> bool:
    return run(["ip", "link", "show", name], check=False).returncode == 0


# ---------------------------------------------------------------- bridge and namespaces


def create_bridge() -> None:
    if not link_exists(BRIDGE):
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "addr", "replace", f"{CONTROLLER_ADDR}/{SUBNET.prefixlen}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def create_namespace(ns: str, veth: str, addrs: list[str]) -> None:
    """A namespace with lo up and an eth0 on the lab bridge carrying ``addrs``."""
    for addr in addrs:
        check_lab_address(addr)
    if ns in lab_namespaces():
        delete_namespace(ns)
    if link_exists(veth):
        run(["ip", "link", "del", veth], check=False)
    run(["ip", "netns", "add", ns])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
    run(["ip", "link", "set", veth, "master", BRIDGE, "up"])
    for addr in addrs:
        run(["ip", "-n", ns, "addr", "add", f"{addr}/{SUBNET.prefixlen}", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])


def ns_pids(ns: str) -> list[int]:
    proc = run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def kill_pids(pids, grace: float = 3.0) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL whatever is left."""
    alive = [p for p in pids if _signal(p, signal.SIGTERM)]
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if pid_alive(p)]
    for pid in alive:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def read_pidfile(path: Path) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def delete_namespace(ns: str) -> None:
    for _attempt in range(3):
        pids = ns_pids(ns)
        if not pids:
            break
        kill_pids(pids)
    run(["ip", "netns", "del", ns], check=False)


def delete_links() -> None:
    for link in lab_links():
        if link != BRIDGE:
            run(["ip", "link", "del", link], check=False)
    if link_exists(BRIDGE):
        run(["ip", "link", "del", BRIDGE], check=False)


# ---------------------------------------------------------------- running inside a namespace


def ns_exec(ns: str, argv, **kwargs) -> subprocess.CompletedProcess:
    """Plain ``ip netns exec`` (the /etc/netns/NS overlay applies, nothing else)."""
    return run(["ip", "netns", "exec", ns, *argv], **kwargs)


def spawn_logged(argv, log: Path, env=None) -> subprocess.Popen:
    """Start a long-running process detached from labctl (own session), output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            close_fds=True,
        )


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")


def tcp_listening(ns: str, addr: str, port: int) -> bool:
    """True when something listens on addr:port inside ``ns`` (``ss`` in the namespace)."""
    proc = ns_exec(ns, ["ss", "-Htln", f"sport = :{port}"], check=False, timeout=10)
    for line in proc.stdout.splitlines():
        cols = line.split()
        if len(cols) >= 4:
            local = cols[3]
            host = local.rsplit(":", 1)[0].strip("[]")
            if host in (addr, "0.0.0.0", "*", "::"):  # noqa: S104 - reading ss output, not binding
                return True
    return False
