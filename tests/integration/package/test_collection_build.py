# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tarball holds what a user installs and nothing a developer's checkout or a run left behind.

A copy of the checkout gets what `make demo`, a diagnose run with a relative report dir, a rollout and a venv
leave in it; ``ansible-galaxy collection build`` from that copy must keep all of it, the lab, the benchmarks,
the developer tools, the Makefile and the pinned venv locks out of the tarball, and still ship the content,
the docs and the unit tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Local state a checkout may hold, relative to its root: none of it may ship.
LEFT_BEHIND = {
    "demo-report/before/report.html": "<html>demo</html>",
    "demo-report/after/report.json": "{}",
    "stapling-report/report.json": "{}",
    "stapling-report/before/report.html": "<html></html>",
    "stapling-report-eu/report.json": "{}",
    "rollout-summary.json": "{}",
    ".venv/bin/python": "",
    ".build/pyroot/marker": "",
    "tests/output/junit/x.xml": "",
    "tests/lab/.state/lab.json": "{}",
    "tests/benchmarks/results/latest.json": "{}",
    "tlsfleet-stapling-0.0.1.tar.gz": "",
}
# Path prefixes (or exact names) that must never be in the tarball.
FORBIDDEN = (
    "demo-report",
    "stapling-report",
    "rollout-summary.json",
    ".venv",
    ".build",
    ".git",
    ".ci",
    "tests/output",
    "tests/lab",
    "tests/benchmarks",
    "tests/integration/lab",
    "tools",
    "Makefile",
    "requirements/",
    "ruff.toml",
)
REQUIRED = (
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "CHANGELOG.md",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "requirements.txt",
    "bindep.txt",
    "plugins/modules/node_audit.py",
    "playbooks/diagnose.yml",
    "playbooks/prepare.yml",
    "examples/inventory.yml",
    "examples/certificates.yml",
    "examples/rollout.yml",
    "roles/diagnose/tasks/main.yml",
    "docs/awx.md",
    "tests/unit/conftest.py",
)


def galaxy():
    found = shutil.which("ansible-galaxy", path=os.path.dirname(sys.executable)) or shutil.which("ansible-galaxy")
    if found is None:
        pytest.skip("ansible-galaxy is not installed next to this Python")
    return found


def copy_checkout(destination: Path) -> Path:
    # the developer's own state is left out of the copy (large, or a symlink); the test plants its own
    skipped_at = {ROOT: {".git", ".venv", ".build", ".ansible"}, ROOT / "tests": {"output"}}

    def ignore(directory, names):
        return (skipped_at.get(Path(directory), set()) | {"__pycache__"}) & set(names)

    shutil.copytree(ROOT, destination, ignore=ignore, symlinks=True)
    return destination


def test_build_keeps_local_state_and_developer_files_out(tmp_path):
    source = copy_checkout(tmp_path / "checkout")
    for relative, content in LEFT_BEHIND.items():
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    dist = tmp_path / "dist"
    completed = subprocess.run(
        [galaxy(), "collection", "build", "--force", "--output-path", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    (tarball,) = dist.glob("tlsfleet-stapling-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = [name.removeprefix("./") for name in archive.getnames()]

    leaked = sorted(
        name for name in names for bad in FORBIDDEN if name == bad.rstrip("/") or name.startswith(bad.rstrip("/") + "/")
    )
    assert leaked == []
    assert not [name for name in names if name.endswith(".tar.gz")]
    missing = [name for name in REQUIRED if name not in names]
    assert missing == []
    # the test is able to fail: the planted files really were in the source the build read
    assert (source / "demo-report/before/report.html").is_file()
    assert (source / "tests/lab").is_dir() and (source / "tools").is_dir()
