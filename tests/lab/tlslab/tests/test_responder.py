"""The controllable OCSP responder, checked from outside.

`openssl ocsp` is the independent oracle for what a TLS server's OpenSSL would conclude; the
cryptography-based checks cover GET/POST encodings, headers, timing and the control API.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509 import ocsp

from tlslab import responder as responder_module
from tlslab.pki import build_pki, load_cert, utc_attr
from tlslab.responder import BehaviourError, Registry, validate_behaviour, validate_rule

from .conftest import CA_BASE, OCSP_BASE, http_request, read_ready, start_responder, stop

UTC = datetime.timezone.utc
SHA1 = hashes.SHA1()  # noqa: S303 - what OCSP clients (nginx, openssl) put in CertIDs
ROOTS = {"int-a-rsa": "root-a", "int-a-ec": "root-a", "int-b": "root-b", "int-n": "root-n"}


# ----------------------------------------------------------------------------- helpers


def openssl_ocsp(pki, leaf_name: str, url: str, root: str = "", *extra: str) -> subprocess.CompletedProcess:
    """Ask like an OpenSSL client would (POST, nonce) and verify against the root."""
    leaf = pki.leaf(leaf_name)
    root_path = pki.authority(root or ROOTS[leaf.issuer]).cert_path
    command = ["openssl", "ocsp", "-issuer", str(leaf.issuer_path), "-cert", str(leaf.cert_path), "-url", url]
    command += ["-CAfile", str(root_path), "-timeout", "5", "-resp_text", *extra]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}  # openssl honours http_proxy
    result = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False, env=env)
    result.output = result.stdout + result.stderr
    return result


def request_der(pki, leaf_name: str, algorithm=None, nonce: bytes = b"") -> bytes:
    leaf = pki.leaf(leaf_name)
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        load_cert(leaf.cert_path), load_cert(leaf.issuer_path), algorithm or SHA1
    )
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def post(responder, path: str, body: bytes, timeout: float = 10.0):
    headers = {"Content-Type": "application/ocsp-request"}
    return http_request(responder.ocsp, "POST", "/" + path.lstrip("/"), body, headers, timeout)


def ask(responder, pki, leaf_name: str, path: str = "", timeout: float = 10.0):
    """POST a request for the leaf to /<its issuer> (or `path`); returns (status, headers, body)."""
    return post(responder, path or pki.leaf(leaf_name).issuer, request_der(pki, leaf_name), timeout)


def parsed(body: bytes) -> ocsp.OCSPResponse:
    return ocsp.load_der_ocsp_response(body)


def assert_signed_by(response: ocsp.OCSPResponse, cert: x509.Certificate) -> None:
    """Raises InvalidSignature unless `cert`'s key signed the response."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(response.signature_hash_algorithm))
    else:
        key.verify(
            response.signature, response.tbs_response_bytes, padding.PKCS1v15(), response.signature_hash_algorithm
        )


