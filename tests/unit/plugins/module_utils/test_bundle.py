# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import random

import pytest
from cryptography.hazmat.primitives import serialization

from ansible_collections.tlsfleet.stapling.plugins.module_utils import bundle
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, TlsfleetError
from ansible_collections.tlsfleet.stapling.tests.unit.pki import _name, make_key


def subjects(certs):
    return [cert.subject.rfc4514_string() for cert in certs]


def pooled(*items, source="pool"):
    return [(item.cert, source) for item in items]


@pytest.fixture
def two_level(pki):
    """root -> int1 -> int2 -> leaf"""
    root, (int1, int2), leaf = pki.chain(depth=2)
    return root, int1, int2, leaf


# ---------------------------------------------------------------------------------------------
# ordering


@pytest.mark.parametrize("seed", range(5))
def test_shuffled_pool_with_duplicates_and_unrelated(pki, two_level, seed):
    root, int1, int2, leaf = two_level
    stranger_root, (stranger_int,), _stranger_leaf = pki.chain()
    pool = pooled(int1, int2, root, int1, int2, stranger_int, stranger_root, leaf)
    random.Random(seed).shuffle(pool)  # noqa: S311 (a reproducible shuffle, not a secret)
    result = bundle.build_bundle(leaf.cert, pool, [])
    assert result.intermediates == [int2.cert, int1.cert]
    assert result.root == root.cert
    assert result.fullchain() == [leaf.cert, int2.cert, int1.cert]
    assert result.chain() == [int2.cert, int1.cert]
    assert result.trusted() == [int2.cert, int1.cert, root.cert]
    assert sorted(subjects(cert for cert, _source in result.ignored)) == sorted(
        [stranger_int.subject, stranger_root.subject]
    )
    assert result.duplicates == 2
    ignored_warnings = [text for text in result.warnings if text.startswith("ignored ")]
    assert len(ignored_warnings) == 2
    assert all("not on the issuer path" in text for text in ignored_warnings)


def test_root_from_anchors_is_not_reported_as_ignored(pki, two_level):
    root, int1, int2, leaf = two_level
    unrelated_anchor = pki.root(cn="Some Other Root")
    result = bundle.build_bundle(leaf.cert, pooled(int1, int2), [unrelated_anchor.cert, root.cert])
    assert result.root == root.cert
    assert result.intermediates == [int2.cert, int1.cert]
    assert result.ignored == []
    assert result.warnings == []


def test_leaf_issued_by_root_directly(pki):
    root = pki.root()
    leaf = pki.leaf(root)
    result = bundle.build_bundle(leaf.cert, [], [root.cert])
    assert result.intermediates == []
    assert result.chain() == []
    assert result.chain(include_root=True) == [root.cert]
    assert result.trusted() == [root.cert]


def test_include_root(two_level):
    root, int1, int2, leaf = two_level
    result = bundle.build_bundle(leaf.cert, pooled(int2, int1, root), [])
    assert result.fullchain(include_root=True) == [leaf.cert, int2.cert, int1.cert, root.cert]
    assert result.chain(include_root=True) == [int2.cert, int1.cert, root.cert]
    assert root.cert not in result.fullchain()


def test_same_name_other_key_is_skipped_by_signature(pki):
    root, (real,), leaf = pki.chain()
    impostor = pki.intermediate(root, cn="tlsfleet Test Intermediate 1")
    assert impostor.cert.subject == real.cert.subject
    result = bundle.build_bundle(leaf.cert, pooled(impostor, real), [root.cert])
    assert result.intermediates == [real.cert]
    assert [cert for cert, _source in result.ignored] == [impostor.cert]


def test_same_name_other_key_alone_is_named_in_the_error(pki):
    root, (_real,), leaf = pki.chain()
    impostor = pki.intermediate(root, cn="tlsfleet Test Intermediate 1")
    with pytest.raises(InputError) as err:
        bundle.build_bundle(leaf.cert, pooled(impostor, source="intermediate file /x.pem"), [root.cert])
    message = str(err.value)
    assert message.startswith(f"no issuer for '{leaf.subject}'")
    assert "has the right name but did not sign it" in message
    assert "intermediate file /x.pem" in message


