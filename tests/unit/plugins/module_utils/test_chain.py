# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import chain
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError

HAS_VERIFICATION = chain._verification is not None


def subjects(infos):
    return [info.subject for info in infos]


@pytest.fixture
def two_level(pki):
    """root -> int1 -> int2 -> leaf"""
    root, (int1, int2), leaf = pki.chain(depth=2)
    return root, int1, int2, leaf


def test_correct_order(pki):
    root, (inter,), leaf = pki.chain()
    report = chain.analyze_chain([leaf.cert, inter.cert], anchors=[root.cert])
    assert report.order_ok is True
    assert report.complete is True
    assert report.presented_complete is True
    assert report.anchored is True
    assert report.missing_issuer is None
    assert report.extra == []
    assert report.duplicates == []
    assert report.root_sent is False
    assert report.leaf.subject == leaf.subject
    assert report.issuer.subject == inter.subject
    assert report.issuer_found_in == "presented"
    assert report.issuer_certificate == inter.cert
    assert subjects(report.path) == [leaf.subject, inter.subject, root.subject]
    assert report.path_sources == ["presented", "presented", "anchors"]
    assert report.ordered == [leaf.cert, inter.cert]
    assert report.problems == []
    assert report.path_validated is (True if HAS_VERIFICATION else None)
    json.dumps(report.to_dict())
    assert "ordered" not in report.to_dict()


def test_no_anchors_needs_a_root(pki):
    root, (inter,), leaf = pki.chain()
    report = chain.analyze_chain([leaf.cert, inter.cert])
    assert report.complete is False
    assert report.anchored is None
    assert report.path_validated is None
    assert report.missing_issuer == root.subject
    assert report.missing_issuer_of == inter.subject
    report = chain.analyze_chain([leaf.cert, inter.cert], pool=[root.cert])
    assert report.complete is True
    assert report.presented_complete is True  # a root is never needed from the server
    assert report.problems == []


def test_reversed_intermediates(two_level):
    root, int1, int2, leaf = two_level
    report = chain.analyze_chain([leaf.cert, int1.cert, int2.cert], anchors=[root.cert])
    assert report.order_ok is False
    assert report.complete is True
    assert report.extra == []
    assert report.ordered == [leaf.cert, int2.cert, int1.cert]
    assert any("out of order" in p for p in report.problems)


def test_fully_reversed_bundle(pki):
    root, (inter,), leaf = pki.chain()
    report = chain.analyze_chain([inter.cert, leaf.cert], anchors=[root.cert])
    assert report.order_ok is False
    assert report.leaf.subject == inter.subject  # the first certificate is the leaf, by definition
    assert any("looks reversed" in p for p in report.problems)


def test_middle_intermediate_missing(two_level):
    root, int1, int2, leaf = two_level
    report = chain.analyze_chain([leaf.cert, int2.cert], anchors=[root.cert])
    assert report.complete is False
    assert report.order_ok is True
    assert report.missing_issuer == int1.subject
    assert report.missing_issuer_of == int2.subject
    assert report.issuer.subject == int2.subject
    assert report.anchored is False
    assert any(f"the issuer '{int1.subject}' of '{int2.subject}'" in p for p in report.problems)
    if HAS_VERIFICATION:
        assert report.path_validated is False
        assert report.path_validation_error


def test_leaf_issuer_missing(two_level):
    root, int1, _int2, leaf = two_level
    report = chain.analyze_chain([leaf.cert, int1.cert], anchors=[root.cert])
    assert report.complete is False
    assert report.issuer is None
    assert report.issuer_found_in is None
    assert report.missing_issuer_of == leaf.subject
    assert report.missing_issuer == leaf.cert.issuer.rfc4514_string()
    assert subjects(report.extra) == [int1.subject]


