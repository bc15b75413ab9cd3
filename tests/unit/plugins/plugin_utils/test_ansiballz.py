# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugin_utils/ansiballz.py: the early import of zip_import goes into the wrapper ansible-core builds, exactly once
and only where the wrapper has the line expected; anything else leaves the payload as it is."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Optional

import pytest

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import ansiballz


@dataclasses.dataclass(frozen=True)
class Built:
    """The fields of ansible's _BuiltModule that early_zip_import reads."""

    b_module_data: bytes
    module_style: str = "new"
    shebang: Optional[str] = None


def wrapper_source() -> bytes:
    """The wrapper of the installed ansible-core, as module_common sends it (the function's source)."""
    module = pytest.importorskip("ansible._internal._ansiballz._wrapper")
    return inspect.getsource(module).encode()


def test_the_installed_wrapper_has_the_line_once():
    # When ansible-core changes its wrapper, this fails here first: the payload would still run, without the saving.
    assert wrapper_source().count(ansiballz.LOADER_IMPORT) == 1


def test_the_import_goes_right_before_the_loader_and_compiles():
    built = Built(b_module_data=wrapper_source())
    changed = ansiballz.early_zip_import(built)
    assert changed is not built and changed.module_style == "new"
    data = changed.b_module_data
    assert data.count(ansiballz.EARLY_IMPORT) == 1
    assert data.index(ansiballz.EARLY_IMPORT) + len(ansiballz.EARLY_IMPORT) == data.index(ansiballz.LOADER_IMPORT)
    compile(data, "wrapper", "exec")  # still Python, the indentation right
    # Once: a second pass (a retried build) leaves it as it is.
    assert ansiballz.early_zip_import(changed) is changed


@pytest.mark.parametrize(
    "built",
    [
        Built(b_module_data=b"#!/usr/bin/python\nprint('no wrapper')\n"),
        Built(b_module_data=ansiballz.LOADER_IMPORT * 2),
        Built(b_module_data=ansiballz.LOADER_IMPORT, module_style="old"),
        Built(b_module_data=ansiballz.LOADER_IMPORT, module_style="binary"),
    ],
    ids=["no-line", "line-twice", "old-style", "binary"],
)
def test_any_other_payload_is_left_as_it_is(built):
    assert ansiballz.early_zip_import(built) is built


def test_something_that_is_not_a_built_module_is_left_as_it_is():
    class Other:
        b_module_data = ansiballz.LOADER_IMPORT
        module_style = "new"

    other = Other()
    assert ansiballz.early_zip_import(other) is other
    assert ansiballz.early_zip_import(None) is None
