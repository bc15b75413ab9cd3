# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""crl.py: CRLs made by the test PKI, judged in memory and downloaded from a real HTTP server on loopback."""

from __future__ import annotations

import datetime
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from cryptography import x509 as cx509

from ansible_collections.tlsfleet.stapling.plugins.module_utils import audit, crl, x509

CRL_URL_PATH = "/int.crl"


@pytest.fixture
def world(pki):
    root = pki.root()
    inter = pki.intermediate(root)
    leaf = pki.leaf(inter, ocsp_urls=[], crl_urls=["http://crl.example.test/int.crl", "ldap://crl.example.test/x"])
    other = pki.leaf(inter, cn="other.example.test", ocsp_urls=[], crl_urls=["http://crl.example.test/int.crl"])
    return {"pki": pki, "root": root, "inter": inter, "leaf": leaf, "other": other}


def judge(world, body, **kw):
    return crl.judge(body, world["inter"].cert, [world["leaf"].cert, world["other"].cert], **kw)


def test_http_distribution_points_only(world, pki):
    assert crl.http_urls(world["leaf"].cert) == ["http://crl.example.test/int.crl"]
    assert crl.http_urls(pki.leaf(world["inter"]).cert) == []


@pytest.mark.parametrize("pem", [False, True])
def test_a_good_crl_of_the_issuer(world, pem):
    verdict = judge(world, world["pki"].crl(world["inter"], revoked=[0x99], pem=pem))
    assert verdict["valid"] and verdict["signature_valid"] and verdict["fresh"]
    assert verdict["error"] is None and verdict["problems"] == []
    assert verdict["revoked_count"] == 1
    assert verdict["seconds_until_next_update"] > 6 * 86400
    fp = x509.fingerprint(world["leaf"].cert)
    assert verdict["certificates"][fp] == {
        "serial": x509.serial_hex(world["leaf"].cert.serial_number),
        "revoked": False,
    }


def test_a_revoked_serial_is_found_with_time_and_reason(world):
    body = world["pki"].crl(world["inter"], revoked=[world["leaf"]], reason=cx509.ReasonFlags.key_compromise)
    verdict = judge(world, body)
    leaf = verdict["certificates"][x509.fingerprint(world["leaf"].cert)]
    assert leaf["revoked"] is True and leaf["reason"] == "key_compromise"
    assert leaf["revocation_time"].endswith("Z")
    assert verdict["certificates"][x509.fingerprint(world["other"].cert)]["revoked"] is False


def test_a_crl_signed_by_another_key_under_the_issuers_name_is_not_trusted(world):
    rogue = world["pki"].root(cn="Rogue")
    body = world["pki"].crl(world["inter"], revoked=[world["leaf"]], signing_key=rogue.key)
    verdict = judge(world, body)
    assert verdict["valid"] is False and verdict["signature_valid"] is False
    assert "does not verify" in verdict["error"]
    assert verdict["certificates"] == {}  # nothing is looked up in a CRL that is not the issuer's


def test_a_crl_of_another_issuer_is_not_this_certificates(world):
    body = world["pki"].crl(world["root"])
    verdict = judge(world, body)
    assert verdict["valid"] is False and "not by the certificate's issuer" in verdict["error"]


def test_a_stale_crl_is_valid_but_not_fresh_and_still_says_revoked(world):
    now = world["pki"].now
    body = world["pki"].crl(
        world["inter"],
        revoked=[world["leaf"]],
        this_update=now - datetime.timedelta(days=8),
        next_update=now - datetime.timedelta(days=1),
    )
    verdict = judge(world, body)
    assert verdict["valid"] is True and verdict["fresh"] is False
    assert verdict["seconds_until_next_update"] < -80000
    assert any("stale" in p for p in verdict["problems"])
    assert verdict["certificates"][x509.fingerprint(world["leaf"].cert)]["revoked"] is True


def test_clock_skew_is_allowed_either_way(world):
    now = world["pki"].now
    late = world["pki"].crl(world["inter"], next_update=now - datetime.timedelta(seconds=100))
    early = world["pki"].crl(world["inter"], this_update=now + datetime.timedelta(seconds=100))
    assert judge(world, late, now=now)["fresh"] is True
    assert judge(world, late, now=now, skew_seconds=0)["fresh"] is False
    assert judge(world, early, now=now)["fresh"] is True
    verdict = judge(world, early, now=now, skew_seconds=10)
    assert verdict["fresh"] is False and "not valid yet" in verdict["problems"][0]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html>gone</html>", "HTML page"),
        (b"\x30\x82\x01\x00garbage", "not a CRL"),
        (b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "not a CRL"),
    ],
)
def test_malformed_answers_are_no_crl(world, body, says):
    verdict = judge(world, body)
    assert verdict["valid"] is False and says in verdict["error"]


