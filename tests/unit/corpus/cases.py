# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bad-input corpus: one row per case (id, target, input kind, expected message fragment, how to run it).

Every row feeds one input to a module (in-process, through tests/unit/modrun.py) or to a library loader.
``build(ctx)`` returns the text that must carry the fragment: the module's ``msg`` for a failed run, a
finding (a problem sentence, an ``error`` of an endpoint or responder) for a run that reports instead of
failing, the ``InputError`` message of a loader, or the ``errors`` a config reader collected. test_corpus.py
runs the rows and checks for tracebacks; count.py prints how many rows there are.

Only the standard library is imported at the top, so that count.py can load this file anywhere.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any, Callable, Dict, List, NamedTuple

COLL = "ansible_collections.tlsfleet.stapling"


class Case(NamedTuple):
    id: str
    target: str
    kind: str
    fragment: str
    build: Callable[[Any], str]


CASES: List[Case] = []


def case(id_, target, kind, fragment):
    def register(build):
        CASES.append(Case(id_, target, kind, fragment, build))
        return build

    return register


# ---------------------------------------------------------------------------------------------
# helpers (imports inside, see the module docstring)


def _module(name):
    import importlib

    return importlib.import_module(f"{COLL}.plugins.modules.{name}")


def _lib(name):
    import importlib

    return importlib.import_module(f"{COLL}.plugins.module_utils.{name}")


def failed(ctx, module, args) -> str:
    """Run ``module`` with ``args``; it must fail cleanly. Returns its msg."""
    result = ctx.run(_module(module).main, args)
    assert result.get("failed") is True, f"{module} did not fail: {result}"
    return result["msg"]


def finished(ctx, module, args) -> Dict[str, Any]:
    """Run ``module`` with ``args``; it must not fail (the bad input becomes a finding). Returns the result."""
    result = ctx.run(_module(module).main, args)
    assert not result.get("failed"), f"{module} failed: {result.get('msg')}"
    return result


def input_error(call, *args, **kwargs) -> str:
    """``call(*args)`` must raise the library's InputError; returns its message."""
    errors = _lib("errors")
    try:
        value = call(*args, **kwargs)
    except errors.InputError as exc:
        return str(exc)
    raise AssertionError(f"no InputError, returned {value!r:.200}")


def write(ctx, name, data) -> str:
    path = ctx.tmp / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


GARBAGE = bytes(range(256)) * 4 + b"\x00\xff\xfe" * 100
# Module options are strings: Ansible itself refuses a NUL in one (it cannot log it to syslog), so none here.
GARBAGE_TEXT = bytes(range(1, 256)).decode("latin-1") * 4
HTML = b"<!DOCTYPE html><html><head><title>Captive portal</title></head><body>Log in first</body></html>\n"


def chain(ctx, **leaf_kw):
    _root, (inter,), leaf = ctx.pki.chain(**leaf_kw)
    return inter, leaf


def key_pem(kind) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

    key = {
        "dsa": lambda: dsa.generate_private_key(2048),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "rsa": lambda: rsa.generate_private_key(65537, 2048),
        "ec": lambda: ec.generate_private_key(ec.SECP256R1()),
    }[kind]()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def encrypted_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"corpus-secret"),
    )


def odd_cert(ctx, extension, critical) -> bytes:
    """A self-signed certificate with ``extension`` added (cryptography builds it)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odd.example.test")])
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(extension, critical=critical)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def negative_serial_der(ctx) -> bytes:
    """A DER certificate whose serial is negative (new cryptography refuses to build one, so flip its sign bit)."""
    root = ctx.pki.root()
    try:
        ctx.pki.root(serial=-5)
    except ValueError:
        pass  # refused by cryptography >= 3.x builders: make one by hand below
    der = root.der
    serial = root.cert.serial_number
    body = serial.to_bytes((serial.bit_length() + 8) // 8, "big")
    at = der.index(b"\x02" + bytes([len(body)]) + body)
    return der[: at + 2] + bytes([body[0] | 0x80]) + body[1:] + der[at + 2 + len(body) :]


def non_utf8_path(ctx, data) -> str:
    """A file whose name is not UTF-8 (written through os.fsencode); returned as the str Python uses for it."""
    raw = os.path.join(os.fsencode(str(ctx.tmp)), b"cert-\xff\xfe.pem")
    with open(raw, "wb") as handle:
        handle.write(data)
    return os.fsdecode(raw)


class Hanger:
    """A local TCP socket that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: List[socket.socket] = []
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)

    def close(self):
        self.stop = True
        for conn in self.held:
            conn.close()
        self.sock.close()


def responder(ctx, answer):
    """Start the loopback OCSP responder of test_ocsp_responder_check with ``answer``; returns its URL."""
    from http.server import ThreadingHTTPServer

    from ansible_collections.tlsfleet.stapling.tests.unit.plugins.modules.test_ocsp_responder_check import Responder

    Responder.answer = staticmethod(answer)
    Responder.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Responder)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ctx.cleanup.append(server.server_close)
    ctx.cleanup.append(server.shutdown)
    return "http://127.0.0.1:%d/ocsp" % server.server_address[1]


def closed_port(ctx) -> int:
    """A port bound and never listening, held until the case's cleanup: refused, and nothing else can take it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    ctx.cleanup.append(sock.close)
    return sock.getsockname()[1]


def nginx_inspect(ctx, files: Dict[str, str]) -> str:
    """nginx discovery reading ``files`` from disk (nginx -T failed); returns its errors."""
    from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import FakeRunner

    nginx = _lib("servers.nginx.reader")
    for name, text in files.items():
        write(ctx, name, text.replace("@", str(ctx.tmp)))
    runner = FakeRunner({("-V",): (0, "", "nginx version: nginx/1.22.1\n"), ("-T",): (1, "", "nginx: [emerg] x\n")})
    info = nginx.inspect(runner, "/usr/sbin/nginx", config_file=str(ctx.tmp / "nginx.conf"))
    return "\n".join(info.errors)


def apache_walk(ctx, files: Dict[str, str]) -> str:
    """Apache's config walker over ``files`` (no DUMP_INCLUDES tree: globbing); returns its errors."""
    apache = _lib("servers.apache.reader")
    for name, text in files.items():
        write(ctx, name, text.replace("@", str(ctx.tmp)))
    errors: List[str] = []
    walker = apache._Walker(str(ctx.tmp), None, {}, {}, None, (2, 4, 57), errors)  # pylint: disable=protected-access
    walker.walk(str(ctx.tmp / "apache2.conf"))
    return "\n".join(errors)