def raw_exchange(address: str, payload: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes, read until EOF; ConnectionResetError propagates."""
    with socket.create_connection(host_port(address), timeout=timeout) as connection:
        connection.sendall(payload)
        received = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                return received
            received += chunk


def host_port(address: str):
    host, port = address.rsplit(":", 1)
    return host, int(port)


def post_bytes(pki, leaf_name: str) -> bytes:
    body = request_der(pki, leaf_name)
    head = "POST /int-a-rsa HTTP/1.0\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\n\r\n"
    return head.format(len(body)).encode() + body


# ----------------------------------------------------------------------------- openssl as the oracle


def test_good_answer_verifies_and_echoes_the_nonce(fresh, lab_pki):
    result = openssl_ocsp(lab_pki, "www-rsa", fresh.ocsp_url("int-a-rsa"))
    assert result.returncode == 0, result.output
    assert "Response verify OK" in result.output
    assert "{}: good".format(lab_pki.leaf("www-rsa").cert_path) in result.output
    assert "OCSP Nonce" in result.output and "no nonce" not in result.output.lower()


def test_revoked_from_the_behaviour_file_with_reason_and_time(fresh, lab_pki):
    result = openssl_ocsp(lab_pki, "www-revoked", fresh.ocsp_url("int-a-rsa"))
    assert "Response verify OK" in result.output
    assert ": revoked" in result.output
    assert "Reason: keyCompromise" in result.output
    assert "Revocation Time: Jan  2 03:04:05 2026 GMT" in result.output


def test_unknown(fresh, lab_pki):
    fresh.set_cert("www-rsa", "unknown")
    result = openssl_ocsp(lab_pki, "www-rsa", fresh.ocsp_url("int-a-rsa"))
    assert "Response verify OK" in result.output and ": unknown" in result.output


@pytest.mark.parametrize(
    ("mode", "openssl_text"),
    [
        ("try_later", "Responder Error: trylater (3)"),
        ("unauthorized", "Responder Error: unauthorized (6)"),
        ("internal_error", "Responder Error: internalerror (2)"),
        ("sig_required", "Responder Error: sigrequired (5)"),
        ("malformed_request", "Responder Error: malformedrequest (1)"),
    ],
)
def test_unsuccessful_statuses(fresh, lab_pki, mode, openssl_text):
    fresh.set_default(mode)
    result = openssl_ocsp(lab_pki, "www-rsa", fresh.ocsp_url("int-a-rsa"))
    assert openssl_text in result.output
    assert result.returncode != 0


def test_expired_answer_is_reported_as_status_expired(fresh, lab_pki):
    fresh.set_cert("www-rsa", {"mode": "expired", "expired_ago": 7200})
    result = openssl_ocsp(lab_pki, "www-rsa", fresh.ocsp_url("int-a-rsa"))
    assert "Response verify OK" in result.output  # correctly signed, just stale
    assert "status expired" in result.output
    next_update = parsed(ask(fresh, lab_pki, "www-rsa")[2])
    assert utc_attr(next_update, "next_update") < datetime.datetime.now(UTC) - datetime.timedelta(seconds=7000)


@pytest.mark.parametrize(
    ("signer", "detail"),
    [
        ("rogue", "self-signed certificate"),
        ("no_eku", "missing ocspsigning usage"),
        ("other_ca", "root ca not trusted"),
    ],
)
def test_unauthorized_signer_fails_verification(fresh, lab_pki, signer, detail):
    fresh.set_default({"mode": "unauthorized_signer", "signer": signer})
    result = openssl_ocsp(lab_pki, "www-rsa", fresh.ocsp_url("int-a-rsa"))
    assert "Response Verify Failure" in result.output
    assert detail in result.output
    assert "Response verify OK" not in result.output


def test_other_serial_is_signed_but_about_another_certificate(fresh, lab_pki):
    fresh.set_cert("www-rsa", {"mode": "other_serial", "serial": "0xABC"})
    result = openssl_ocsp(lab_pki, "www-rsa", fresh.ocsp_url("int-a-rsa"))
    assert "Response verify OK" in result.output
    assert "No Status found" in result.output
    assert parsed(ask(fresh, lab_pki, "www-rsa")[2]).serial_number == 0xABC


def test_ecdsa_intermediate_signs_its_own_answers(fresh, lab_pki):
    result = openssl_ocsp(lab_pki, "www-ec", fresh.ocsp_url("int-a-ec"))
    assert "Response verify OK" in result.output and ": good" in result.output
    response = parsed(ask(fresh, lab_pki, "www-ec")[2])
    assert_signed_by(response, load_cert(lab_pki.authority("int-a-ec").cert_path))
    assert response.certificates == []


def test_int_b_answers_come_from_the_delegated_signer(fresh, lab_pki):
    result = openssl_ocsp(lab_pki, "www-b", fresh.ocsp_url("int-b"))
    assert "Response verify OK" in result.output and ": good" in result.output
    response = parsed(ask(fresh, lab_pki, "www-b")[2])
    signer = load_cert(lab_pki.authority("ocsp-signer-b").cert_path)
    assert response.certificates == [signer]
    assert_signed_by(response, signer)
    # the signer chains to root-b only: trusting another root must fail
    wrong_root = openssl_ocsp(lab_pki, "www-b", fresh.ocsp_url("int-b"), "root-a")
    assert "Response Verify Failure" in wrong_root.output


def test_int_n_is_served_too_although_its_leaves_name_no_responder(fresh, lab_pki):
    result = openssl_ocsp(lab_pki, "www-n", fresh.ocsp_url("int-n"))
    assert "Response verify OK" in result.output and ": good" in result.output


# ----------------------------------------------------------------------------- routing and encodings


def test_post_to_root_path_is_routed_by_issuer_hashes(fresh, lab_pki):
    status, _unused, body = ask(fresh, lab_pki, "www-ec", path="/")
    assert status == 200
    response = parsed(body)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert_signed_by(response, load_cert(lab_pki.authority("int-a-ec").cert_path))
    [entry] = fresh.requests("?serial=" + lab_pki.leaf("www-ec").serial)
    assert (entry["ca"], entry["path"], entry["method"]) == ("int-a-ec", "/", "POST")


def test_request_sent_to_another_cas_path_is_unauthorized(fresh, lab_pki):
    status, _unused, body = ask(fresh, lab_pki, "www-rsa", path="/int-b")
    assert status == 200
    assert parsed(body).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    ("style", "algorithm"),
    [("quoted", SHA1), ("urlsafe", hashes.SHA256()), ("raw_slashes", SHA1), ("root", SHA1)],
)
def test_get_requests_in_every_encoding(fresh, lab_pki, style, algorithm):
    der = b""
    for counter in range(2000):  # find a request whose base64 has both '/' and '+'
        der = request_der(lab_pki, "www-rsa", algorithm, nonce=counter.to_bytes(16, "big"))
        encoded = base64.b64encode(der).decode()
        if "/" in encoded and "+" in encoded:
            break
    else:
        pytest.fail("no request with '/' and '+' in its base64")
    paths = {
        "quoted": "/int-a-rsa/" + urllib.parse.quote(encoded, safe=""),  # what nginx sends
        "urlsafe": "/int-a-rsa/" + base64.urlsafe_b64encode(der).decode().rstrip("="),
        "raw_slashes": "/int-a-rsa/" + encoded,
        "root": "/" + urllib.parse.quote(encoded, safe=""),
    }
    status, headers, body = http_request(fresh.ocsp, "GET", paths[style])
    assert status == 200 and headers["content-type"] == "application/ocsp-response"
    response = parsed(body)
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == int(lab_pki.leaf("www-rsa").serial, 16)
    assert response.hash_algorithm.name == algorithm.name
    assert_signed_by(response, load_cert(lab_pki.authority("int-a-rsa").cert_path))
    nonce = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert nonce == ocsp.load_der_ocsp_request(der).extensions.get_extension_for_class(x509.OCSPNonce).value.nonce


def test_validity_window_and_cache_headers(fresh, lab_pki):
    fresh.set_cert("www-rsa", {"mode": "good", "next_update": 300, "this_update_ago": 120})
    _unused, headers, body = ask(fresh, lab_pki, "www-rsa")
    now = datetime.datetime.now(UTC)
    response = parsed(body)
    assert abs((utc_attr(response, "this_update") - (now - datetime.timedelta(seconds=120))).total_seconds()) < 5
    assert abs((utc_attr(response, "next_update") - (now + datetime.timedelta(seconds=300))).total_seconds()) < 5
    max_age = int(headers["cache-control"].split("max-age=")[1].split(",")[0])
    assert 290 <= max_age <= 300
    assert "expires" in headers and headers["etag"].startswith('"')


def test_expiring_mode_has_a_near_next_update(fresh, lab_pki):
    fresh.set_cert("www-rsa", "expiring")
    response = parsed(ask(fresh, lab_pki, "www-rsa")[2])
    remaining = utc_attr(response, "next_update") - datetime.datetime.now(UTC)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert datetime.timedelta(minutes=10) < remaining <= datetime.timedelta(minutes=15)


@pytest.mark.parametrize(("ca", "serial"), [("int-a-rsa", "5eed"), ("int-a-ec", "www-rsa")])
def test_serial_not_issued_by_that_ca_is_unknown_even_when_default_is_good(fresh, lab_pki, ca, serial):
    """A responder vouches only for what its CA issued: a made-up serial, or another CA's leaf."""
    issuer = load_cert(lab_pki.authority(ca).cert_path)
    number = int(lab_pki.leaf(serial).serial if serial in lab_pki.leaves else serial, 16)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(UTC)
    stranger = (
        x509.CertificateBuilder()
        .subject_name(issuer.subject)
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(number)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = ocsp.OCSPRequestBuilder().add_certificate(stranger, issuer, SHA1).build()
    response = parsed(post(fresh, ca, der.public_bytes(serialization.Encoding.DER))[2])
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert response.serial_number == number


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/int-a-rsa", b"\x30\x03garbage"),
        ("POST", "/int-a-rsa", b""),
        ("GET", "/int-a-rsa/not*base64", None),
        ("GET", "/int-a-rsa/" + base64.b64encode(b"\x30\x00").decode(), None),
        ("GET", "/", None),
    ],
)
def test_broken_requests_get_malformed_request(fresh, method, path, body):
    status, headers, data = http_request(fresh.ocsp, method, path, body)
    assert status == 200 and headers["content-type"] == "application/ocsp-response"
    assert parsed(data).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    [entry] = fresh.requests()
    assert entry["ocsp_status"] == "malformed_request" and entry["error"].startswith("malformed request")