def test_a_truncated_crl_is_no_crl(world):
    body = world["pki"].crl(world["inter"], revoked=list(range(1, 50)))
    verdict = judge(world, body[: len(body) // 2])
    assert verdict["valid"] is False and verdict["error"]


class Handler(BaseHTTPRequestHandler):
    mode = "ok"
    body = b""
    seen: ClassVar[list] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.seen.append((self.path, self.headers.get("Accept")))
        if self.mode == "404":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.body if self.mode == "ok" else b"0" * (3 * 1024 * 1024)
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.seen = []
    yield "http://127.0.0.1:%d%s" % (httpd.server_address[1], CRL_URL_PATH)
    httpd.shutdown()
    httpd.server_close()


def check(world, url, **kw):
    kw.setdefault("timeout", 5)
    return crl.check(url, world["inter"].cert, [world["leaf"].cert], use_env_proxy=False, **kw)


def test_download_and_judge_from_the_node(world, server):
    Handler.mode, Handler.body = "ok", world["pki"].crl(world["inter"], revoked=[world["leaf"]])
    record = check(world, server)
    assert record["reachable"] and record["failed_stage"] is None and record["valid"]
    assert record["certificates"][x509.fingerprint(world["leaf"].cert)]["revoked"] is True
    assert record["issuer_sha256"] == x509.fingerprint(world["inter"].cert)
    assert Handler.seen == [(CRL_URL_PATH, crl.CRL_TYPES)]  # a plain GET of the URL itself
    assert "body" not in record and "method" not in record


def test_a_wrong_signer_fails_the_crl_stage(world, server):
    rogue = world["pki"].root(cn="Rogue")
    Handler.mode, Handler.body = "ok", world["pki"].crl(world["inter"], signing_key=rogue.key)
    record = check(world, server)
    assert record["reachable"] and record["failed_stage"] == "crl" and not record["valid"]
    # the certificate was not looked up: its status stays unknown
    assert record["certificates"][x509.fingerprint(world["leaf"].cert)]["revoked"] is None


def test_a_huge_answer_is_not_read(world, server):
    Handler.mode = "huge"
    record = check(world, server, max_bytes=64 * 1024)
    assert record["failed_stage"] == "crl" and "larger than 65536 bytes" in record["error"]
    assert record["http"]["truncated"] is True and record["valid"] is False


def test_an_http_error_is_the_path(world, server):
    Handler.mode = "404"
    record = check(world, server)
    assert record["failed_stage"] == "http" and record["http"]["status"] == 404 and not record["reachable"]


def test_a_closed_port_fails_at_connect(world, closed_port):
    record = check(world, "http://127.0.0.1:%d/int.crl" % closed_port, timeout=2)
    assert record["failed_stage"] == "connect" and "refused" in record["error"].lower()
    assert record["certificates"][x509.fingerprint(world["leaf"].cert)] == {
        "serial": x509.serial_hex(world["leaf"].cert.serial_number),
        "revoked": None,
    }


# ------------------------------------------------------------------------------------------------------------
# the CRL's scope (RFC 5280 5.2.4, 5.2.5): a CRL that does not cover the leaf cannot say it is not revoked

URL = "http://crl.example.test/int.crl"


def _idp(**kw):
    fields = {
        "full_name": None,
        "relative_name": None,
        "only_contains_user_certs": False,
        "only_contains_ca_certs": False,
        "only_some_reasons": None,
        "indirect_crl": False,
        "only_contains_attribute_certs": False,
    }
    fields.update(kw)
    return cx509.IssuingDistributionPoint(**fields)


@pytest.mark.parametrize(
    ("extension", "says"),
    [
        (cx509.DeltaCRLIndicator(7), "the CRL is a delta CRL"),
        (_idp(only_contains_ca_certs=True), "the CRL covers only CA certificates"),
        (_idp(only_contains_attribute_certs=True), "the CRL covers only attribute certificates"),
        (
            _idp(only_some_reasons=frozenset([cx509.ReasonFlags.key_compromise])),
            "the CRL covers only some revocation reasons (key_compromise)",
        ),
        (_idp(indirect_crl=True), "the CRL is an indirect CRL"),
        (
            _idp(full_name=[cx509.UniformResourceIdentifier("http://crl.example.test/shard-2.crl")]),
            "the CRL's issuing distribution point is http://crl.example.test/shard-2.crl",
        ),
    ],
)
def test_a_crl_of_another_scope_is_not_used_to_say_not_revoked(world, extension, says):
    body = world["pki"].crl(world["inter"], revoked=[world["other"]], extensions=[(extension, True)])
    verdict = judge(world, body, url=URL)
    assert verdict["valid"] is False and verdict["signature_valid"] is True
    assert verdict["error"].startswith(says), verdict["error"]
    assert verdict["problems"] == [verdict["error"]]
    assert verdict["certificates"] == {}  # nothing looked up: not "not revoked"


@pytest.mark.parametrize(
    "extension",
    [
        _idp(only_contains_user_certs=True),
        _idp(full_name=[cx509.UniformResourceIdentifier(URL)], only_contains_user_certs=True),
        # the IDP names the same point as the certificate's DP (here its LDAP name): the names match
        _idp(full_name=[cx509.UniformResourceIdentifier("ldap://crl.example.test/x")]),
        # a URI's scheme and host are not case sensitive: the same point
        _idp(full_name=[cx509.UniformResourceIdentifier(URL.replace("http://crl.example", "HTTP://CRL.Example"))]),
        # and a scheme's default port is the same as none
        _idp(full_name=[cx509.UniformResourceIdentifier(URL.replace(".test/", ".test:80/"))]),
    ],
)
def test_a_crl_whose_scope_covers_the_leaf_is_used(world, extension):
    body = world["pki"].crl(world["inter"], revoked=[world["other"]], extensions=[(extension, True)])
    verdict = judge(world, body, url=URL)
    assert verdict["valid"] is True and verdict["error"] is None
    assert verdict["certificates"][x509.fingerprint(world["leaf"].cert)]["revoked"] is False
    assert verdict["certificates"][x509.fingerprint(world["other"].cert)]["revoked"] is True


def test_a_critical_extension_not_understood_makes_the_crl_unusable(world):
    unknown = cx509.UnrecognizedExtension(cx509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    body = world["pki"].crl(world["inter"], extensions=[(unknown, True)])
    verdict = judge(world, body, url=URL)
    assert verdict["valid"] is False and "critical extension" in verdict["error"]
    assert "1.3.6.1.4.1.55555.1" in verdict["error"]
    body = world["pki"].crl(world["inter"], extensions=[(unknown, False)])
    assert judge(world, body, url=URL)["valid"] is True


# ------------------------------------------------------------------------------------------------------------
# a CRL without nextUpdate (RFC 5280 5.1.2.5 requires it of conforming CAs)


def test_a_crl_without_next_update_is_current_only_for_a_while_after_this_update(world):
    now = world["pki"].now
    recent = world["pki"].crl_without_next_update(world["inter"], now - datetime.timedelta(days=2))
    verdict = judge(world, recent, now=now)
    assert verdict["valid"] is True and verdict["fresh"] is True and verdict["next_update"] is None
    assert any("no nextUpdate" in p for p in verdict["problems"])
    old = world["pki"].crl_without_next_update(
        world["inter"], now - datetime.timedelta(days=crl.MAX_AGE_WITHOUT_NEXT_UPDATE_DAYS + 1)
    )
    verdict = judge(world, old, now=now)
    assert verdict["valid"] is True and verdict["fresh"] is False
    assert any("no nextUpdate" in p and "days old" in p for p in verdict["problems"])
    assert verdict["certificates"][x509.fingerprint(world["leaf"].cert)]["revoked"] is False


def test_a_certificate_judged_again_against_a_fetched_crl_keeps_the_audits_clock_skew(world, monkeypatch):
    """audit._judge_again: a certificate whose responders failed, looked up in a CRL body already read."""
    url = "http://crl.example.test/int.crl"
    body = world["pki"].crl(world["inter"], revoked=[world["other"]])
    seen = []
    real = crl.judge

    def spy(*args, **kw):
        seen.append(kw.get("skew_seconds"))
        return real(*args, **kw)

    monkeypatch.setattr(crl, "judge", spy)
    records = {url: {"certificates": {x509.fingerprint(world["leaf"].cert): {"revoked": False}}}}
    fetched = {url: (world["inter"].cert, [world["leaf"].cert])}
    wanted = {url: (world["inter"].cert, [world["other"].cert])}
    audit._judge_again(records, {url: body}, fetched, wanted, skew_seconds=7)
    assert seen == [7]
    assert records[url]["certificates"][x509.fingerprint(world["other"].cert)]["revoked"] is True
    assert records[url]["certificates"][x509.fingerprint(world["leaf"].cert)]["revoked"] is False


@pytest.mark.parametrize("named", ["http://[bad/int.crl", "http://crl.example.test:99999/int.crl", "not a uri"])
def test_a_distribution_point_that_does_not_parse_is_compared_as_it_is_never_a_crash(world, named):
    """A hostile CA's names: the CRL is judged, the name only fails to match (another shard: crl_invalid)."""
    point = _idp(full_name=[cx509.UniformResourceIdentifier(named)])
    body = world["pki"].crl(world["inter"], extensions=[(point, True)])
    verdict = judge(world, body, url=URL)
    assert verdict["valid"] is False and "issuing distribution point" in verdict["error"]
    assert crl._comparable(cx509.UniformResourceIdentifier(named)) == cx509.UniformResourceIdentifier(named)
    # the other way round: the certificate names a bad URI beside the good one, the fetched URL still matches
    assert crl._comparable(cx509.UniformResourceIdentifier("http://u:P@Crl.test:8080/a")) == (
        "uri",
        "http://u:P@crl.test:8080/a",
    )