def haproxy_parse(ctx, text: str) -> str:
    haproxy = _lib("servers.haproxy.reader")
    errors: List[str] = []
    notes: List[str] = []
    haproxy.parse_config(text, "/etc/haproxy/haproxy.cfg", {}, (2, 6), errors, notes)
    return "\n".join(errors + notes)


# =============================================================================================
# ocsp_response_info


@case("ori-content-empty", "ocsp_response_info", "empty content", "content contains only whitespace")
def case_ori_content_empty(ctx):
    _inter, leaf = chain(ctx)
    return failed(ctx, "ocsp_response_info", {"content": " ", "certificate_content": leaf.pem.decode()})


@case(
    "ori-content-garbage", "ocsp_response_info", "binary garbage", "ocsp response content is 1532 bytes of binary data"
)
def case_ori_content_garbage(ctx):
    _inter, leaf = chain(ctx)
    junk = GARBAGE_TEXT
    return failed(ctx, "ocsp_response_info", {"content": junk, "certificate_content": leaf.pem.decode()})


@case("ori-content-html", "ocsp_response_info", "HTML page for OCSP", "is an HTML page")
def case_ori_content_html(ctx):
    _inter, leaf = chain(ctx)
    return failed(ctx, "ocsp_response_info", {"content": HTML.decode(), "certificate_content": leaf.pem.decode()})