# ----------------------------------------------------------------------------- answers that are not OCSP


def test_malformed_mode_sends_garbage_with_the_ocsp_content_type(fresh, lab_pki):
    fresh.set_default("malformed")
    status, headers, body = ask(fresh, lab_pki, "www-rsa")
    assert status == 200 and headers["content-type"] == "application/ocsp-response"
    with pytest.raises(ValueError):
        parsed(body)


def test_html_and_http_error_modes(fresh, lab_pki):
    fresh.set_default("html")
    status, headers, body = ask(fresh, lab_pki, "www-rsa")
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert body.startswith(b"<html>")
    fresh.set_default({"mode": "http_error", "status": 403})
    status, headers, body = ask(fresh, lab_pki, "www-rsa")
    assert status == 403 and body == b"403 Forbidden\n"


def test_wrong_content_type_carries_a_valid_answer(fresh, lab_pki):
    fresh.set_default("wrong_content_type")
    status, headers, body = ask(fresh, lab_pki, "www-rsa")
    assert status == 200 and headers["content-type"] == "text/plain"
    assert parsed(body).certificate_status == ocsp.OCSPCertStatus.GOOD


# ----------------------------------------------------------------------------- transport-level faults


def test_slow_answers_after_the_delay(fresh, lab_pki):
    fresh.set_cert("www-rsa", {"mode": "slow", "delay": 1.0, "then": "revoked", "reason": "superseded"})
    started = time.monotonic()
    response = parsed(ask(fresh, lab_pki, "www-rsa")[2])
    assert 1.0 <= time.monotonic() - started < 3.0
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.superseded
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        ask(fresh, lab_pki, "www-rsa", timeout=0.3)
    assert time.monotonic() - started < 0.9


