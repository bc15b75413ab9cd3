"""tlslab.dnsfail: every query answered with NXDOMAIN or SERVFAIL, per listen address (no root needed)."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys

import pytest

from tlslab import dnsfail

from .conftest import lab_env


def _query(name: str, ident: int = 0x1234, flags: int = 0x0100) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + labels + struct.pack("!HH", 1, 1)


@pytest.mark.parametrize(("mode", "rcode"), [("nxdomain", 3), ("servfail", 2)])
def test_answer_echoes_id_and_question_with_the_rcode(mode, rcode):
    query = _query("ocsp.tlsfleet.test")
    reply = dnsfail.answer(query, dnsfail.RCODES[mode])
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", reply[:12])
    assert (ident, qd, an, ns, ar) == (0x1234, 1, 0, 0, 0)
    assert flags & 0x8000 and flags & 0x0100 and flags & 0x0080  # QR, RD copied, RA
    assert flags & 0x000F == rcode
    assert reply[12:] == query[12:]


@pytest.mark.parametrize("raw", [b"", b"\x00" * 5, _query("a.test", flags=0x8000), _query("a.test")[:-3]])
def test_no_answer_to_garbage_responses_or_truncated_questions(raw):
    assert dnsfail.answer(raw, 3) is None


def test_server_answers_per_address_over_udp(tmp_path):
    pidfile = tmp_path / "dnsfail.pid"
    argv = [sys.executable, "-m", "tlslab.dnsfail", "--listen", "127.0.0.1:0=nxdomain", "--listen"]
    argv += ["127.0.0.1:0=servfail", "--pidfile", str(pidfile)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab_env())
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready" and pidfile.read_text().strip() == str(proc.pid)
        rcodes = []
        for address in ready["listen"]:
            host, port = address.rsplit(":", 1)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(5)
                sock.sendto(_query("ocsp.tlsfleet.test", ident=7), (host, int(port)))
                reply = sock.recv(512)
            assert struct.unpack("!H", reply[:2])[0] == 7
            rcodes.append(reply[3] & 0x0F)
        assert rcodes == [3, 2]
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
    assert not pidfile.exists()


def test_bad_listen_is_one_line_no_traceback():
    argv = [sys.executable, "-m", "tlslab.dnsfail", "--listen", "127.0.0.1:53=refused"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=lab_env(), timeout=30, check=False)
    assert proc.returncode == 2
    assert "give ADDR:PORT=servfail|nxdomain" in proc.stderr and "Traceback" not in proc.stderr
