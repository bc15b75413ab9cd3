# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running the collection's playbooks against the lab, and looking at the nodes from outside Ansible.

Shared by the lab integration tests. Node files are read through ``labctl exec`` (the node's own view of /etc),
never through Ansible, so a node whose sshd is dead can still be checked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
LABCTL = ROOT / "tests" / "lab" / "labctl"
STATE = Path(os.environ.get("TLSFLEET_LAB_STATE", "/var/lib/tlsfleet-lab"))
INVENTORY = str(STATE / "inventory.yml")
PROJECT = HERE / "project"
VENV = ROOT / ".venv" / "ansible-2.21"
WATCHED = "/etc/nginx /etc/apache2 /etc/haproxy /etc/tlsfleet"
# Ansible's backup names: <file>.<pid>.<YYYY-MM-DD@HH:MM:SS>~
BACKUP = re.compile(r"\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$")
TRACEBACK = "Traceback (most recent call last)"


def env(collections: str, **extra) -> dict:
    environ = dict(os.environ)
    environ.update(
        PATH="%s:%s" % (VENV / "bin", os.environ.get("PATH", "")),
        ANSIBLE_COLLECTIONS_PATH=collections,
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_PIPELINING="True",
        ANSIBLE_FORKS="20",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_SSH_ARGS="-o ControlMaster=no",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_TIMEOUT="10",
    )
    environ.update(extra)
    return environ


def run(argv, timeout=900, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def labctl(*args, timeout=300) -> subprocess.CompletedProcess:
    return run([LABCTL, *args], timeout=timeout)


def node_sh(node: str, script: str, timeout=120) -> subprocess.CompletedProcess:
    return labctl("exec", node, "--", "sh", "-c", script, timeout=timeout)


def playbook(collections: str, name: str, *args, on_line=None) -> subprocess.CompletedProcess:
    """ansible-playbook on a project playbook; ``on_line(line)`` sees each output line as it comes."""
    argv = [VENV / "bin" / "ansible-playbook", "-i", INVENTORY, PROJECT / name, *args]
    if on_line is None:
        return run(argv, env=env(collections))
    proc = subprocess.Popen(
        [str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(collections)
    )
    errors: list = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    reader.start()
    lines = []
    for line in proc.stdout:
        lines.append(line)
        on_line(line)
    proc.wait(timeout=900)
    reader.join(timeout=30)
    return subprocess.CompletedProcess(argv, proc.returncode, "".join(lines), "".join(errors))


def recap(output: str) -> dict:
    """host -> {ok, changed, unreachable, failed, ...} from the PLAY RECAP."""
    counts = {}
    for line in output.rsplit("PLAY RECAP", maxsplit=1)[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line.strip())
        if match:
            counts[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return counts


def file_sums(node: str) -> dict:
    """{path: sha256} of every file under the servers' and certificates' directories, backups left out."""
    out = node_sh(node, "find %s -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum" % WATCHED)
    sums = {}
    for line in out.stdout.splitlines():
        digest, _sep, path = line.partition("  ")
        if path.startswith("/") and not BACKUP.search(path):
            sums[path] = digest
    return sums


def all_file_sums(nodes) -> dict:
    return {node: file_sums(node) for node in nodes}


def backup_modes(node: str) -> dict:
    """{backup path: octal mode} of every backup left on the node."""
    out = node_sh(node, "find %s -type f -name '*~' -printf '%%m %%p\\n' 2>/dev/null" % WATCHED)
    found = {}
    for line in out.stdout.splitlines():
        mode, _sep, path = line.partition(" ")
        if BACKUP.search(path):
            found[path] = mode
    return found


def oracle(node: str | None = None) -> dict:
    """``labctl check --json``: what a client gets per node and hostname, judged independently of the collection."""
    out = labctl("check", "--json", *(["--node", node] if node else []), timeout=300)
    try:
        return json.loads(out.stdout)
    except ValueError:
        raise AssertionError("labctl check printed no JSON: %s" % (out.stderr or out.stdout)[-2000:]) from None


def sshd_pid(node: str) -> int | None:
    try:
        return int((STATE / "nodes" / node / "run" / "sshd.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def in_sshd_namespace(node: str, script: str) -> subprocess.CompletedProcess:
    """Run ``script`` in the mount namespace of the node's sshd: what every new ssh session (Ansible) sees."""
    pid = sshd_pid(node)
    if pid is None:
        raise AssertionError("no sshd pid for %s" % node)
    return run(["nsenter", "-t", pid, "-m", "--", "sh", "-c", script], timeout=60)


def wait_until(predicate, timeout=30.0, step=0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def key_lines(certificates: dict) -> list:
    """Lines of the base64 body of every private key the lab made: none may ever be printed or written."""
    lines = []
    for files in certificates.values():
        body = Path(files["key"]).read_text().splitlines()
        lines += [line for line in body[1:-1] if len(line) >= 40][:3]
    return lines


def key_leaks(text: str, lines) -> list:
    """What in ``text`` looks like private key material: the PEM armour or a line of a known key."""
    leaks = ["PRIVATE KEY-----"] if "PRIVATE KEY-----" in text else []
    return leaks + [line[:12] + "..." for line in lines if line in text]