def test_pool_completes_the_chain(two_level):
    root, int1, int2, leaf = two_level
    report = chain.analyze_chain([leaf.cert, int2.cert], pool=[int1.cert], anchors=[root.cert])
    assert report.complete is True
    assert report.presented_complete is False
    assert report.path_sources == ["presented", "presented", "pool", "anchors"]
    assert any(f"the intermediate '{int1.subject}' is needed" in p for p in report.problems)
    report = chain.analyze_chain([leaf.cert], pool=[int1.cert, int2.cert], anchors=[root.cert])
    assert report.issuer_found_in == "pool"
    assert report.issuer.subject == int2.subject
    assert report.ordered == [leaf.cert, int2.cert, int1.cert]
    if HAS_VERIFICATION:
        assert report.path_validated is True


def test_duplicates(pki):
    root, (inter,), leaf = pki.chain()
    report = chain.analyze_chain([leaf.cert, inter.cert, inter.cert], anchors=[root.cert])
    assert subjects(report.duplicates) == [inter.subject]
    assert report.order_ok is True
    assert report.complete is True
    assert report.extra == []
    assert any("more than once" in p for p in report.problems)


def test_unrelated_extra(pki):
    root, (inter,), leaf = pki.chain()
    other_root, (other_inter,), _leaf = pki.chain()
    report = chain.analyze_chain([leaf.cert, inter.cert, other_inter.cert], anchors=[root.cert, other_root.cert])
    assert [info.sha256 for info in report.extra] == [chain.fingerprint(other_inter.cert)]
    assert report.complete is True
    assert report.order_ok is True
    assert any("is not part of the chain" in p for p in report.problems)


def test_root_sent(pki):
    root, (inter,), leaf = pki.chain()
    report = chain.analyze_chain([leaf.cert, inter.cert, root.cert], anchors=[root.cert])
    assert report.root_sent is True
    assert report.complete is True
    assert report.anchored is True
    assert report.path_sources[-1] == "presented"
    assert report.ordered == [leaf.cert, inter.cert]
    assert any("self-signed root" in p for p in report.problems)


def test_root_not_trusted(pki):
    root, (inter,), leaf = pki.chain()
    other_root = pki.root(cn="Another Root")
    report = chain.analyze_chain([leaf.cert, inter.cert, root.cert], anchors=[other_root.cert])
    assert report.complete is True
    assert report.anchored is False
    assert any("not a trusted root" in p for p in report.problems)
    if HAS_VERIFICATION:
        assert report.path_validated is False


def test_self_signed_leaf(pki):
    root = pki.root()
    report = chain.analyze_chain([root.cert])
    assert report.complete is True
    assert report.issuer is None
    assert report.ordered == [root.cert]
    assert any("is self-signed" in p for p in report.problems)


def test_expired_leaf(pki):
    root, (inter,), _leaf = pki.chain()
    leaf = pki.leaf(
        inter,
        not_before=pki.now - datetime.timedelta(days=90),
        not_after=pki.now - datetime.timedelta(days=1),
    )
    report = chain.analyze_chain([leaf.cert, inter.cert], anchors=[root.cert])
    assert any("expired on" in p for p in report.problems)
    if HAS_VERIFICATION:
        assert report.path_validated is False
    # judged in the past, it was fine
    report = chain.analyze_chain([leaf.cert, inter.cert], anchors=[root.cert], at=pki.now - datetime.timedelta(days=30))
    assert not any("expired" in p for p in report.problems)
    if HAS_VERIFICATION:
        assert report.path_validated is True


def test_cross_signed_anchor_by_key(pki):
    """A presented cross-signed intermediate whose subject and key are a trusted root counts as anchored."""
    old_root = pki.root(cn="Old Root")
    new_root = pki.root(cn="New Root")
    cross = pki._build(new_root.cert.subject, new_root.key, old_root, ca=True)
    inter = pki.intermediate(new_root)
    leaf = pki.leaf(inter)
    report = chain.analyze_chain([leaf.cert, inter.cert, cross.cert], anchors=[new_root.cert])
    assert report.complete is True
    assert report.anchored is True
    assert len(report.path) == 3


def test_empty_chain():
    with pytest.raises(InputError, match="the chain is empty"):
        chain.analyze_chain([])


def test_find_issuer(pki):
    root, (inter,), leaf = pki.chain()
    assert chain.find_issuer(leaf.cert, [root.cert, inter.cert]) == inter.cert
    assert chain.find_issuer(leaf.cert, [root.cert]) is None
