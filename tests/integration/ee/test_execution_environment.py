# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as an execution environment sees it: built, installed, introspected, and put in an EE context.

1. ``ansible-galaxy collection build`` from a copy of the work tree (tools/sync-collection), so galaxy.yml's
   build_ignore decides what ships;
2. ``ansible-galaxy collection install --offline`` of that tarball into a temporary collections path;
3. ``ansible-builder introspect`` over it must report requirements.txt and bindep.txt (what
   meta/execution-environment.yml declares);
4. ``ansible-builder create`` from a version 3 definition that installs the tarball must write a Containerfile
   that installs the collection and its dependencies. No image is pulled and no container engine is needed.

Every tool runs in a child Python with an audit hook that refuses network use (any getaddrinfo, or a connect
to an IP address), so a step that tried to reach Galaxy, PyPI or a registry fails the test.
Run with the ansible-2.21 venv's python (it has ansible-builder).
"""

from __future__ import annotations

import filecmp
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
pytest.importorskip("ansible_builder", reason="ansible-builder is not installed in this Python (use the 2.21 venv)")

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 300
BASE_IMAGE = "quay.io/ansible/awx-ee:latest"

# Runs one tool in-process with network use refused. argv: TOOL ARGS...
OFFLINE = r"""
import ipaddress, socket, sys

def refuse(event, args):
    # A name lookup is network use (DNS); an IP literal is not (ansible-core calls getaddrinfo("127.0.0.1", ...)
    # at import to decide on a patch).
    lookup = False
    if event == "socket.getaddrinfo" and args[0] is not None:
        host = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        try:
            ipaddress.ip_address(host)
        except ValueError:
            lookup = True
    if lookup or (event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6)):
        sys.stderr.write("OFFLINE-GUARD: network use refused: %s %r\n" % (event, args[1:]))
        sys.stderr.flush()
        raise RuntimeError("network use refused in an offline test step")

sys.addaudithook(refuse)
tool = sys.argv.pop(1)
sys.argv[0] = tool
if tool == "ansible-galaxy":
    from ansible.cli.galaxy import main
    sys.exit(main())
elif tool == "ansible-builder":
    from ansible_builder.cli import run
    sys.exit(run())
elif tool == "connect":
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    sys.exit(0)
raise SystemExit("unknown tool %s" % tool)
"""


def offline(*argv, cwd=None, collections_path=None):
    # Without the test's PYTHONPATH: it holds the work tree as a collection, and ansible-galaxy would then call
    # the tarball "already installed" and install nothing.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATH")}
    env.pop("ANSIBLE_COLLECTIONS_PATHS", None)
    if collections_path:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path)
    proc = subprocess.run(
        [sys.executable, "-c", OFFLINE, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert "OFFLINE-GUARD" not in proc.stderr, "%s tried the network:\n%s" % (argv[0], proc.stderr[-3000:])
    return proc


def ok(proc):
    assert proc.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (
        proc.returncode,
        proc.stdout[-3000:],
        proc.stderr[-3000:],
    )
    return proc


def requirement_lines(path):
    lines = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


@pytest.fixture(scope="module")
def galaxy():
    return yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def built(tmp_path_factory, galaxy):
    """(tarball, collections path holding it installed)."""
    work = tmp_path_factory.mktemp("ee")
    copy = subprocess.run(
        [str(ROOT / "tools" / "sync-collection"), str(work / "src")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    ).stdout.strip()
    dist = work / "dist"
    ok(offline("ansible-galaxy", "collection", "build", "--output-path", str(dist), cwd=copy))
    tarball = dist / ("%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"]))
    assert tarball.is_file(), sorted(p.name for p in dist.iterdir())
    collections = work / "collections"
    proc = ok(
        offline(
            "ansible-galaxy",
            "collection",
            "install",
            "--offline",
            "-p",
            str(collections),
            str(tarball),
            collections_path=collections,
        )
    )
    assert "tlsfleet.stapling:%s was installed successfully" % galaxy["version"] in proc.stdout, proc.stdout
    return tarball, collections


def test_offline_guard_refuses_a_connection():
    """Control for the guard itself: a plain TCP connect to a local listener is refused and reported."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        proc = subprocess.run(
            [sys.executable, "-c", OFFLINE, "connect", "127.0.0.1", str(listener.getsockname()[1])],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode != 0 and "OFFLINE-GUARD: network use refused: socket.connect" in proc.stderr