def test_silent_holds_the_client_without_blocking_others(fresh, lab_pki):
    fresh.set_cert("www-rsa", "silent")
    outcome = {}

    def silent_client():
        started = time.monotonic()
        try:
            ask(fresh, lab_pki, "www-rsa", timeout=1.5)
            outcome["result"] = "answered"
        except socket.timeout:
            outcome["result"] = "timeout"
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=silent_client)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert parsed(ask(fresh, lab_pki, "www-ec", timeout=2)[2]).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert time.monotonic() - started < 0.5
    thread.join(5)
    assert outcome["result"] == "timeout" and 1.4 <= outcome["elapsed"] < 2.5
    [entry] = fresh.wait_for_requests("?mode=silent")
    assert entry["http_status"] is None and entry["bytes"] == 0 and entry["error"] == "client gave up"


def test_down_resets_or_closes_without_any_http_answer(fresh, lab_pki):
    fresh.set_default({"mode": "down", "how": "reset"})
    with pytest.raises(ConnectionResetError):
        raw_exchange(fresh.ocsp, post_bytes(lab_pki, "www-rsa"))
    fresh.set_default({"mode": "down", "how": "close"})
    assert raw_exchange(fresh.ocsp, post_bytes(lab_pki, "www-rsa")) == b""
    entries = fresh.wait_for_requests("?mode=down", count=2)
    assert [e["http_status"] for e in entries] == [None, None]


def test_flood_sends_the_whole_huge_body(fresh, lab_pki):
    size = 12 * 1024 * 1024
    fresh.set_default({"mode": "flood", "bytes": size})
    status, headers, body = ask(fresh, lab_pki, "www-rsa", timeout=10)
    assert status == 200 and len(body) == size and int(headers["content-length"]) == size
    [entry] = fresh.wait_for_requests("?mode=flood")
    assert entry["bytes"] == size


