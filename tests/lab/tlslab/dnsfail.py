"""A resolver that fails every query with one response code: NXDOMAIN or SERVFAIL, per listen address.

The lab resolver (dnsmasq, tlslab.dns) answers lab names correctly; this one stands for a resolver
that answers but never helps: nginx's own ``resolver`` pointing at it fails to find the responder while
the node's system resolver works. It answers UDP only (nginx's resolver queries over UDP), echoing the
query's id and question, with RA set, no records. Run in the services namespace by labctl:

    python -m tlslab.dnsfail --listen 198.18.0.6:53=nxdomain --listen 198.18.0.7:53=servfail --pidfile F

prints ``{"event": "ready", "listen": [...]}`` once every socket is bound; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import struct
import sys

RCODES = {"servfail": 2, "nxdomain": 3}
HEADER = struct.Struct("!HHHHHH")


def answer(query: bytes, rcode: int) -> bytes | None:
    """The reply to one DNS query: same id and question, QR and RA set, RD copied, the rcode; None if unparsable."""
    if len(query) < HEADER.size:
        return None
    ident, flags, qdcount, _an, _ns, _ar = HEADER.unpack_from(query)
    if flags & 0x8000:  # a response, not a query
        return None
    question_end = _question_end(query, qdcount)
    if question_end is None:
        return None
    reply_flags = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | 0x0080 | rcode  # QR, opcode, RD, RA, rcode
    return HEADER.pack(ident, reply_flags, qdcount, 0, 0, 0) + query[HEADER.size : question_end]


def _question_end(query: bytes, qdcount: int) -> int | None:
    offset = HEADER.size
    for _question in range(qdcount):
        while True:
            if offset >= len(query):
                return None
            length = query[offset]
            if length & 0xC0:  # compression pointers do not occur in a question sent first
                return None
            offset += 1 + length
            if length == 0:
                break
        offset += 4  # QTYPE, QCLASS
        if offset > len(query):
            return None
    return offset


def parse_listen(text: str) -> tuple[str, int, int]:
    try:
        address, mode = text.rsplit("=", 1)
        host, port = address.rsplit(":", 1)
        return host.strip("[]"), int(port), RCODES[mode]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"{text!r}: give ADDR:PORT={'|'.join(RCODES)}") from None


def serve(listen: list[tuple[str, int, int]], pidfile: str | None) -> int:
    selector = selectors.DefaultSelector()
    bound = []
    for host, port, rcode in listen:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
        except OSError as exc:
            print(f"tlslab.dnsfail: error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
            return 2
        selector.register(sock, selectors.EVENT_READ, rcode)
        bound.append("%s:%d" % sock.getsockname()[:2])
    if pidfile:
        with open(pidfile, "w") as out:
            out.write(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(json.dumps({"event": "ready", "pid": os.getpid(), "listen": bound}), flush=True)
    try:
        while True:
            for key, _events in selector.select():
                try:
                    query, peer = key.fileobj.recvfrom(4096)
                except OSError:
                    continue
                reply = answer(query, key.data)
                if reply is not None:
                    key.fileobj.sendto(reply, peer)
    except (KeyboardInterrupt, SystemExit):
        return 0
    finally:
        if pidfile:
            try:
                os.unlink(pidfile)
            except OSError:
                pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tlslab.dnsfail", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--listen", action="append", type=parse_listen, required=True, help="ADDR:PORT=nxdomain|servfail"
    )
    parser.add_argument("--pidfile")
    args = parser.parse_args(argv)
    return serve(args.listen, args.pidfile)


if __name__ == "__main__":
    sys.exit(main())