def _cross_signed(pki):
    """int_a (by root_a) and int_b (same name and key, by root_b); leaf issued by that key."""
    root_a = pki.root(cn="Root A")
    root_b = pki.root(cn="Root B")
    int_a = pki.intermediate(root_a, cn="Cross Int")
    int_b = pki._build(int_a.cert.subject, int_a.key, root_b, ca=True)
    leaf = pki.leaf(int_a)
    return root_a, root_b, int_a, int_b, leaf


@pytest.mark.parametrize("anchor", ["a", "b"])
def test_cross_signed_issuer_follows_the_known_root(pki, anchor):
    root_a, root_b, int_a, int_b, leaf = _cross_signed(pki)
    anchors = [root_a.cert] if anchor == "a" else [root_b.cert]
    result = bundle.build_bundle(leaf.cert, pooled(int_a, int_b), anchors)
    expected = int_a if anchor == "a" else int_b
    assert result.intermediates == [expected.cert]
    assert result.root == anchors[0]


def test_loop_of_cross_signatures_terminates(pki):
    key_x, key_y = make_key(), make_key()
    x_self = pki._build(_name("X"), key_x, None, ca=True)
    y_self = pki._build(_name("Y"), key_y, None, ca=True)
    x_by_y = pki._build(x_self.cert.subject, key_x, y_self, ca=True)
    y_by_x = pki._build(y_self.cert.subject, key_y, x_self, ca=True)
    leaf = pki.leaf(x_by_y)
    with pytest.raises(InputError) as err:
        bundle.build_bundle(leaf.cert, pooled(x_by_y, y_by_x), [])
    assert "no issuer for" in str(err.value)
    partial = bundle.build_bundle(leaf.cert, pooled(x_by_y, y_by_x), [], require_root=False)
    assert partial.intermediates == [x_by_y.cert, y_by_x.cert]
    assert partial.root is None
    # with the self-signed X known, the path ends there
    complete = bundle.build_bundle(leaf.cert, pooled(x_by_y, y_by_x), [x_self.cert])
    assert complete.root == x_self.cert
    assert complete.intermediates == []


def test_non_ca_certificate_cannot_issue(pki):
    root, (inter,), leaf = pki.chain()
    fake = pki._build(inter.cert.subject, inter.key, root, ca=False)
    with pytest.raises(InputError) as err:
        bundle.build_bundle(leaf.cert, pooled(fake), [root.cert])
    assert "is not a CA certificate" in str(err.value)
    # with the real CA certificate present, the non-CA one is ignored
    result = bundle.build_bundle(leaf.cert, pooled(fake, inter), [root.cert])
    assert result.intermediates == [inter.cert]


def test_missing_leaf_issuer_message(two_level):
    root, int1, _int2, leaf = two_level
    with pytest.raises(InputError) as err:
        bundle.build_bundle(leaf.cert, pooled(int1, root), [])
    message = str(err.value)
    assert message.startswith(f"no issuer for '{leaf.subject}' (issued by 'CN=tlsfleet Test Intermediate 2")
    assert "set fetch_issuers=true to download it from http://ca.example.test/int.der" in message
    assert "require_root" not in message


def test_missing_root_and_require_root(two_level):
    _root, int1, int2, leaf = two_level
    with pytest.raises(InputError) as err:
        bundle.build_bundle(leaf.cert, pooled(int1, int2), [])
    assert f"no issuer for '{int1.subject}'" in str(err.value)
    assert "require_root=false" in str(err.value)
    result = bundle.build_bundle(leaf.cert, pooled(int1, int2), [], require_root=False)
    assert result.intermediates == [int2.cert, int1.cert]
    assert result.root is None
    assert result.trusted() == [int2.cert, int1.cert]
    assert any("holds no root" in text for text in result.warnings)
    with pytest.raises(InputError, match="include_root is set, but no root was found"):
        result.chain(include_root=True)


def test_self_signed_leaf_is_refused(pki):
    root = pki.root()
    with pytest.raises(InputError, match="is self-signed"):
        bundle.build_bundle(root.cert, [], [])


