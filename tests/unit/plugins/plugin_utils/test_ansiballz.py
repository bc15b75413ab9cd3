# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugin_utils/ansiballz.py: the early import of zip_import goes into the wrapper ansible-core builds for node_audit,
exactly once and only where the wrapper has the lines expected; any other payload (ansible's async_wrapper, another
module, another wrapper) is left as it is. The patched wrapper, run, installs zip_import's finder before ansible's
code is imported, and still runs when its zip has no collection."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import io
import json
import os
import pathlib
import subprocess
import sys
import zipfile
from typing import Optional
from unittest import mock

import pytest

from ansible_collections.tlsfleet.stapling.plugins.action import node_audit as node_audit_action
from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import ansiballz

ROOT = pathlib.Path(__file__).resolve().parents[4]
FQN = "ansible_collections.tlsfleet.stapling.plugins.modules.node_audit"
# Marker look-alikes in a task's argument: repr() writes their line breaks as \n, so none may match.
TRICKY_PARAMS = json.dumps({"ANSIBLE_MODULE_ARGS": {"since": ansiballz.LOADER_IMPORT.decode() + "\nmodule_fqn='x',\n"}})

# ansible's loader, as a stand-in in the payload: it reports how the import went instead of running a module.
FAKE_LOADER = (
    r"""
import json, sys
def run_module(**kwargs):
    print(json.dumps({
        "first_finder": type(sys.meta_path[0]).__name__,
        "ansible_loader": type(sys.modules["ansible"].__spec__.loader).__name__,
        "loader_loader": type(sys.modules[__name__].__spec__.loader).__name__,
        "zip_import_file": getattr(sys.modules.get("%s"), "__file__", None),
    }))
    sys.exit(0)
"""
    % zip_import.__name__
)


@dataclasses.dataclass(frozen=True)
class Built:
    """The fields of ansible's _BuiltModule that early_zip_import reads."""

    b_module_data: bytes
    module_style: str = "new"
    shebang: Optional[str] = None


def wrapper(module_fqn: str = FQN, zip_data: bytes = b"", params: str = TRICKY_PARAMS) -> bytes:
    """A wrapper as the installed ansible-core's module_common writes it: its code, then the call with the arguments
    one per line, each written with repr()."""
    module_common = pytest.importorskip("ansible.executor.module_common")
    code = module_common._get_ansiballz_code("#!%s" % sys.executable)
    args = dict(
        ansible_module=module_fqn.rpartition(".")[2],
        module_fqn=module_fqn,
        profile="legacy",
        date_time=datetime.datetime(2026, 12, 5),
        rlimit_nofile=0,
        params=params,
        extensions={},
        zip_data=base64.b64encode(zip_data).decode(),
    )
    args_string = "\n".join(f"{key}={value!r}," for key, value in args.items())
    return f'{code}\n\n\nif __name__ == "__main__":\n    _ansiballz_main(\n{args_string}\n)\n'.encode()


