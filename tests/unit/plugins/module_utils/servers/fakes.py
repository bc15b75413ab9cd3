# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test doubles for server discovery: a scripted command runner and a fake /proc tree.

The runner stands in for the servers' binaries so unit tests need none installed; the fake /proc
lets the tests choose which masters run, in which network namespace, since when.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

Answer = Union[Tuple[int, str, str], Callable[[List[str]], Tuple[int, str, str]], Exception]


class FakeRunner:
    """Answers commands by their arguments after the binary; records every call with its timeout.

    ``answers`` maps a tuple of arguments (``("-T", "-c", "/x")``) or a prefix of them to
    ``(rc, stdout, stderr)``, a callable, or an exception to raise. Unknown commands fail with rc 127.
    """

    def __init__(self, answers: Dict[Tuple[str, ...], Answer]) -> None:
        self.answers = answers
        self.calls: List[Tuple[List[str], float]] = []

    def __call__(self, argv: List[str], timeout: float) -> Tuple[int, str, str]:
        self.calls.append((list(argv), timeout))
        args = tuple(argv[1:])
        answer = self.answers.get(args)
        if answer is None:
            matches = [key for key in self.answers if args[: len(key)] == key]
            if matches:
                answer = self.answers[max(matches, key=len)]
        if answer is None:
            return 127, "", f"{argv[0]}: unexpected arguments {' '.join(args)}"
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(list(argv))
        return answer

    def argvs(self) -> List[List[str]]:
        return [argv for argv, _timeout in self.calls]


def which_from(mapping: Dict[str, str]) -> Callable[[str], Optional[str]]:
    return mapping.get


class FakeProc:
    """A /proc tree with ``stat`` (boot time), ``self/ns/net`` and processes to add."""

    def __init__(self, root: Path, btime: int = 1_795_000_000, netns: str = "net:[4026531840]") -> None:
        self.root = root
        self.btime = btime
        root.mkdir(parents=True, exist_ok=True)
        (root / "stat").write_text(f"cpu  1 2 3 4\nbtime {btime}\nprocesses 10\n")
        (root / "self" / "ns").mkdir(parents=True)
        os.symlink(netns, root / "self" / "ns" / "net")
        self.netns = netns

    def add(
        self,
        pid: int,
        comm: str,
        cmdline: List[str],
        ppid: int = 1,
        start_ticks: int = 12_300,
        exe: Optional[str] = None,
        netns: Optional[str] = None,
        stdout: Optional[str] = None,
        environ: Optional[Dict[str, str]] = None,
    ) -> None:
        base = self.root / str(pid)
        (base / "ns").mkdir(parents=True)
        (base / "fd").mkdir()
        fields = ["S", str(ppid)] + ["0"] * 17 + [str(start_ticks), "0", "0"]
        (base / "stat").write_text(f"{pid} ({comm}) {' '.join(fields)}\n")
        (base / "cmdline").write_bytes(b"\0".join(part.encode() for part in cmdline) + b"\0")
        os.symlink(netns or self.netns, base / "ns" / "net")
        if exe:
            os.symlink(exe, base / "exe")
        if stdout:
            os.symlink(stdout, base / "fd" / "1")
            os.symlink(stdout, base / "fd" / "2")
        if environ is not None:
            (base / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in environ.items()) + b"\0")


def subprocess_runner(argv, timeout):
    """The runner the modules build (servers.process_runner): real processes."""
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common

    return common.process_runner()(argv, timeout)
