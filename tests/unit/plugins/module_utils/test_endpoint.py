# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""endpoint.py: judging what a handshake brought back (chain bytes and staple bytes)."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import endpoint, tls_probe


@pytest.fixture
def site(pki):
    root, (intermediate,), leaf = pki.chain(kind="ec", depth=1)
    return root, intermediate, leaf


def _handshake(chain, staple=None, protocol="TLSv1.3"):
    return tls_probe.Handshake(protocol_requested=protocol, ok=True, protocol=protocol, chain_der=chain, staple=staple)


def test_good_staple_with_full_chain(pki, site):
    root, intermediate, leaf = site
    report = endpoint.judge_handshake(
        _handshake([leaf.der, intermediate.der], pki.ocsp_response(leaf, intermediate)), anchors=[root.cert]
    )
    assert report["staple"]["good"] and report["staple"]["signer"] == "issuer"
    assert report["chain"]["complete"] and report["chain"]["order_ok"]
    assert [c["sha256"] for c in report["presented"]] == [
        report["chain"]["leaf"]["sha256"],
        report["chain"]["issuer"]["sha256"],
    ]
    assert endpoint.staple_state(report) == "good"


def test_staple_for_leaf_only_chain_is_validated_with_the_pool(pki, site):
    root, intermediate, leaf = site
    staple = pki.ocsp_response(leaf, intermediate)
    without_pool = endpoint.judge_handshake(_handshake([leaf.der], staple), anchors=[root.cert])
    assert without_pool["staple"] is None
    assert "issuer of" in without_pool["staple_error"]
    assert endpoint.staple_state(without_pool) == "invalid"
    assert without_pool["chain"]["missing_issuer"] == intermediate.subject

    with_pool = endpoint.judge_handshake(_handshake([leaf.der], staple), pool=[intermediate.cert], anchors=[root.cert])
    assert with_pool["staple"]["good"]
    assert with_pool["chain"]["issuer_found_in"] == "pool"


def test_expired_staple_is_expired_not_invalid(pki, site):
    _root, intermediate, leaf = site
    now = pki.now
    staple = pki.ocsp_response(
        leaf,
        intermediate,
        this_update=now - datetime.timedelta(days=3),
        next_update=now - datetime.timedelta(hours=2),
    )
    report = endpoint.judge_handshake(_handshake([leaf.der, intermediate.der], staple))
    assert not report["staple"]["valid"]
    assert endpoint.staple_state(report) == "expired"


def test_forged_staple_is_invalid(pki, site):
    _root, intermediate, leaf = site
    impostor = pki.root(cn="Not The CA")
    staple = pki.ocsp_response(leaf, intermediate, signing_key=impostor.key)
    report = endpoint.judge_handshake(_handshake([leaf.der, intermediate.der], staple))
    assert not report["staple"]["signature_valid"]
    assert endpoint.staple_state(report) == "invalid"


def test_revoked_and_garbage_staples(pki, site):
    _root, intermediate, leaf = site
    revoked = endpoint.judge_handshake(
        _handshake([leaf.der, intermediate.der], pki.ocsp_response(leaf, intermediate, status="revoked"))
    )
    assert endpoint.staple_state(revoked) == "revoked"
    garbage = endpoint.judge_handshake(_handshake([leaf.der, intermediate.der], b"\x30\x03garbage"))
    assert garbage["staple"] is None and garbage["staple_error"]
    assert endpoint.staple_state(garbage) == "invalid"


def test_failed_handshake_and_warmup_decision(pki, site):
    _root, intermediate, leaf = site
    failed = tls_probe.Handshake(protocol_requested="TLSv1.2", error="refused", error_stage="connect")
    assert endpoint.staple_state(endpoint.judge_handshake(failed)) == "unreachable"
    assert endpoint.wants_staple(_handshake([leaf.der]))
    no_url = pki.leaf(intermediate, cn="no-ocsp.test", ocsp_urls=[])
    assert not endpoint.wants_staple(_handshake([no_url.der]))
    assert not endpoint.wants_staple(failed)


def test_probe_summary_takes_the_worst_protocol(pki, site):
    _root, intermediate, leaf = site
    probe = tls_probe.EndpointProbe(endpoint=tls_probe.Endpoint("127.0.0.1", 443, "www.example.test"))
    probe.handshakes = {
        "TLSv1.3": _handshake([leaf.der, intermediate.der], pki.ocsp_response(leaf, intermediate)),
        "TLSv1.2": _handshake([leaf.der, intermediate.der], None, protocol="TLSv1.2"),
    }
    probe.attempts = {"TLSv1.3": 1, "TLSv1.2": 5}
    judged = endpoint.judge_probe(probe)
    assert judged["summary"]["staple_state"] == "none"
    assert judged["summary"]["staple_states"] == {"tls1_3": "good", "tls1_2": "none"}
    assert judged["protocols"]["tls1_2"]["handshakes_made"] == 5
    assert judged["leaf_sha256"] == judged["protocols"]["tls1_3"]["presented"][0]["sha256"]
    assert judged["summary"]["seconds_left"] > 0