def payload_zip(with_collection: bool) -> bytes:
    """A payload zip: ansible's packages with the stand-in loader, and the collection's zip_import (or not)."""
    extend = "from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n"
    files = {
        "ansible/__init__.py": extend,
        "ansible/module_utils/__init__.py": extend,
        "ansible/module_utils/_internal/__init__.py": "",
        "ansible/module_utils/_internal/_ansiballz/__init__.py": "",
        "ansible/module_utils/_internal/_ansiballz/_loader.py": FAKE_LOADER,
    }
    if with_collection:
        for package in ("", "/tlsfleet", "/tlsfleet/stapling", "/tlsfleet/stapling/plugins"):
            files["ansible_collections%s/__init__.py" % package] = ""
        files["ansible_collections/tlsfleet/stapling/plugins/module_utils/__init__.py"] = ""
        files["ansible_collections/tlsfleet/stapling/plugins/module_utils/zip_import.py"] = (
            ROOT / "plugins/module_utils/zip_import.py"
        ).read_text()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def run_wrapper(data: bytes, tmp_path: pathlib.Path) -> dict:
    script = tmp_path / "AnsiballZ_node_audit.py"
    script.write_bytes(data)
    # Only the payload's zip: no PYTHONPATH, so nothing of the collection or ansible comes from this checkout.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TLSFLEET_STAPLING_CODE_CACHE"] = "off"
    out = subprocess.run(
        [sys.executable, "-I", str(script)], cwd=tmp_path, capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_the_installed_wrapper_has_each_line_once():
    # When ansible-core changes its wrapper, this fails here first: the payload would still run, without the saving.
    data = wrapper()
    assert data.count(ansiballz.LOADER_IMPORT) == 1
    assert data.count(ansiballz.MODULE_LINE % b"node_audit") == 1


def test_the_import_goes_right_before_the_loader_and_compiles():
    built = Built(b_module_data=wrapper())
    changed = ansiballz.early_zip_import(built, "node_audit")
    assert changed is not built and changed.module_style == "new"
    data = changed.b_module_data
    assert data.count(ansiballz.EARLY_IMPORT) == 1
    assert data.index(ansiballz.EARLY_IMPORT) + len(ansiballz.EARLY_IMPORT) == data.index(ansiballz.LOADER_IMPORT)
    assert b"import %s\n" % zip_import.__name__.encode() in ansiballz.EARLY_IMPORT
    compile(data, "wrapper", "exec")  # still Python, the indentation right
    # Once: a second pass (a retried build) leaves it as it is.
    assert ansiballz.early_zip_import(changed, "node_audit") is changed


def test_the_patched_wrapper_installs_the_finder_before_ansibles_code(tmp_path):
    data = ansiballz.early_zip_import(Built(b_module_data=wrapper(zip_data=payload_zip(True))), "node_audit")
    found = run_wrapper(data.b_module_data, tmp_path)
    assert found["first_finder"] == "_ZipFinder"
    assert found["ansible_loader"] == found["loader_loader"] == "_CachingZipImporter"
    assert ".zip/ansible_collections/tlsfleet/stapling/plugins/module_utils/zip_import.py" in found["zip_import_file"]


def test_unpatched_ansibles_code_comes_first(tmp_path):
    found = run_wrapper(wrapper(zip_data=payload_zip(True)), tmp_path)
    assert found["ansible_loader"] == "zipimporter" and found["zip_import_file"] is None


def test_the_patched_wrapper_still_runs_without_the_collection_in_its_zip(tmp_path):
    data = ansiballz.early_zip_import(Built(b_module_data=wrapper(zip_data=payload_zip(False))), "node_audit")
    assert ansiballz.EARLY_IMPORT in data.b_module_data
    found = run_wrapper(data.b_module_data, tmp_path)
    assert found["ansible_loader"] == "zipimporter" and found["zip_import_file"] is None


@pytest.mark.parametrize(
    ("data", "style", "module"),
    [
        (b"#!/usr/bin/python\nprint('no wrapper')\n", "new", "node_audit"),
        (ansiballz.LOADER_IMPORT * 2 + ansiballz.MODULE_LINE % b"node_audit", "new", "node_audit"),
        (ansiballz.LOADER_IMPORT + ansiballz.MODULE_LINE % b"node_audit", "old", "node_audit"),
        (ansiballz.LOADER_IMPORT + ansiballz.MODULE_LINE % b"node_audit", "binary", "node_audit"),
        (None, "new", "node_audit"),  # ansible's async_wrapper, which the action builds for async: tasks
        (None, "new", "server_reload"),  # another module than the one named
    ],
    ids=["no-line", "line-twice", "old-style", "binary", "async-wrapper", "other-module"],
)
def test_any_other_payload_is_left_as_it_is(data, style, module):
    if data is None:
        data = wrapper("ansible.legacy.async_wrapper" if module == "node_audit" else FQN)
    built = Built(b_module_data=data, module_style=style)
    assert ansiballz.early_zip_import(built, module) is built


def test_something_that_is_not_a_built_module_is_left_as_it_is():
    class Other:
        b_module_data = ansiballz.LOADER_IMPORT + ansiballz.MODULE_LINE % b"node_audit"
        module_style = "new"

    other = Other()
    assert ansiballz.early_zip_import(other, "node_audit") is other
    assert ansiballz.early_zip_import(None, "node_audit") is None


def test_node_audits_action_patches_its_own_payload_only():
    action = object.__new__(node_audit_action.ActionModule)
    built = {"node_audit": Built(b_module_data=wrapper()), "async": Built(b_module_data=wrapper("x.y.async_wrapper"))}
    base = "ansible.plugins.action.ActionBase._configure_module"
    with mock.patch(base, return_value=(built["node_audit"], "/path/node_audit.py")):
        changed, path = action._configure_module("tlsfleet.stapling.node_audit", {}, {})
    assert path == "/path/node_audit.py" and ansiballz.EARLY_IMPORT in changed.b_module_data
    with mock.patch(base, return_value=(built["async"], "/path/async_wrapper.py")):
        unchanged, _path = action._configure_module("ansible.legacy.async_wrapper", {}, {})
    assert unchanged is built["async"]