def test_tarball_ships_the_ee_metadata_and_nothing_ignored(built, galaxy):
    tarball, collections = built
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    for needed in ("MANIFEST.json", "FILES.json", "meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
        assert needed in names, needed
    for name in names:
        top = name.split("/", 1)[0]
        assert top not in (".git", ".venv", ".build", ".ansible"), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name
        assert not name.startswith(("tests/output/", "tests/lab/.state/")), name
    installed = collections / "ansible_collections" / galaxy["namespace"] / galaxy["name"]
    meta = yaml.safe_load((installed / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))
    assert meta["version"] == 1
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}


def test_introspect_reports_python_and_system_requirements(built, tmp_path):
    _tarball, collections = built
    pip_out, bindep_out = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    proc = ok(
        offline(
            "ansible-builder",
            "introspect",
            # --sanitize is a hidden no-op in ansible-builder 3.x (sanitizing is always on); kept for 1.x/2.x.
            "--sanitize",
            "--write-pip",
            str(pip_out),
            "--write-bindep",
            str(bindep_out),
            str(collections),
        )
    )
    data = yaml.safe_load(proc.stdout)
    origin = "# from collection tlsfleet.stapling"
    python = [entry.split("#", 1)[0].strip() for entry in data["python"] if origin in entry]
    system = [entry.split("#", 1)[0].strip() for entry in data["system"] if origin in entry]
    assert len(python) == len(data["python"]) and len(system) == len(data["system"])

    assert python == requirement_lines(ROOT / "requirements.txt")
    names = {entry.split(">", 1)[0].split("=", 1)[0].split("<", 1)[0].strip().lower() for entry in python}
    assert {"cryptography", "pyopenssl", "jmespath"} <= names
    assert system == requirement_lines(ROOT / "bindep.txt")
    assert "openssl" in system and any(entry.startswith("openssh-clients [platform:rpm]") for entry in system)

    assert requirement_lines(pip_out) == python
    assert requirement_lines(bindep_out) == system


def test_builder_create_writes_a_containerfile_installing_the_collection(built, tmp_path):
    tarball, _collections = built
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / tarball.name).write_bytes(tarball.read_bytes())
    definition = {
        "version": 3,
        "images": {"base_image": {"name": BASE_IMAGE}},
        "dependencies": {
            "python_interpreter": {"package_system": "python3.12", "python_path": "/usr/bin/python3.12"},
            "ansible_core": {"package_pip": "ansible-core>=2.19,<2.22"},
            "ansible_runner": {"package_pip": "ansible-runner"},
            "galaxy": {"collections": [{"name": "collections/%s" % tarball.name, "type": "file"}]},
        },
        "additional_build_files": [{"src": "dist/%s" % tarball.name, "dest": "collections"}],
    }
    ee_file = tmp_path / "execution-environment.yml"
    ee_file.write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")
    context = tmp_path / "context"
    ok(
        offline(
            "ansible-builder",
            "create",
            "--context",
            str(context),
            "--file",
            str(ee_file),
            "--output-filename",
            "Containerfile",
            cwd=tmp_path,
        )
    )

    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert 'ARG EE_BASE_IMAGE="%s"' % BASE_IMAGE in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.12"' in containerfile
    assert "COPY _build /build" in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    # The collection's own requirements.txt / bindep.txt are found by introspection inside the build and installed.
    assert "introspect.py introspect" in containerfile and "install-from-bindep" in containerfile

    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    assert requirements == {"collections": [{"name": "collections/%s" % tarball.name, "type": "file"}]}
    copied = context / "_build" / "collections" / tarball.name
    assert copied.is_file() and filecmp.cmp(copied, tarball, shallow=False)
