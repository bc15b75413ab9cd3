# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re

import pytest

from ansible_collections.tlsfleet.stapling.plugins.doc_fragments.requirements import ModuleDocFragment
from ansible_collections.tlsfleet.stapling.plugins.module_utils import deps
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError, TlsfleetError


class FailJson(Exception):
    pass


class FakeModule:
    def __init__(self):
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise FailJson(kwargs["msg"])


def _fragment_versions(text):
    return dict(re.findall(r"^\s+- (cryptography|pyOpenSSL) >= (\S+)$", text, re.MULTILINE))


def test_doc_fragments_match_minimum_versions():
    assert _fragment_versions(ModuleDocFragment.CRYPTOGRAPHY) == {"cryptography": deps.MINIMUM_CRYPTOGRAPHY_VERSION}
    assert _fragment_versions(ModuleDocFragment.PYOPENSSL) == {
        "cryptography": deps.MINIMUM_CRYPTOGRAPHY_VERSION,
        "pyOpenSSL": deps.MINIMUM_PYOPENSSL_VERSION,
    }


def test_installed_versions_satisfy_the_floor():
    assert deps.HAS_CRYPTOGRAPHY
    assert deps.cryptography_problem() is None
    module = FakeModule()
    deps.require_cryptography(module)
    assert module.failed is None


def test_require_cryptography_too_old():
    module = FakeModule()
    with pytest.raises(FailJson, match=r"cryptography is too old: found .* need cryptography >= 999\.0"):
        deps.require_cryptography(module, minimum="999.0")


def test_require_cryptography_missing(monkeypatch):
    monkeypatch.setattr(deps, "HAS_CRYPTOGRAPHY", False)
    monkeypatch.setattr(deps, "CRYPTOGRAPHY_IMPORT_ERROR", "Traceback: ImportError")
    module = FakeModule()
    with pytest.raises(FailJson, match=r"cryptography >= 3\.4"):
        deps.require_cryptography(module)
    assert module.failed["exception"] == "Traceback: ImportError"
    assert "Failed to import the required Python library" in module.failed["msg"]


def test_require_pyopenssl():
    pytest.importorskip("OpenSSL")
    module = FakeModule()
    deps.require_pyopenssl(module)
    assert module.failed is None
    with pytest.raises(FailJson, match=r"pyOpenSSL is too old"):
        deps.require_pyopenssl(FakeModule(), minimum="999.0")


def test_require_pyopenssl_missing(monkeypatch):
    monkeypatch.setattr(deps, "_import_pyopenssl", lambda: (None, None, "Traceback: no OpenSSL"))
    module = FakeModule()
    with pytest.raises(FailJson, match=r"pyOpenSSL >= 21\.0\.0"):
        deps.require_pyopenssl(module)


def test_pyopenssl_has_the_stapling_api():
    """The staple handshake needs these; they must exist at the floor version."""
    ssl = pytest.importorskip("OpenSSL.SSL")
    assert hasattr(ssl.Context, "set_ocsp_client_callback")
    assert hasattr(ssl.Connection, "request_ocsp")
    assert hasattr(ssl.Connection, "get_peer_cert_chain")


def test_error_hierarchy():
    assert issubclass(InputError, TlsfleetError)
    assert issubclass(TlsfleetError, Exception)


@pytest.mark.parametrize(
    ("found", "minimum", "too_old"),
    [
        ("38.0.4", "3.4", False),  # numbers, not text: 38 > 3
        ("3.3.2", "3.4", True),
        ("41.0.0.dev1", "41.0", False),
        ("21.0.0", "21.0.0", False),
        ("20.0.1", "21.0.0", True),
        ("unknown", "3.4", True),  # a version with no number is not known to be enough
        (None, "3.4", False),  # missing is reported as missing, not as old
    ],
)
def test_version_comparison(found, minimum, too_old):
    assert deps._version_too_old(found, minimum) is too_old