def test_expired_intermediate_is_warned(pki):
    root = pki.root()
    old = pki.now - datetime.timedelta(days=400)
    inter = pki.intermediate(root, not_before=old, not_after=pki.now - datetime.timedelta(days=1))
    leaf = pki.leaf(inter)
    result = bundle.build_bundle(leaf.cert, pooled(inter), [root.cert])
    assert any(text.startswith(f"'{inter.subject}' expired on") for text in result.warnings)


def test_verify_links(two_level):
    root, int1, int2, leaf = two_level
    bundle.verify_links([leaf.cert, int2.cert, int1.cert, root.cert])
    with pytest.raises(TlsfleetError, match="is not issued by"):
        bundle.verify_links([leaf.cert, int1.cert, int2.cert])


# ---------------------------------------------------------------------------------------------
# fetching


def test_fetch_follows_ca_issuers_urls(pki):
    root = pki.root()
    inter = pki.intermediate(root, ca_issuers_urls=["http://ca.test/root.der"])
    leaf = pki.leaf(inter, ca_issuers_urls=["ldap://ca.test/int", "http://ca.test/int.der"])
    served = {"http://ca.test/int.der": inter.der, "http://ca.test/root.der": root.pem}
    calls = []

    def fetch(url):
        calls.append(url)
        return served[url]

    result = bundle.build_bundle(leaf.cert, [], [], fetch=fetch)
    assert calls == ["http://ca.test/int.der", "http://ca.test/root.der"]
    assert result.fetched == calls
    assert result.intermediates == [inter.cert]
    assert result.root == root.cert
    assert result.ignored == []


def test_fetch_failure_is_reported(pki):
    root, (_inter,), leaf = pki.chain()

    def fetch(url):
        raise TlsfleetError("HTTP 404 Not Found")

    with pytest.raises(InputError) as err:
        bundle.build_bundle(leaf.cert, [], [root.cert], fetch=fetch)
    message = str(err.value)
    assert f"no issuer for '{leaf.subject}'" in message
    assert "fetching http://ca.example.test/int.der failed: HTTP 404 Not Found" in message


def test_fetch_stops_when_nothing_new_arrives(pki):
    root, (_inter,), leaf = pki.chain()
    unrelated = pki.root(cn="Unrelated")
    calls = []

    def fetch(url):
        calls.append(url)
        return unrelated.der

    with pytest.raises(InputError) as err:
        bundle.build_bundle(leaf.cert, [], [root.cert], fetch=fetch)
    assert f"http://ca.example.test/int.der served '{unrelated.subject}', which did not issue '{leaf.subject}'" in str(
        err.value
    )
    assert calls == ["http://ca.example.test/int.der"]  # one download, never a loop


def test_parse_issuer_answer_formats(pki):
    root, (inter,), _leaf = pki.chain()
    assert bundle.parse_issuer_answer(inter.der, "answer") == [inter.cert]
    assert bundle.parse_issuer_answer(inter.pem + root.pem, "answer") == [inter.cert, root.cert]
    pkcs7 = pytest.importorskip("cryptography.hazmat.primitives.serialization.pkcs7")
    if not hasattr(pkcs7, "serialize_certificates"):
        pytest.skip("cryptography too old to build PKCS#7 bundles")
    der = pkcs7.serialize_certificates([inter.cert, root.cert], serialization.Encoding.DER)
    assert set(bundle.parse_issuer_answer(der, "answer")) == {inter.cert, root.cert}
    pem = pkcs7.serialize_certificates([inter.cert], serialization.Encoding.PEM)
    assert bundle.parse_issuer_answer(pem, "answer") == [inter.cert]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "is empty"),
        (b"<html><body>Not found</body></html>", "is an HTML page"),
        (b"-----BEGIN CERTIFICATE-----\nMIIB", "without a matching"),
    ],
)
def test_parse_issuer_answer_garbage(data, expected):
    with pytest.raises(InputError, match=expected):
        bundle.parse_issuer_answer(data, "the caIssuers answer from http://x")


def test_parse_issuer_answer_truncated_der(pki):
    _root, (inter,), _leaf = pki.chain()
    with pytest.raises(InputError) as err:
        bundle.parse_issuer_answer(inter.der[:100], "the caIssuers answer from http://x")
    assert str(err.value).startswith("the caIssuers answer from http://x is neither")