@case("ori-path-truncated-der", "ocsp_response_info", "truncated DER", "truncated or damaged")
def case_ori_path_truncated_der(ctx):
    inter, leaf = chain(ctx)
    der = ctx.pki.ocsp_response(leaf, inter)
    path = write(ctx, "short.der", der[: len(der) // 2])
    return failed(ctx, "ocsp_response_info", {"path": path, "certificate_content": leaf.pem.decode()})


@case("ori-path-oversized", "ocsp_response_info", "oversized file", "larger than the")
def case_ori_path_oversized(ctx):
    _inter, leaf = chain(ctx)
    path = write(ctx, "huge.der", b"\x30" + b"\x00" * (11 * 1024 * 1024))
    return failed(ctx, "ocsp_response_info", {"path": path, "certificate_content": leaf.pem.decode()})


@case("ori-path-directory", "ocsp_response_info", "directory as path", "is a directory")
def case_ori_path_directory(ctx):
    _inter, leaf = chain(ctx)
    return failed(ctx, "ocsp_response_info", {"path": str(ctx.tmp), "certificate_content": leaf.pem.decode()})


@case("ori-path-missing", "ocsp_response_info", "missing file", "does not exist")
def case_ori_path_missing(ctx):
    _inter, leaf = chain(ctx)
    return failed(ctx, "ocsp_response_info", {"path": "/nonexistent/x.ocsp", "certificate_content": leaf.pem.decode()})


@case(
    "ori-cert-is-key",
    "ocsp_response_info",
    "private key where a certificate is expected",
    "PEM blocks found: PRIVATE KEY",
)
def case_ori_cert_is_key(ctx):
    inter, leaf = chain(ctx)
    der = ctx.pki.ocsp_response(leaf, inter)
    return failed(
        ctx, "ocsp_response_info", {"path": write(ctx, "r.der", der), "certificate_content": leaf.key_pem().decode()}
    )


@case("ori-cert-pem-truncated", "ocsp_response_info", "truncated PEM", "without a matching '-----END'")
def case_ori_cert_pem_truncated(ctx):
    inter, leaf = chain(ctx)
    der = ctx.pki.ocsp_response(leaf, inter)
    pem = leaf.pem.decode()
    return failed(
        ctx, "ocsp_response_info", {"path": write(ctx, "r.der", der), "certificate_content": pem[: len(pem) // 2]}
    )


@case("ori-issuer-garbage", "ocsp_response_info", "issuer binary garbage", "issuer")
def case_ori_issuer_garbage(ctx):
    inter, leaf = chain(ctx)
    der = ctx.pki.ocsp_response(leaf, inter)
    return failed(
        ctx,
        "ocsp_response_info",
        {
            "path": write(ctx, "r.der", der),
            "certificate_content": leaf.pem.decode(),
            "issuer_content": "\x01\x02garbage",
        },
    )


@case("ori-valid-at-bad", "ocsp_response_info", "unparsable time", "valid_at")
def case_ori_valid_at_bad(ctx):
    inter, leaf = chain(ctx)
    der = ctx.pki.ocsp_response(leaf, inter)
    bundle = (leaf.pem + inter.pem).decode()
    return failed(
        ctx,
        "ocsp_response_info",
        {"path": write(ctx, "r.der", der), "certificate_content": bundle, "valid_at": "yesterday noon"},
    )


@case("ocsp-path-non-utf8", "ocsp.load_response_from_path", "non-UTF-8 path", "cert-")
def case_ocsp_path_non_utf8(ctx):
    # Module options cannot carry such a name: AnsibleModule's own argument logging fails on it first.
    return input_error(_lib("ocsp").load_response_from_path, non_utf8_path(ctx, b"\x00\x01 not der"))


# =============================================================================================
# tls_endpoint_info


def _endpoint_error(result) -> str:
    (endpoint,) = result["endpoints"]
    return " ".join(str(endpoint.get(key) or "") for key in ("error", "failed_stage", "host", "server_name"))


@case("tei-idna-host", "tls_endpoint_info", "Unicode (IDNA) hostname", "bücher.invalid")
def case_tei_idna_host(ctx):
    args = {"endpoints": [{"host": "bücher.invalid", "port": closed_port(ctx)}], "timeout": 1.0, "warmup_attempts": 0}
    return _endpoint_error(finished(ctx, "tls_endpoint_info", args))


@case("tei-ipv6-literal", "tls_endpoint_info", "IPv6 literal, nothing listening", "::1")
def case_tei_ipv6_literal(ctx):
    args = {"endpoints": [{"host": "::1", "port": closed_port(ctx)}], "timeout": 1.0, "warmup_attempts": 0}
    return _endpoint_error(finished(ctx, "tls_endpoint_info", args))


@case("tei-ipv6-bracketed", "tls_endpoint_info", "bracketed IPv6 literal", "[::1]")
def case_tei_ipv6_bracketed(ctx):
    args = {"endpoints": [{"host": "[::1]", "port": closed_port(ctx)}], "timeout": 1.0, "warmup_attempts": 0}
    return _endpoint_error(finished(ctx, "tls_endpoint_info", args))


@case("tei-idna-sni", "tls_endpoint_info", "Unicode server name", "münchen.example")
def case_tei_idna_sni(ctx):
    args = {
        "endpoints": [{"host": "127.0.0.1", "port": closed_port(ctx), "server_name": "münchen.example"}],
        "timeout": 1.0,
        "warmup_attempts": 0,
    }
    return _endpoint_error(finished(ctx, "tls_endpoint_info", args))


@case("tei-hanging-server", "tls_endpoint_info", "server that accepts and never answers", "127.0.0.1")
def case_tei_hanging_server(ctx):
    hanger = Hanger()
    ctx.cleanup.append(hanger.close)
    args = {"endpoints": [{"host": "127.0.0.1", "port": hanger.port}], "timeout": 0.5, "warmup_attempts": 0}
    return _endpoint_error(finished(ctx, "tls_endpoint_info", args))


@case("tei-pool-garbage", "tls_endpoint_info", "certificate pool of binary garbage", "pool.pem")
def case_tei_pool_garbage(ctx):
    args = {
        "endpoints": [{"host": "127.0.0.1", "port": closed_port(ctx)}],
        "certificate_pool_paths": [write(ctx, "pool.pem", GARBAGE)],
        "timeout": 1.0,
    }
    return failed(ctx, "tls_endpoint_info", args)


@case("tei-anchor-missing", "tls_endpoint_info", "trust anchor file missing", "/nonexistent/anchors.pem")
def case_tei_anchor_missing(ctx):
    args = {
        "endpoints": [{"host": "127.0.0.1", "port": closed_port(ctx)}],
        "trust_anchor_paths": ["/nonexistent/anchors.pem"],
        "timeout": 1.0,
    }
    return failed(ctx, "tls_endpoint_info", args)


@case("tei-anchor-is-key", "tls_endpoint_info", "trust anchor is a private key", "anchor.pem")
def case_tei_anchor_is_key(ctx):
    args = {
        "endpoints": [{"host": "127.0.0.1", "port": closed_port(ctx)}],
        "trust_anchor_paths": [write(ctx, "anchor.pem", key_pem("ec"))],
        "timeout": 1.0,
    }
    return failed(ctx, "tls_endpoint_info", args)


# =============================================================================================
# ocsp_responder_check


@case("orc-cert-garbage", "ocsp_responder_check", "binary garbage certificate", "certificate")
def case_orc_cert_garbage(ctx):
    return failed(ctx, "ocsp_responder_check", {"certificate_content": GARBAGE_TEXT})


@case("orc-cert-empty", "ocsp_responder_check", "empty certificate", "certificate")
def case_orc_cert_empty(ctx):
    return failed(ctx, "ocsp_responder_check", {"certificate_content": "   \n"})


@case("orc-issuer-is-key", "ocsp_responder_check", "private key as issuer", "issuer_content contains no certificate")
def case_orc_issuer_is_key(ctx):
    inter, leaf = chain(ctx)
    args = {"certificate_content": leaf.pem.decode(), "issuer_content": inter.key_pem().decode()}
    return failed(ctx, "ocsp_responder_check", args)


@case("orc-url-not-a-url", "ocsp_responder_check", "URL that is not one", "not a url")
def case_orc_url_not_a_url(ctx):
    inter, leaf = chain(ctx)
    args = {
        "certificate_content": (leaf.pem + inter.pem).decode(),
        "url": "not a url",
        "use_proxy": False,
        "timeout": 1,
    }
    result = ctx.run(_module("ocsp_responder_check").main, args)
    return result.get("msg") or " ".join(str(r.get("error")) + " " + str(r.get("url")) for r in result["responders"])


@case("orc-url-idna", "ocsp_responder_check", "responder URL with a Unicode host", "ocsp.bücher.invalid")
def case_orc_url_idna(ctx):
    inter, leaf = chain(ctx)
    args = {
        "certificate_content": (leaf.pem + inter.pem).decode(),
        "url": "http://ocsp.bücher.invalid/",
        "use_proxy": False,
        "timeout": 1,
    }
    result = finished(ctx, "ocsp_responder_check", args)
    assert result["reachable"] is False
    return " ".join(str(r.get("error")) + " " + str(r.get("url")) for r in result["responders"])


@case("orc-url-ipv6", "ocsp_responder_check", "responder URL with an IPv6 literal, closed port", "[::1]")
def case_orc_url_ipv6(ctx):
    inter, leaf = chain(ctx)
    args = {
        "certificate_content": (leaf.pem + inter.pem).decode(),
        "url": "http://[::1]:%d/" % closed_port(ctx),
        "use_proxy": False,
        "timeout": 1,
    }
    result = finished(ctx, "ocsp_responder_check", args)
    assert result["reachable"] is False
    return " ".join(str(r.get("error")) + " " + str(r.get("url")) for r in result["responders"])


@case(
    "orc-hanging-responder",
    "ocsp_responder_check",
    "responder that accepts and never answers",
    "sent no complete answer in time",
)
def case_orc_hanging_responder(ctx):
    import time

    inter, leaf = chain(ctx)
    hanger = Hanger()
    ctx.cleanup.append(hanger.close)
    started = time.monotonic()
    args = {
        "certificate_content": (leaf.pem + inter.pem).decode(),
        "url": "http://127.0.0.1:%d/" % hanger.port,
        "use_proxy": False,
        "timeout": 1.5,  # the whole budget: connecting must not run out of it on a stalled worker
    }
    result = finished(ctx, "ocsp_responder_check", args)
    assert time.monotonic() - started < 5, "the timeout did not bound the hanging responder"
    assert result["failed_stage"] == "timeout"
    return " ".join(str(r.get("error")) for r in result["responders"])


@case("orc-flooding-responder", "ocsp_responder_check", "responder that sends 50 MB", "65536")
def case_orc_flooding_responder(ctx):
    import time

    inter, leaf = chain(ctx)
    flood = b"\x30" + b"A" * (50 * 1024 * 1024)
    url = responder(ctx, lambda req: (200, "application/ocsp-response", flood))
    started = time.monotonic()
    args = {"certificate_content": (leaf.pem + inter.pem).decode(), "url": url, "use_proxy": False, "timeout": 5}
    result = finished(ctx, "ocsp_responder_check", args)
    assert time.monotonic() - started < 10
    assert result["reachable"] is False
    return " ".join(str(r.get("error")) + " " + " ".join(r.get("ocsp_problems") or []) for r in result["responders"])


@case("orc-html-responder", "ocsp_responder_check", "HTML page where an OCSP response is expected", "HTML page")
def case_orc_html_responder(ctx):
    inter, leaf = chain(ctx)
    url = responder(ctx, lambda req: (200, "text/html", HTML))
    args = {"certificate_content": (leaf.pem + inter.pem).decode(), "url": url, "use_proxy": False, "timeout": 5}
    result = finished(ctx, "ocsp_responder_check", args)
    assert result["failed_stage"] == "ocsp"
    return " ".join(" ".join(r.get("ocsp_problems") or []) + str(r.get("error")) for r in result["responders"])


@case("orc-endpoint-idna", "ocsp_responder_check", "endpoint with a Unicode host", "bücher.invalid")
def case_orc_endpoint_idna(ctx):
    args = {"endpoint": {"host": "bücher.invalid", "port": closed_port(ctx)}, "timeout": 1}
    return failed(ctx, "ocsp_responder_check", args)


@case(
    "orc-cert-dsa-key-type",
    "ocsp_responder_check",
    "DSA private key as the certificate",
    "PEM blocks found: PRIVATE KEY",
)
def case_orc_cert_dsa_key_type(ctx):
    return failed(ctx, "ocsp_responder_check", {"certificate_content": key_pem("dsa").decode()})


# =============================================================================================
# node_audit and tls_server_info (discovery on this machine; the bad data is in the options)


@case("na-since-garbage", "node_audit", "unparsable since", "since")
def case_na_since_garbage(ctx):
    return failed(ctx, "node_audit", {"since": "the day before yesterday", "servers": ["haproxy"]})


@case("na-anchor-garbage", "node_audit", "trust anchor of binary garbage", "anchors.bin")
def case_na_anchor_garbage(ctx):
    import json

    args = {"trust_anchor_paths": [write(ctx, "anchors.bin", GARBAGE)], "servers": ["haproxy"]}
    result = finished(ctx, "node_audit", args)
    return json.dumps(result["evidence"]["errors"])


@case("na-extra-endpoint-ipv6", "node_audit", "extra endpoint IPv6 literal", "::1")
def case_na_extra_endpoint_ipv6(ctx):
    args = {
        "extra_endpoints": [{"host": "::1", "port": closed_port(ctx), "server_name": "bücher.example"}],
        "servers": ["haproxy"],
        "handshake_timeout": 1.0,
        "warmup_attempts": 0,
    }
    result = finished(ctx, "node_audit", args)
    import json

    return json.dumps(result, ensure_ascii=False)


@case("tsi-since-garbage", "tls_server_info", "unparsable since", "since")
def case_tsi_since_garbage(ctx):
    return failed(ctx, "tls_server_info", {"since": "\x01\xff not a time", "servers": ["haproxy"]})


@case("tsi-since-empty", "tls_server_info", "empty since", "since")
def case_tsi_since_empty(ctx):
    result = ctx.run(_module("tls_server_info").main, {"since": "", "servers": ["haproxy"]})
    if result.get("failed"):
        return result["msg"]
    return "since ignored: " + str(result.get("since"))


# =============================================================================================
# certificate_bundle


@case("cb-cert-empty", "certificate_bundle", "empty certificate", "is empty")
def case_cb_cert_empty(ctx):
    return failed(ctx, "certificate_bundle", {"certificate_content": ""})


@case("cb-cert-garbage", "certificate_bundle", "binary garbage", "certificate")
def case_cb_cert_garbage(ctx):
    return failed(ctx, "certificate_bundle", {"certificate_content": GARBAGE_TEXT})


@case("cb-cert-is-key", "certificate_bundle", "private key where a certificate is expected", "no certificate")
def case_cb_cert_is_key(ctx):
    return failed(ctx, "certificate_bundle", {"certificate_content": key_pem("rsa").decode()})


@case("cb-cert-truncated-pem", "certificate_bundle", "truncated PEM", "without a matching '-----END'")
def case_cb_cert_truncated_pem(ctx):
    _inter, leaf = chain(ctx)
    return failed(ctx, "certificate_bundle", {"certificate_content": leaf.pem.decode()[:300]})


@case("cb-cert-bad-base64", "certificate_bundle", "PEM with damaged base64", "does not contain valid base64")
def case_cb_cert_bad_base64(ctx):
    _inter, leaf = chain(ctx)
    pem = leaf.pem.decode().replace("M", "*", 3)
    return failed(ctx, "certificate_bundle", {"certificate_content": pem})


@case("cb-cert-oversized-file", "certificate_bundle", "oversized PEM file", "larger than the")
def case_cb_cert_oversized_file(ctx):
    _inter, leaf = chain(ctx)
    path = write(ctx, "huge.pem", leaf.pem * (11 * 1024 * 1024 // len(leaf.pem) + 1))
    return failed(ctx, "certificate_bundle", {"certificate_path": path})


@case("nginx-include-non-utf8-name", "servers.nginx.inspect", "included file with a non-UTF-8 name", "cert-")
def case_nginx_include_non_utf8_name(ctx):
    non_utf8_path(ctx, b"server {\n listen 443 ssl;\n ssl_certificate /x.pem;\n")
    return nginx_inspect(ctx, {"nginx.conf": "events {}\nhttp { include @/cert-*.pem; }\n"}) or "cert-* read"


@case("cb-intermediate-garbage", "certificate_bundle", "intermediate of binary garbage", "intermediate")
def case_cb_intermediate_garbage(ctx):
    _inter, leaf = chain(ctx)
    args = {"certificate_content": leaf.pem.decode(), "intermediates": ["<html>nope</html>"]}
    return failed(ctx, "certificate_bundle", args)


@case("cb-intermediate-path-missing", "certificate_bundle", "intermediate path missing", "/nonexistent/int.pem")
def case_cb_intermediate_path_missing(ctx):
    _inter, leaf = chain(ctx)
    args = {"certificate_content": leaf.pem.decode(), "intermediate_paths": ["/nonexistent/int.pem"]}
    return failed(ctx, "certificate_bundle", args)


@case("cb-anchor-directory", "certificate_bundle", "trust anchor path is a directory", "is a directory")
def case_cb_anchor_directory(ctx):
    inter, leaf = chain(ctx)
    args = {"certificate_content": (leaf.pem + inter.pem).decode(), "trust_anchor_paths": [str(ctx.tmp)]}
    return failed(ctx, "certificate_bundle", args)


@case("cb-key-dsa", "certificate_bundle", "DSA key where the certificate's EC key is expected", "key.pem")
def case_cb_key_dsa(ctx):
    inter, leaf = chain(ctx)
    args = {
        "certificate_content": (leaf.pem + inter.pem).decode(),
        "require_root": False,
        "private_key_path": write(ctx, "key.pem", key_pem("dsa")),
    }
    return failed(ctx, "certificate_bundle", args)


@case("cb-key-ed25519", "certificate_bundle", "Ed25519 key where an RSA key is expected", "key.pem")
def case_cb_key_ed25519(ctx):
    inter, leaf = chain(ctx, kind="rsa")
    args = {
        "certificate_content": (leaf.pem + inter.pem).decode(),
        "require_root": False,
        "private_key_path": write(ctx, "key.pem", key_pem("ed25519")),
    }
    return failed(ctx, "certificate_bundle", args)


@case("cb-key-garbage", "certificate_bundle", "private key of binary garbage", "key.bin")
def case_cb_key_garbage(ctx):
    inter, leaf = chain(ctx)
    args = {
        "certificate_content": (leaf.pem + inter.pem).decode(),
        "require_root": False,
        "private_key_path": write(ctx, "key.bin", b"\x30\x82\x01" + GARBAGE[:200]),
    }
    return failed(ctx, "certificate_bundle", args)


@case("cb-key-encrypted", "certificate_bundle", "encrypted private key, no password", "the key is encrypted")
def case_cb_key_encrypted(ctx):
    inter, leaf = chain(ctx)
    args = {
        "certificate_content": (leaf.pem + inter.pem).decode(),
        "require_root": False,
        "private_key_path": write(ctx, "enc.pem", encrypted_key_pem()),
    }
    return failed(ctx, "certificate_bundle", args)


@case(
    "cb-unknown-critical-ext",
    "certificate_bundle",
    "certificate with an unknown critical extension",
    "odd.example.test",
)
def case_cb_unknown_critical_ext(ctx):
    from cryptography import x509

    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    pem = odd_cert(ctx, ext, critical=True)
    result = ctx.run(_module("certificate_bundle").main, {"certificate_content": pem.decode(), "require_root": False})
    return result.get("msg") or str(result)


@case("cb-huge-san", "certificate_bundle", "certificate with 5000 SAN names", "odd.example.test")
def case_cb_huge_san(ctx):
    from cryptography import x509

    ext = x509.SubjectAlternativeName([x509.DNSName(f"h{n}.example.test") for n in range(5000)])
    pem = odd_cert(ctx, ext, critical=False)
    result = ctx.run(_module("certificate_bundle").main, {"certificate_content": pem.decode(), "require_root": False})
    return result.get("msg") or str(result)


@case(
    "cb-dest-no-dir", "certificate_bundle", "destination in a missing directory", "/nonexistent/dir of fullchain_dest"
)
def case_cb_dest_no_dir(ctx):
    inter, leaf = chain(ctx)
    args = {
        "certificate_content": (leaf.pem + inter.pem).decode(),
        "require_root": False,
        "fullchain_dest": "/nonexistent/dir/fullchain.pem",
    }
    return failed(ctx, "certificate_bundle", args)


# =============================================================================================
# ocsp_staple


@case("os-cert-garbage", "ocsp_staple", "certificate file of binary garbage", "garbage.pem")
def case_os_cert_garbage(ctx):
    return failed(ctx, "ocsp_staple", {"certificate_path": write(ctx, "garbage.pem", GARBAGE)})


@case("os-issuer-is-key", "ocsp_staple", "issuer file holds a private key", "issuer.pem")
def case_os_issuer_is_key(ctx):
    inter, leaf = chain(ctx)
    args = {
        "certificate_path": write(ctx, "leaf.pem", leaf.pem),
        "issuer_path": write(ctx, "issuer.pem", inter.key_pem()),
    }
    return failed(ctx, "ocsp_staple", args)


@case("os-responder-html", "ocsp_staple", "responder answers an HTML page", "HTML")
def case_os_responder_html(ctx):
    inter, leaf = chain(ctx)
    url = responder(ctx, lambda req: (200, "text/html", HTML))
    args = {
        "certificate_path": write(ctx, "full.pem", leaf.pem + inter.pem),
        "responder_url": url,
        "dest": str(ctx.tmp / "staple.ocsp"),
        "use_proxy": False,
        "timeout": 5,
    }
    msg = failed(ctx, "ocsp_staple", args)
    assert not (ctx.tmp / "staple.ocsp").exists(), "an HTML page was written as a staple"
    return msg


@case(
    "os-responder-hangs", "ocsp_staple", "responder that accepts and never answers", "sent no complete answer in time"
)
def case_os_responder_hangs(ctx):
    inter, leaf = chain(ctx)
    hanger = Hanger()
    ctx.cleanup.append(hanger.close)
    args = {
        "certificate_path": write(ctx, "full.pem", leaf.pem + inter.pem),
        "responder_url": "http://127.0.0.1:%d/" % hanger.port,
        "dest": str(ctx.tmp / "staple.ocsp"),
        "use_proxy": False,
        "timeout": 1.5,  # the whole budget: connecting must not run out of it on a stalled worker
    }
    return failed(ctx, "ocsp_staple", args)


@case("os-responder-idna", "ocsp_staple", "responder URL with a Unicode host", "bücher.invalid")
def case_os_responder_idna(ctx):
    inter, leaf = chain(ctx)
    args = {
        "certificate_path": write(ctx, "full.pem", leaf.pem + inter.pem),
        "responder_url": "http://ocsp.bücher.invalid/",
        "dest": str(ctx.tmp / "staple.ocsp"),
        "use_proxy": False,
        "timeout": 1,
    }
    return failed(ctx, "ocsp_staple", args)


@case("os-dest-garbage-existing", "ocsp_staple", "existing staple file of garbage (check mode)", "staple")
def case_os_dest_garbage_existing(ctx):
    inter, leaf = chain(ctx)
    url = responder(ctx, lambda req: (200, "application/ocsp-response", ctx.pki.ocsp_response(leaf, inter)))
    dest = write(ctx, "staple.ocsp", GARBAGE)
    args = {
        "certificate_path": write(ctx, "full.pem", leaf.pem + inter.pem),
        "responder_url": url,
        "dest": dest,
        "use_proxy": False,
        "timeout": 5,
        "_ansible_check_mode": True,
    }
    result = finished(ctx, "ocsp_staple", args)
    return str(result)


# =============================================================================================
# site_stapling


@case("ss-path-missing", "site_stapling", "config file missing", "/nonexistent/site.conf")
def case_ss_path_missing(ctx):
    return failed(
        ctx, "site_stapling", {"server": "nginx", "path": "/nonexistent/site.conf", "line": 1, "stapling": "on"}
    )


@case("ss-nginx-binary", "site_stapling", "nginx config of binary garbage", "site.conf")
def case_ss_nginx_binary(ctx):
    path = write(ctx, "site.conf", GARBAGE)
    return failed(ctx, "site_stapling", {"server": "nginx", "path": path, "line": 1, "stapling": "on"})


@case("ss-nginx-unbalanced", "site_stapling", "nginx server block never closed", "site.conf")
def case_ss_nginx_unbalanced(ctx):
    path = write(ctx, "site.conf", "server {\n    listen 443 ssl;\n    ssl_certificate /x.pem;\n")
    return failed(ctx, "site_stapling", {"server": "nginx", "path": path, "line": 1, "stapling": "on"})


@case("ss-nginx-line-beyond-eof", "site_stapling", "line past the end of the file", "site.conf")
def case_ss_nginx_line_beyond_eof(ctx):
    path = write(ctx, "site.conf", "server {\n    listen 443 ssl;\n}\n")
    return failed(ctx, "site_stapling", {"server": "nginx", "path": path, "line": 999, "stapling": "on"})


@case("ss-nginx-resolver-timeout", "site_stapling", "resolver_timeout not an nginx time", "resolver_timeout")
def case_ss_nginx_resolver_timeout(ctx):
    path = write(ctx, "site.conf", "server {\n    listen 443 ssl;\n}\n")
    args = {
        "server": "nginx",
        "path": path,
        "line": 1,
        "stapling": "on",
        "resolver": ["::1"],
        "resolver_timeout": "5 min",
    }
    return failed(ctx, "site_stapling", args)


@case("ss-apache-unclosed", "site_stapling", "Apache <VirtualHost> never closed", "vhost.conf")
def case_ss_apache_unclosed(ctx):
    path = write(ctx, "vhost.conf", "<VirtualHost *:443>\n    SSLEngine on\n")
    return failed(ctx, "site_stapling", {"server": "apache", "path": path, "line": 1, "stapling": "on"})


@case("ss-apache-wrong-line", "site_stapling", "line that is not a <VirtualHost>", "vhost.conf")
def case_ss_apache_wrong_line(ctx):
    path = write(ctx, "vhost.conf", "<VirtualHost *:443>\n    SSLEngine on\n</VirtualHost>\n")
    return failed(ctx, "site_stapling", {"server": "apache", "path": path, "line": 2, "stapling": "on"})


@case("ss-apache-timeout-negative", "site_stapling", "negative responder_timeout", "responder_timeout")
def case_ss_apache_timeout_negative(ctx):
    path = write(ctx, "vhost.conf", "<VirtualHost *:443>\n    SSLEngine on\n</VirtualHost>\n")
    args = {"server": "apache", "path": path, "line": 1, "stapling": "on", "responder_timeout": -3}
    return failed(ctx, "site_stapling", args)


@case("ss-nginx-non-utf8-text", "site_stapling", "config with invalid UTF-8 bytes", "site.conf")
def case_ss_nginx_non_utf8_text(ctx):
    path = write(ctx, "site.conf", b"server {\n    server_name caf\xe9.example;\n    listen 443 ssl;\n}\n")
    result = ctx.run(_module("site_stapling").main, {"server": "nginx", "path": path, "line": 1, "stapling": "on"})
    return result.get("msg") or str(result)


# =============================================================================================
# server_reload (options refused before any command runs)


@case("sr-timeout-zero", "server_reload", "zero timeout", "timeout")
def case_sr_timeout_zero(ctx):
    return failed(ctx, "server_reload", {"server": "nginx", "state": "tested", "timeout": 0})


@case("sr-wait-for-bracket", "server_reload", "IPv6 wait_for without the closing bracket", "wait_for entry")
def case_sr_wait_for_bracket(ctx):
    return failed(ctx, "server_reload", {"server": "nginx", "state": "tested", "wait_for": ["[::1:443"]})


@case("sr-wait-for-port-range", "server_reload", "wait_for port out of range", "wait_for entry")
def case_sr_wait_for_port_range(ctx):
    return failed(ctx, "server_reload", {"server": "nginx", "state": "tested", "wait_for": ["localhost:99999"]})


@case("sr-wait-for-idna", "server_reload", "wait_for Unicode host without a port", "wait_for entry")
def case_sr_wait_for_idna(ctx):
    return failed(ctx, "server_reload", {"server": "nginx", "state": "tested", "wait_for": ["bücher.example:https"]})


# =============================================================================================
# library loaders: x509


@case("x509-certs-empty", "x509.load_certificates", "empty", "test input is empty")
def case_x509_certs_empty(ctx):
    return input_error(_lib("x509").load_certificates, b"", "test input")


@case("x509-certs-garbage", "x509.load_certificates", "binary garbage", "bytes of binary data")
def case_x509_certs_garbage(ctx):
    return input_error(_lib("x509").load_certificates, GARBAGE[1:], "test input")


@case("x509-certs-truncated-der", "x509.load_certificates", "truncated DER", "neither PEM nor a valid DER")
def case_x509_certs_truncated_der(ctx):
    _inter, leaf = chain(ctx)
    return input_error(_lib("x509").load_certificates, leaf.der[:-40], "test input")


@case("x509-certs-oversized-der", "x509.load_certificates", "DER with trailing bytes", "test input")
def case_x509_certs_oversized_der(ctx):
    _inter, leaf = chain(ctx)
    try:
        certs = _lib("x509").load_certificates(leaf.der + b"\x00" * 4096, "test input")
    except _lib("errors").InputError as exc:
        return str(exc)
    return f"test input loaded {len(certs)} certificate(s)"


@case("x509-certs-headers-and-junk", "x509.load_certificates", "PEM with RFC 1421 headers and junk between", "2 certs")
def case_x509_certs_headers_and_junk(ctx):
    inter, leaf = chain(ctx)
    lines = leaf.pem.split(b"\n")
    with_headers = b"\n".join([lines[0], b"Proc-Type: 4,ENCRYPTED", b"Comment: junk", b"", *lines[1:]])
    data = b"junk before\n" + with_headers + b"\n# a comment\n\x00\x01 junk\n" + inter.pem + b"trailer"
    certs = _lib("x509").load_certificates(data, "test input")
    assert [c.serial_number for c in certs] == [leaf.cert.serial_number, inter.cert.serial_number]
    return f"{len(certs)} certs in order"


@case("x509-certs-only-key", "x509.load_certificates", "private key where a certificate is expected", "PRIVATE KEY")
def case_x509_certs_only_key(ctx):
    return input_error(_lib("x509").load_certificates, key_pem("ec"), "test input")


@case("x509-certs-negative-serial", "x509.load_certificates", "certificate with a negative serial", "test input")
def case_x509_certs_negative_serial(ctx):
    try:
        certs = _lib("x509").load_certificates(negative_serial_der(ctx), "test input")
    except _lib("errors").InputError as exc:
        return str(exc)
    assert certs[0].serial_number < 0
    return "test input loaded with a negative serial"


@case("x509-certs-trusted-truncated", "x509.load_certificates", "TRUSTED CERTIFICATE cut short", "test input")
def case_x509_certs_trusted_truncated(ctx):
    import base64

    body = base64.encodebytes(b"\x30\x84\xff\xff\xff\xff\x01").decode()
    pem = f"-----BEGIN TRUSTED CERTIFICATE-----\n{body}-----END TRUSTED CERTIFICATE-----\n".encode()
    return input_error(_lib("x509").load_certificates, pem, "test input")


@case("x509-read-non-utf8-path", "x509.load_certificates_from_path", "non-UTF-8 path", "cert-")
def case_x509_read_non_utf8_path(ctx):
    return input_error(_lib("x509").load_certificates_from_path, non_utf8_path(ctx, b""))


@case("x509-key-garbage", "x509.load_private_key", "binary garbage", "could not be loaded as a private key")
def case_x509_key_garbage(ctx):
    return input_error(_lib("x509").load_private_key, b"\x30\x82" + GARBAGE[:300], "test key")


@case("x509-key-is-cert", "x509.load_private_key", "certificate where a key is expected", "no PEM private key block")
def case_x509_key_is_cert(ctx):
    _inter, leaf = chain(ctx)
    return input_error(_lib("x509").load_private_key, leaf.pem, "test key")


@case("x509-key-truncated", "x509.load_private_key", "truncated PEM key", "test key")
def case_x509_key_truncated(ctx):
    pem = key_pem("rsa")
    message = input_error(
        _lib("x509").load_private_key, pem[: len(pem) // 2] + b"\n-----END PRIVATE KEY-----\n", "test key"
    )
    assert "MII" not in message
    return message


@case("x509-key-encrypted", "x509.load_private_key", "encrypted key without password", "no password was given")
def case_x509_key_encrypted(ctx):
    return input_error(_lib("x509").load_private_key, encrypted_key_pem(), "test key")


@case("x509-key-wrong-password", "x509.load_private_key", "wrong password", "wrong password")
def case_x509_key_wrong_password(ctx):
    return input_error(_lib("x509").load_private_key, encrypted_key_pem(), "test key", password="nope")


# =============================================================================================
# library loaders: ocsp


@case("ocsp-load-empty", "ocsp.load_response", "empty", "is empty")
def case_ocsp_load_empty(ctx):
    return input_error(_lib("ocsp").load_response, b"", "test response")


@case("ocsp-load-html", "ocsp.load_response", "HTML page", "is an HTML page")
def case_ocsp_load_html(ctx):
    return input_error(_lib("ocsp").load_response, HTML, "test response")


@case("ocsp-load-certificate", "ocsp.load_response", "DER certificate", "is a DER certificate")
def case_ocsp_load_certificate(ctx):
    _inter, leaf = chain(ctx)
    return input_error(_lib("ocsp").load_response, leaf.der, "test response")


@case("ocsp-load-pem-cert", "ocsp.load_response", "PEM certificate", "is a PEM CERTIFICATE block")
def case_ocsp_load_pem_cert(ctx):
    _inter, leaf = chain(ctx)
    return input_error(_lib("ocsp").load_response, leaf.pem, "test response")


@case("ocsp-load-truncated", "ocsp.load_response", "truncated DER", "truncated or damaged")
def case_ocsp_load_truncated(ctx):
    inter, leaf = chain(ctx)
    der = ctx.pki.ocsp_response(leaf, inter)
    return input_error(_lib("ocsp").load_response, der[:-30], "test response")


@case("ocsp-load-bad-base64", "ocsp.load_response", "base64 that does not decode", "test response")
def case_ocsp_load_bad_base64(ctx):
    return input_error(_lib("ocsp").load_response, b"MIIB" + b"A" * 5, "test response")


@case("ocsp-load-oversized", "ocsp.load_response", "DER response with 1 MB appended", "test response")
def case_ocsp_load_oversized(ctx):
    inter, leaf = chain(ctx)
    der = ctx.pki.ocsp_response(leaf, inter)
    return input_error(_lib("ocsp").load_response, der + b"\x00" * (1024 * 1024), "test response")


# =============================================================================================
# server config readers


@case("nginx-include-loop", "servers.nginx.inspect", "include that includes itself", "include loop")
def case_nginx_include_loop(ctx):
    return nginx_inspect(
        ctx, {"nginx.conf": "events {}\nhttp { include @/loop.conf; }\n", "loop.conf": "include @/loop.conf;\n"}
    )


@case("nginx-include-nowhere", "servers.nginx.inspect", "include of a missing file", "does not exist")
def case_nginx_include_nowhere(ctx):
    return nginx_inspect(ctx, {"nginx.conf": "events {}\nhttp { include @/missing/site.conf; }\n"})


@case("nginx-binary-config", "servers.nginx.inspect", "main config of binary garbage", "nginx.conf")
def case_nginx_binary_config(ctx):
    from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import FakeRunner

    write(ctx, "nginx.conf", GARBAGE)
    runner = FakeRunner({("-V",): (0, "", "nginx version: nginx/1.22.1\n"), ("-T",): (1, "", "nginx: [emerg] x\n")})
    info = _lib("servers.nginx.reader").inspect(runner, "/usr/sbin/nginx", config_file=str(ctx.tmp / "nginx.conf"))
    return "\n".join(info.errors)


@case("apache-include-loop", "servers.apache walker", "Include that includes itself", "include loop")
def case_apache_include_loop(ctx):
    return apache_walk(ctx, {"apache2.conf": "Include @/loop.conf\n", "loop.conf": "Include @/loop.conf\n"})


@case("apache-include-nowhere", "servers.apache walker", "Include of a missing file", "was not found")
def case_apache_include_nowhere(ctx):
    return apache_walk(ctx, {"apache2.conf": "Include @/missing/site.conf\n"})


@case("apache-mutual-include", "servers.apache walker", "two files including each other", "include loop")
def case_apache_mutual_include(ctx):
    return apache_walk(
        ctx,
        {"apache2.conf": "Include @/a.conf\n", "a.conf": "Include @/b.conf\n", "b.conf": "IncludeOptional @/a.conf\n"},
    )


@case("haproxy-unterminated-quote", "servers.haproxy.parse_config", "unterminated quote", "haproxy.cfg:2")
def case_haproxy_unterminated_quote(ctx):
    return haproxy_parse(ctx, 'global\n    crt-base "/etc/ssl\nfrontend fe\n    bind :443 ssl crt x.pem\n')


@case("haproxy-binary", "servers.haproxy.parse_config", "binary garbage", "haproxy.cfg")
def case_haproxy_binary(ctx):
    text = GARBAGE.decode("latin-1") + '\n"'
    return haproxy_parse(ctx, text) or "haproxy.cfg: nothing reported"


# =============================================================================================
# log classifier and stapling editors


@case("logscan-binary-file", "logscan.scan_file", "error log of binary garbage", "error.log")
def case_logscan_binary_file(ctx):
    logscan = _lib("logscan")
    nginx = _lib("servers.nginx.reader")
    path = write(ctx, "error.log", GARBAGE * 20 + b"\n2026/11/23 19:31:00 [error] 1#1: OCSP responder timed out\n")
    events, scan = logscan.scan_file(path, None, nginx.parse_line, nginx.make_classifier(None), 1 << 20, 10000)
    return f"{scan.to_dict()} {[event.to_dict() for event in events]}"


@case("logscan-unreadable", "servers.log_scan", "error log that is a directory", "error.log")
def case_logscan_unreadable(ctx):
    servers = _lib("servers")
    common = _lib("servers.common")
    (ctx.tmp / "error.log").mkdir()
    info = common.ServerInfo(type="nginx")
    info.error_logs.append(str(ctx.tmp / "error.log"))
    scan = servers.log_scan(info, None)
    return str(scan.to_dict())


@case("edit-nginx-unbalanced", "servers.nginx.edit.edit_server", "unbalanced braces", "broken.conf")
def case_edit_nginx_unbalanced(ctx):
    edit = _lib("servers.nginx.edit")
    return input_error(
        edit.edit_server, "server {\n listen 443;\n}}\n", 1, [("ssl_stapling", ["on"])], path="broken.conf"
    )


@case("edit-apache-no-vhost", "servers.apache.edit.edit_vhost", "no <VirtualHost> at that line", "vhost.conf")
def case_edit_apache_no_vhost(ctx):
    edit = _lib("servers.apache.edit")
    return input_error(edit.edit_vhost, "Listen 443\n", 1, [("SSLUseStapling", "on")], path="vhost.conf")