def test_flood_at_a_rate_and_a_client_that_hangs_up(fresh, lab_pki):
    fresh.set_default({"mode": "flood", "bytes": 150000, "rate": 300000})
    started = time.monotonic()
    assert len(ask(fresh, lab_pki, "www-rsa")[2]) == 150000
    assert time.monotonic() - started >= 0.4
    fresh.set_default({"mode": "flood", "bytes": 50 * 1024 * 1024, "rate": 1000000})
    with socket.create_connection(host_port(fresh.ocsp)) as connection:
        connection.sendall(post_bytes(lab_pki, "www-rsa"))
        connection.recv(1000)  # then hang up early
    entries = fresh.wait_for_requests("?mode=flood", count=2)
    assert entries[1]["bytes"] < 50 * 1024 * 1024
    assert entries[1]["error"].startswith("client went away")


# ----------------------------------------------------------------------------- control API


def test_rules_by_serial_beat_rules_by_name_beat_the_default(fresh, lab_pki):
    serial = lab_pki.leaf("www-rsa").serial
    fresh.set_default("unknown")
    fresh.set_cert("www-rsa", "revoked")
    fresh.set_cert("0x" + serial.upper(), "good")
    statuses = {name: parsed(ask(fresh, lab_pki, name)[2]).certificate_status for name in ("www-rsa", "www-other")}
    assert statuses == {"www-rsa": ocsp.OCSPCertStatus.GOOD, "www-other": ocsp.OCSPCertStatus.UNKNOWN}
    entries = fresh.requests()
    assert [(e["name"], e["matched"], e["mode"]) for e in entries] == [
        ("www-rsa", "serial", "good"),
        ("www-other", "default", "unknown"),
    ]


def test_behaviour_replace_merge_validation_and_reset(fresh):
    status, current = fresh.control("PUT", "/behaviour", {"default": "try_later", "certs": {"a": "good"}})
    assert status == 200 and current == {"default": {"mode": "try_later"}, "certs": {"a": {"mode": "good"}}}
    status, current = fresh.control("POST", "/behaviour", {"certs": {"a": None, "b": {"mode": "slow", "delay": 2}}})
    assert current == {"default": {"mode": "try_later"}, "certs": {"b": {"mode": "slow", "delay": 2}}}
    status, error = fresh.control("POST", "/behaviour", {"certs": {"c": {"mode": "revoked", "reason": "stolen"}}})
    assert status == 400 and "reason must be one of" in error["error"]
    assert fresh.control("GET", "/behaviour")[1] == current  # a refused change changes nothing
    status, error = fresh.control("PUT", "/behaviour", {"default": {"mode": "good", "delay": 1}})
    assert status == 400 and "takes no 'delay'" in error["error"]
    status, initial = fresh.control("POST", "/reset")
    assert initial["certs"]["www-revoked"]["mode"] == "revoked" and initial["default"] == {"mode": "good"}
    assert fresh.control("GET", "/nothing")[0] == 404


def test_request_log_in_memory_and_in_the_file(fresh, lab_pki):
    started = time.time()
    openssl_ocsp(lab_pki, "www-rsa", fresh.ocsp_url("int-a-rsa"))
    serial = lab_pki.leaf("www-rsa").serial
    [entry] = fresh.requests(f"?serial={serial}&since={started}")
    assert entry["client"] == "127.0.0.1" and entry["method"] == "POST" and entry["path"] == "/int-a-rsa"
    assert (entry["ca"], entry["serials"], entry["name"]) == ("int-a-rsa", [serial], "www-rsa")
    assert (entry["mode"], entry["http_status"], entry["ocsp_status"], entry["cert_status"]) == (
        "good",
        200,
        "successful",
        "good",
    )
    assert entry["bytes"] > 500 and entry["service"] == "ocsp"
    lines = [json.loads(line) for line in fresh.log_path.read_text().splitlines()]
    assert entry in lines
    assert fresh.requests(f"?since={time.time() + 60}") == []
    assert fresh.control("DELETE", "/requests")[0] == 200
    assert fresh.requests() == []


def test_leaves_issued_later_are_picked_up_from_the_manifest(fresh, lab_pki):
    fresh.set_cert("late-leaf", {"mode": "revoked"})
    lab_pki.issue_leaf("late-leaf", ["late.tlsfleet.test"])
    response = parsed(ask(fresh, lab_pki, "late-leaf")[2])
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    renewed = lab_pki.renew_leaf("late-leaf")
    assert parsed(ask(fresh, lab_pki, "late-leaf")[2]).certificate_status == ocsp.OCSPCertStatus.REVOKED
    status, summary = fresh.control("POST", "/reload")
    assert status == 200 and "int-b" in summary["cas"]
    entries = fresh.requests("?name=late-leaf")
    assert [e["serial"] for e in entries] == [renewed.previous_serials[-1], renewed.serial]


