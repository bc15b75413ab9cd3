"""Shared helpers for the lab's own tests (tests/lab/tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parent.parent
REPO = LAB.parent.parent
LABCTL = LAB / "labctl"
SCENARIOS = LAB / "scenarios"
sys.path.insert(0, str(LAB))


def lab_env() -> dict:
    env = dict(os.environ)
    env["TLSFLEET_LAB_PYTHON"] = sys.executable
    # no ssh ControlPersist masters outliving a test
    env["ANSIBLE_SSH_ARGS"] = "-o ControlMaster=no"
    env["ANSIBLE_HOST_KEY_CHECKING"] = "False"
    env["ANSIBLE_DEPRECATION_WARNINGS"] = "False"
    return env


def labctl(*args, check: bool = True, timeout: int = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(LABCTL), *map(str, args)], capture_output=True, text=True, env=lab_env(), timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        pytest.fail(f"labctl {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def ansible_bin() -> str:
    beside = Path(sys.executable).parent / "ansible"
    return str(beside) if beside.exists() else "ansible"


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces, mounts)")
