# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real TLS server for tests: OpenSSL's s_server on loopback, stapling whatever file it is given."""

from __future__ import annotations

import socket
import subprocess
import time

from ansible_collections.tlsfleet.stapling.tests.unit import ports


def write_site(directory, leaf, intermediate, staple: bytes = b"") -> dict:
    """Write leaf.pem, key.pem, chain.pem (and staple.der) for s_server into ``directory``."""
    (directory / "leaf.pem").write_bytes(leaf.pem)
    (directory / "key.pem").write_bytes(leaf.key_pem())
    (directory / "chain.pem").write_bytes(intermediate.pem)
    if staple:
        (directory / "staple.der").write_bytes(staple)
    return {"dir": directory, "leaf": leaf, "intermediate": intermediate, "staple": staple}


class SServer:
    """Start s_server processes for one site; ``stop()`` ends them all."""

    def __init__(self, site: dict):
        self.site = site
        self.procs: list = []
        self.reservations: list = []

    def start(self, *extra: str) -> int:
        # a reserved port (see ports.py), held until stop(): no other test's server or connection can take it
        reservation = ports.reserve()
        self.reservations.append(reservation)
        port = reservation.port
        d = self.site["dir"]
        argv = ["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:%d" % port, "-cert", str(d / "leaf.pem")]
        argv += ["-key", str(d / "key.pem"), "-cert_chain", str(d / "chain.pem"), "-naccept", "20", *extra]
        self.procs.append(
            subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        return port

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        for reservation in self.reservations:
            reservation.release()