def test_a_renewal_seen_by_many_requests_at_once_reloads_the_manifest_once(tmp_path, monkeypatch):
    # A renewal while the whole fleet asks: each request that saw the old manifest used to reload it in turn
    # (half a second each), which stalled the responder past the servers' 5 s timeout.
    pki = build_pki(tmp_path, OCSP_BASE, CA_BASE)
    pki.issue_leaf("busy", ["busy.tlsfleet.test"])
    registry = Registry(pki.state_dir)
    kept = dict(registry.cas)
    reads, built = [], []
    real_read, real_record = responder_module.read_manifest, responder_module.CaRecord
    monkeypatch.setattr(responder_module, "read_manifest", lambda path: reads.append(path) or real_read(path))
    monkeypatch.setattr(responder_module, "CaRecord", lambda *a: built.append(a) or real_record(*a))
    renewed = pki.renew_leaf("busy")
    start = threading.Barrier(8)
    errors = []

    def ask_registry():
        start.wait()
        errors.append(registry.reload_if_changed())

    threads = [threading.Thread(target=ask_registry) for _unused in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [None] * 8
    assert len(reads) == 1, reads
    assert built == []  # a leaf's renewal changes no CA: their loaded keys are kept
    assert registry.cas == kept and renewed.serial in registry.serials
    registry.reload()  # an explicit reload (POST /reload, SIGHUP) loads every CA again
    assert len(built) == len(kept) and registry.cas.keys() == kept.keys()


def test_health(fresh):
    status, health = fresh.control("GET", "/health")
    assert status == 200 and health["status"] == "ok"
    assert health["listeners"]["ocsp"] == [fresh.ocsp] and health["listeners"]["ca_issuers"] == [fresh.ca_issuers]
    assert {"good", "silent", "flood", "unauthorized_signer"} <= set(health["modes"])
    assert {"root-a", "int-a-rsa", "int-a-ec", "root-b", "int-b", "root-n", "int-n"} == set(health["cas"])


# ----------------------------------------------------------------------------- caIssuers


@pytest.mark.parametrize("ca", ["root-a", "int-a-rsa", "int-a-ec", "root-b", "int-b", "root-n", "int-n"])
def test_ca_issuers_serves_each_ca_as_der_pem_and_p7c(fresh, lab_pki, ca):
    cert_path = lab_pki.authority(ca).cert_path
    status, headers, body = http_request(fresh.ca_issuers, "GET", f"/ca/{ca}.der")
    assert (status, headers["content-type"]) == (200, "application/pkix-cert")
    assert x509.load_der_x509_certificate(body) == load_cert(cert_path)
    status, _unused, body = http_request(fresh.ca_issuers, "GET", f"/ca/{ca}.pem")
    assert body == cert_path.read_bytes()
    status, headers, body = http_request(fresh.ca_issuers, "GET", f"/{ca}.p7c")
    assert headers["content-type"] == "application/pkcs7-mime"
    assert pkcs7.load_der_pkcs7_certificates(body) == [load_cert(cert_path)]


def test_ca_issuers_url_of_a_leaf_resolves_on_the_ca_listener_only(fresh, lab_pki):
    leaf = lab_pki.leaf("www-ec")
    path = urllib.parse.urlsplit(leaf.ca_issuers_urls[0]).path
    status, _unused, body = http_request(fresh.ca_issuers, "GET", path)
    assert status == 200 and x509.load_der_x509_certificate(body) == load_cert(leaf.issuer_path)
    assert http_request(fresh.ca_issuers, "GET", "/ca/nope.der")[0] == 404
    # the OCSP listener does not serve certificates, so each service can be firewalled on its own
    status, _unused, body = http_request(fresh.ocsp, "GET", path)
    assert parsed(body).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert fresh.requests("?service=ca_issuers")[0]["ca"] == "int-a-ec"


# ----------------------------------------------------------------------------- validation (no process)


def test_rule_validation():
    assert validate_rule("good", "x") == {"mode": "good"}
    assert validate_rule({"mode": "slow", "delay": 1, "then": "revoked", "reason": "key_compromise"}, "x")
    for bad, message in [
        ({"mode": "nope"}, "unknown mode"),
        ({"delay": 1}, "needs a mode"),
        ({"mode": "slow", "then": "silent"}, "then must be one of"),
        ({"mode": "slow", "then": "good", "reason": "superseded"}, "takes no 'reason'"),
        ({"mode": "good", "next_update": "soon"}, "number of seconds"),
        ({"mode": "flood", "bytes": -1}, "invalid bytes"),
        ({"mode": "http_error", "status": 99}, "invalid status"),
        ({"mode": "revoked", "revoked_at": "last week"}, "ISO 8601"),
    ]:
        with pytest.raises(BehaviourError, match=message):
            validate_rule(bad, "x")


def test_behaviour_documents_normalize_serials_and_accept_leaves():
    doc = validate_behaviour({"leaves": {"web": "revoked"}, "certs": {"0x00AB:CD:EF:01": "unknown"}})
    assert doc == {"default": {"mode": "good"}, "certs": {"web": {"mode": "revoked"}, "abcdef01": {"mode": "unknown"}}}
    with pytest.raises(BehaviourError, match="behaviour document"):
        validate_behaviour({"default": "good", "extra": 1})


# ----------------------------------------------------------------------------- the process itself


def test_yaml_behaviour_pidfile_and_clean_sigterm(lab_pki, tmp_path):
    behaviour = tmp_path / "behaviour.yaml"
    behaviour.write_text(yaml.safe_dump({"default": "try_later", "certs": {"www-ec": "good"}}))
    pidfile = tmp_path / "responder.pid"
    process = start_responder(lab_pki.state_dir, tmp_path, behaviour, ["--pidfile", str(pidfile)])
    try:
        ready = read_ready(process)
        assert int(pidfile.read_text()) == process.pid == ready["pid"]
        status, _unused, body = http_request(ready["control"][0], "GET", "/behaviour")
        assert json.loads(body)["default"] == {"mode": "try_later"}
        status, _unused, body = http_request(ready["control"][0], "POST", "/reload")
        assert status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code, stderr = stop(process)
    assert code == 0 and time.monotonic() - started < 3
    assert not pidfile.exists()
    assert "Traceback" not in stderr


def test_broken_manifest_at_run_time_keeps_the_previous_pki(lab_pki, tmp_path):
    state = tmp_path / "state"
    (state / "pki").mkdir(parents=True)
    manifest = json.loads(lab_pki.manifest_path.read_text())
    (state / "pki" / "manifest.json").write_text(json.dumps(manifest))
    process = start_responder(state, tmp_path)
    try:
        ready = read_ready(process)
        (state / "pki" / "manifest.json").write_text("{broken")
        status, _unused, body = http_request(ready["control"][0], "POST", "/reload")
        assert status == 400 and "corrupt PKI manifest" in json.loads(body)["error"]
        der = request_der(lab_pki, "www-rsa")
        status, _unused, body = http_request(ready["ocsp"][0], "POST", "/int-a-rsa", der)
        assert parsed(body).certificate_status == ocsp.OCSPCertStatus.GOOD
    finally:
        assert stop(process)[0] == 0


@pytest.mark.parametrize("problem", ["missing", "corrupt", "bad_behaviour", "port_taken"])
def test_startup_errors_are_one_clear_line(lab_pki, tmp_path, problem):
    state = lab_pki.state_dir
    extra = []
    if problem == "missing":
        state = tmp_path / "nothing"
    elif problem == "corrupt":
        state = tmp_path
        (tmp_path / "pki").mkdir()
        (tmp_path / "pki" / "manifest.json").write_text("[]")
    elif problem == "bad_behaviour":
        (tmp_path / "b.json").write_text('{"default": {"mode": "sometimes"}}')
        extra = ["--behaviour", str(tmp_path / "b.json")]
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        if problem == "port_taken":
            extra = ["--listen", f"127.0.0.1:{blocker.getsockname()[1]}"]
        process = start_responder(state, tmp_path, None, extra)
        _unused, stderr = process.communicate(timeout=20)
    expected = {
        "missing": "no lab PKI at",
        "corrupt": "corrupt PKI manifest",
        "bad_behaviour": "unknown mode 'sometimes'",
        "port_taken": "Address already in use",
    }[problem]
    assert process.returncode == 2
    assert stderr.startswith("tlslab.responder: error: ") and expected in stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