# ---------------------------------------------------------------------------------------------
# keys and anchors


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_key_matches(pki, tmp_path, kind):
    root = pki.root()
    leaf = pki.leaf(root, kind=kind)
    other = pki.leaf(root, kind="rsa" if kind == "ec" else "ec")
    same_type_other = pki.leaf(root, kind=kind)
    good = tmp_path / "good.key"
    good.write_bytes(leaf.key_pem())
    assert bundle.key_matches(leaf.cert, str(good)) is True
    for index, wrong in enumerate((other, same_type_other)):
        path = tmp_path / f"wrong{index}.key"
        path.write_bytes(wrong.key_pem())
        assert bundle.key_matches(leaf.cert, str(path)) is False


def test_encrypted_key_is_refused_without_echoing_it(pki, tmp_path):
    leaf = pki.leaf(pki.root())
    pem = leaf.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret-pass"),
    )
    path = tmp_path / "enc.key"
    path.write_bytes(pem)
    with pytest.raises(InputError) as err:
        bundle.key_matches(leaf.cert, str(path))
    message = str(err.value)
    assert "the key is encrypted" in message
    assert "PRIVATE KEY" not in message and pem.decode()[40:80] not in message


def test_damaged_key_message_names_the_file_only(pki, tmp_path):
    leaf = pki.leaf(pki.root())
    pem = leaf.key_pem()
    damaged = pem[:60] + b"AAAA" + pem[64:]
    path = tmp_path / "bad.key"
    path.write_bytes(damaged)
    with pytest.raises(InputError) as err:
        bundle.key_matches(leaf.cert, str(path))
    assert str(path) in str(err.value)
    assert damaged.decode()[30:70] not in str(err.value)


def test_key_file_missing(tmp_path, pki):
    leaf = pki.leaf(pki.root())
    with pytest.raises(InputError, match="does not exist"):
        bundle.key_matches(leaf.cert, str(tmp_path / "nope.key"))


def test_load_trust_anchors(pki, tmp_path):
    root = pki.root()
    path = tmp_path / "roots.pem"
    path.write_bytes(root.pem)
    anchors, paths = bundle.load_trust_anchors([str(path)])
    assert anchors == [root.cert] and paths == [str(path)]
    with pytest.raises(InputError, match=r"trust anchor file .* does not exist"):
        bundle.load_trust_anchors([str(tmp_path / "missing.pem")])


def test_summary_line_has_no_pem(two_level):
    _root, _int1, int2, _leaf = two_level
    line = bundle.summary_line(int2.cert)
    assert line.startswith(f"subject={int2.subject} | issuer=CN=tlsfleet Test Intermediate 1")
    assert "sha256=" in line and "notAfter=" in line
    assert "BEGIN" not in line and "\n" not in line


def test_system_bundle_skips_unloadable_roots(pki, tmp_path, monkeypatch):
    root = pki.root()
    broken = b"-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n"
    system = tmp_path / "ca-certificates.crt"
    system.write_bytes(broken + root.pem)
    monkeypatch.setattr(bundle, "SYSTEM_CA_BUNDLES", (str(tmp_path / "absent.crt"), str(system)))
    anchors, paths = bundle.load_trust_anchors([])
    assert anchors == [root.cert]
    assert paths == [str(system)]
    # a file named explicitly must be fully usable
    with pytest.raises(InputError, match="PEM block 1"):
        bundle.load_trust_anchors([str(system)])
    monkeypatch.setattr(bundle, "SYSTEM_CA_BUNDLES", (str(tmp_path / "absent.crt"),))
    assert bundle.load_trust_anchors([]) == ([], [])


def test_partial_chain_keeps_fetch_notes_as_warnings(two_level):
    _root, int1, int2, leaf = two_level

    def fetch(url):
        raise TlsfleetError("timed out")

    result = bundle.build_bundle(leaf.cert, pooled(int2, int1), [], fetch=fetch, require_root=False)
    assert result.intermediates == [int2.cert, int1.cert]
    assert "while looking for the root: fetching http://ca.root.test/root.der failed: timed out." in result.warnings
