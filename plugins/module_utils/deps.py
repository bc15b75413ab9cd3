# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Optional Python dependencies of the collection and how modules report them.

The minimum versions below must be kept in sync with ``plugins/doc_fragments/requirements.py``
(a unit test checks that they are).

Verified: cryptography 3.4.8 (Ubuntu 22.04's python3-cryptography), 38.0.4 (Debian 12) and 50.0.2;
pyOpenSSL 21.0.0 (Ubuntu 22.04), 23.0.0 (Debian 12) and 26.4.0.
"""

from __future__ import annotations

import re
import traceback

from ansible.module_utils.basic import missing_required_lib

MINIMUM_CRYPTOGRAPHY_VERSION = "3.4"
MINIMUM_PYOPENSSL_VERSION = "21.0.0"

try:
    import cryptography
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_VERSION = None
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_VERSION = cryptography.__version__
    CRYPTOGRAPHY_IMPORT_ERROR = None


def _release(version: str) -> tuple:
    """The leading numbers of a version (``"41.0.0.dev1"`` -> ``(41, 0, 0)``), compared as a tuple.

    Not ansible's LooseVersion: its module compiles a regex and two classes on every module run, and these
    minimums are plain releases.
    """
    match = re.match(r"\d+(?:\.\d+)*", str(version).strip())
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def _version_too_old(found, minimum):
    return found is not None and _release(minimum) > _release(found)


def cryptography_problem(minimum: str = MINIMUM_CRYPTOGRAPHY_VERSION):
    """Return ``(message, traceback)`` when cryptography is missing or too old, else ``None``."""
    if not HAS_CRYPTOGRAPHY:
        return missing_required_lib(f"cryptography >= {minimum}"), CRYPTOGRAPHY_IMPORT_ERROR
    if _version_too_old(CRYPTOGRAPHY_VERSION, minimum):
        return (
            f"The Python library cryptography is too old: found {CRYPTOGRAPHY_VERSION} at "
            f"{getattr(cryptography, '__file__', '?')}, need cryptography >= {minimum}.",
            None,
        )
    return None


def _fail_on(module, problem) -> None:
    """Fail the module with ``problem`` = (message, traceback or None); do nothing when it is None."""
    if problem is None:
        return
    msg, exc = problem
    if exc:
        module.fail_json(msg=msg, exception=exc)
    module.fail_json(msg=msg)


def require_cryptography(module, minimum: str = MINIMUM_CRYPTOGRAPHY_VERSION) -> None:
    """Fail the module with a clear message when cryptography is missing or older than ``minimum``."""
    _fail_on(module, cryptography_problem(minimum))


def _import_pyopenssl():
    """Import pyOpenSSL lazily (only the modules that handshake need it); return (module, version, error)."""
    try:
        import OpenSSL  # noqa: PLC0415 (lazy on purpose: importing pyOpenSSL is slow and rarely needed)
        import OpenSSL.SSL  # noqa: PLC0415
    except ImportError:
        return None, None, traceback.format_exc()
    except Exception:  # a pyOpenSSL too old for the installed cryptography can raise anything
        return None, None, traceback.format_exc()
    return OpenSSL, OpenSSL.__version__, None


def pyopenssl_problem(minimum: str = MINIMUM_PYOPENSSL_VERSION):
    """Return ``(message, traceback)`` when pyOpenSSL is missing, broken or too old, else ``None``."""
    problem = cryptography_problem()
    if problem is not None:
        return problem
    mod, version, error = _import_pyopenssl()
    if mod is None:
        return missing_required_lib(f"pyOpenSSL >= {minimum}"), error
    if _version_too_old(version, minimum):
        return (
            f"The Python library pyOpenSSL is too old: found {version} at {getattr(mod, '__file__', '?')}, "
            f"need pyOpenSSL >= {minimum}.",
            None,
        )
    return None


def require_pyopenssl(module, minimum: str = MINIMUM_PYOPENSSL_VERSION) -> None:
    """Fail the module when pyOpenSSL (or the cryptography it needs) is missing or too old."""
    _fail_on(module, pyopenssl_problem(minimum))
