# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Loopback ports for tests that start real servers, safe under pytest-xdist and parallel test runs.

Binding port 0, closing the socket and handing the number to a server races on two counts:

* the kernel hands ports from the ephemeral range (``net.ipv4.ip_local_port_range``) to every ``bind(0)`` *and*
  to the source port of every outgoing connection. Between the close and the server's own bind, another xdist
  worker (or another test run on the machine) may get the same number, and a connect loop to a port nothing
  listens on can even connect to itself (TCP simultaneous open on loopback when the source port drawn equals
  the destination port): "a listener on a port the test assumed free";
* a port a test frees (a server it stopped) goes back into that pool while the test still asserts that
  nothing answers there.

So a reserved port comes from a band just below the ephemeral range, which the kernel never hands out on its
own, and is claimed by an exclusive ``flock`` on a file named after it in a directory shared by every test
process on the machine. The lock is held until the test releases it (or its process ends), and a port is only
handed out when a bind to it succeeds, so a port some other program holds is skipped.

A *closed* port (connections refused) is a socket bound and never listening: nothing else can take it while
the test holds it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import socket

LOCK_DIR = os.environ.get("TLSFLEET_TEST_PORT_LOCKS", "/tmp/tlsfleet-test-ports")  # shared on purpose
BAND = 8192


def _band():
    """``(first, last)`` of the reserved band: below the ephemeral range, or above it when it starts too low."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            low, high = (int(value) for value in handle.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low - BAND >= 10000:
        return low - BAND, low - 1
    if high + BAND <= 65535:
        return high + 1, high + BAND
    raise RuntimeError(f"no port band outside the ephemeral range {low}-{high} for the tests")


class Reservation:
    """One reserved port; ``release()`` (or the end of the process) gives it back."""

    def __init__(self, port, handle):
        self.port = port
        self._handle = handle

    def release(self):
        if self._handle is not None:
            self._handle.close()  # closing the file drops the flock
            self._handle = None


def _bindable(port):
    """Whether 127.0.0.1:port can be bound the way servers bind (SO_REUSEADDR: TIME_WAIT does not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def reserve():
    """A :class:`Reservation` of a loopback port no other cooperating test holds and nothing listens on."""
    os.makedirs(LOCK_DIR, mode=0o1777, exist_ok=True)
    first, last = _band()
    start = random.randint(first, last)  # noqa: S311  # spreads the search, not a secret
    size = last - first + 1
    for step in range(size):
        port = first + (start - first + step) % size
        handle = open(os.path.join(LOCK_DIR, f"{port}.lock"), "a+", encoding="ascii")  # noqa: SIM115  # held open as the lock
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        if _bindable(port):
            return Reservation(port, handle)
        handle.close()
    raise RuntimeError(f"no free port in {first}-{last} for the tests")


class ClosedPort:
    """A loopback port bound by this process and never listening: every connection to it is refused."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def release(self):
        self.sock.close()
