# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""zip_import: run from a zip as AnsiballZ sends it, the collection's module_utils are compiled once each, not twice;
anywhere else it does nothing. Every module imports it before any other part of the collection."""

from __future__ import annotations

import ast
import json
import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import zip_import

ROOT = pathlib.Path(__file__).resolve().parents[4]
UTILS = "ansible_collections.tlsfleet.stapling.plugins.module_utils"

# Run in a child Python with only the zip for the collection: count each compile of a file in the zip, import what
# node_audit imports first, and report how each module was loaded.
# The start of each child: count each compile of a file in the zip given as its first argument.
COUNTING = r"""
import builtins, sys
archive = sys.argv[1]
compiled = {}
real_compile = builtins.compile
def counting(source, filename, *args, **kwargs):
    if isinstance(filename, str) and filename.startswith(archive):
        compiled[filename[len(archive) + 1:]] = compiled.get(filename[len(archive) + 1:], 0) + 1
    return real_compile(source, filename, *args, **kwargs)
builtins.compile = counting
"""
CHILD = (
    COUNTING
    + r"""
import importlib, json, linecache, pkgutil
mode = sys.argv[2]
sys.path.insert(0, archive)
utils = "ansible_collections.tlsfleet.stapling.plugins.module_utils"
installed = importlib.import_module(utils + ".zip_import").install() if mode == "finder" else None
for name in ("findings", "x509", "chain", "evidence", "diagnosis", "servers", "servers.nginx.reader"):
    importlib.import_module(utils + "." + name)
x509 = sys.modules[utils + ".x509"]
try:
    importlib.import_module(utils + ".no_such_module")
    missing = "imported"
except ModuleNotFoundError as exc:
    missing = exc.name
print(json.dumps({
    "installed": installed,
    "compiled": compiled,
    "loaders": {n: type(m.__spec__.loader).__name__ for n, m in sys.modules.items() if n.startswith(utils)},
    "first_finder": type(sys.meta_path[0]).__name__,
    "data": len(pkgutil.get_data(utils + ".servers", "common.py") or b""),
    "files": {n: m.__file__ for n, m in sys.modules.items() if n.startswith(utils)},
    "source_lines": len(linecache.getlines(x509.__file__, x509.__dict__)),
    "missing": missing,
    "servers_path": list(sys.modules[utils + ".servers"].__path__),
}))
"""
)


@pytest.fixture(scope="module")
def payload(tmp_path_factory) -> pathlib.Path:
    """The collection's module_utils in a zip laid out like AnsiballZ's: empty __init__.py for the parents."""
    path = tmp_path_factory.mktemp("payload") / "payload.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        parents = ["ansible_collections", "ansible_collections/tlsfleet", "ansible_collections/tlsfleet/stapling"]
        parents += ["ansible_collections/tlsfleet/stapling/plugins", UTILS.replace(".", "/")]
        for parent in parents:
            archive.writestr(parent + "/__init__.py", "")
        for source in sorted((ROOT / "plugins" / "module_utils").rglob("*.py")):
            inner = "ansible_collections/tlsfleet/stapling/" + source.relative_to(ROOT).as_posix()
            archive.write(source, inner)
    return path


def run_child(payload: pathlib.Path, mode: str) -> dict:
    # The child must find the collection only in the zip: the zip comes first on its sys.path, and a regular package
    # there ends the search for ansible_collections. It keeps the rest (cryptography) from this test's sys.path.
    # The code cache is off (tests/unit/plugins/module_utils/test_zip_import_cache.py tests it): every run compiles.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    env["TLSFLEET_STAPLING_CODE_CACHE"] = "off"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(payload), mode], capture_output=True, text=True, check=False, env=env
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_from_a_zip_each_module_is_compiled_once(payload):
    plain = run_child(payload, "zipimport")
    fast = run_child(payload, "finder")
    assert fast["installed"] is True
    # The same modules, all of them from the zip.
    assert sorted(fast["loaders"]) == sorted(set(plain["loaders"]) | {UTILS + ".zip_import"})
    assert all(path.startswith(str(payload) + "/") for path in fast["files"].values())
    # Every module after zip_import is found by its finder and compiled once, by its loader (zipimport's, with the code
    # cache's get_code); Python's own finder compiles each twice. (The module_utils package and zip_import itself come
    # before the finder is there.)
    first = {UTILS: "__init__.py", UTILS + ".zip_import": "zip_import.py"}
    first = {name: UTILS.replace(".", "/") + "/" + file for name, file in first.items()}
    after = {name: kind for name, kind in fast["loaders"].items() if name not in first}
    assert fast["first_finder"] == "_ZipFinder" and plain["first_finder"] != "_ZipFinder"
    assert set(after.values()) == {"_CachingZipImporter"}, after
    utils_dir = UTILS.replace(".", "/") + "/"
    compiled_after = {
        path: count
        for path, count in fast["compiled"].items()
        if path.startswith(utils_dir) and path not in first.values()
    }
    assert len(compiled_after) == len(after)
    assert set(compiled_after.values()) == {1}, compiled_after
    assert sum(fast["compiled"].values()) < sum(plain["compiled"].values()), (fast["compiled"], plain["compiled"])
    # Tracebacks and inspect still find the source, a package's data is still readable; a name the zip lacks is still
    # a ModuleNotFoundError.
    assert fast["data"] == plain["data"] == (ROOT / "plugins/module_utils/servers/common.py").stat().st_size
    assert fast["source_lines"] == len((ROOT / "plugins" / "module_utils" / "x509.py").read_text().splitlines())
    assert fast["missing"] == UTILS + ".no_such_module"
    assert fast["servers_path"] == ["%s/%s/servers" % (payload, UTILS.replace(".", "/"))]


def test_outside_a_zip_it_does_nothing():
    # Here the collection comes from files (ansible-test's tree): no finder is installed, none would be.
    assert zip_import.install() is False
    assert not any(type(finder).__name__ == "_ZipFinder" for finder in sys.meta_path)


def _collection_imports(path: pathlib.Path) -> list[str]:
    """The collection's names a module imports, in order, at its top level (inside a top-level try or if too)."""
    names = []
    for statement in ast.parse(path.read_text()).body:
        for node in ast.walk(statement):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ansible_collections."):
                names += ["%s.%s" % (node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                names += [alias.name for alias in node.names if alias.name.startswith("ansible_collections.")]
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "plugins" / "modules").glob("*.py")), ids=lambda path: path.stem)
def test_every_module_imports_it_first(path):
    imports = _collection_imports(path)
    if not imports:
        pytest.skip("%s imports nothing of the collection (its action runs it on the controller)" % path.name)
    assert imports[0] == UTILS + ".zip_import"


@pytest.mark.parametrize("path", sorted((ROOT / "plugins" / "modules").glob("*.py")), ids=lambda path: path.stem)
def test_every_module_that_runs_on_the_node_documents_the_code_cache(path):
    imports = _collection_imports(path)
    if not imports:
        pytest.skip("%s imports nothing of the collection (its action runs it on the controller)" % path.name)
    assert "\n  - tlsfleet.stapling.code_cache\n" in path.read_text()


# AnsiballZ's layout for ansible's own code: the package's __init__ files extend their path, module_utils below them.
ANSIBLE_FILES = {
    "ansible/__init__.py": "from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n",
    "ansible/module_utils/__init__.py": "from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n",
    "ansible/module_utils/common/__init__.py": "",
    "ansible/module_utils/common/fake_text.py": "VALUE = 'from the payload'\n",
    "ansible_collections/tlsfleet/stapling/plugins/modules/__init__.py": "",
    "ansible_collections/tlsfleet/stapling/plugins/modules/fake_module.py": (
        "from ansible.module_utils.common.fake_text import VALUE\nRAN = VALUE\n"
    ),
}

# zip_import first, as the wrapper node_audit's action builds imports it (plugin_utils/ansiballz.py); then ansible's
# code and the module, which runpy runs by its name as AnsiballZ's loader does.
EARLY_CHILD = (
    COUNTING
    + r"""
import importlib, json, runpy
sys.path.insert(0, archive)
for name in [n for n in sys.modules if n == "ansible" or n.startswith("ansible.")]:
    del sys.modules[name]  # the test runner's own ansible: the payload's must be the one imported
importlib.import_module("ansible_collections.tlsfleet.stapling.plugins.module_utils.zip_import")
text = importlib.import_module("ansible.module_utils.common.fake_text")
ran = runpy.run_module("ansible_collections.tlsfleet.stapling.plugins.modules.fake_module", run_name="__main__")
print(json.dumps({
    "compiled": compiled,
    "ran": ran["RAN"],
    "loaders": {n: type(m.__spec__.loader).__name__ for n, m in sys.modules.items() if n.startswith("ansible.")},
    "ansible_file": sys.modules["ansible"].__file__,
    "text_file": text.__file__,
}))
"""
)


def test_ansibles_code_and_the_module_are_compiled_once_when_it_comes_first(payload, tmp_path):
    early = tmp_path / "early.zip"
    with zipfile.ZipFile(payload) as source, zipfile.ZipFile(early, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        for name, text in ANSIBLE_FILES.items():
            target.writestr(name, text)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    env["TLSFLEET_STAPLING_CODE_CACHE"] = "off"
    out = subprocess.run(
        [sys.executable, "-c", EARLY_CHILD, str(early)], capture_output=True, text=True, check=False, env=env
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.splitlines()[-1])
    assert found["ran"] == "from the payload"
    assert found["ansible_file"] == "%s/ansible/__init__.py" % early
    assert found["text_file"] == "%s/ansible/module_utils/common/fake_text.py" % early
    served = ("ansible.module_utils.common", "ansible.module_utils.common.fake_text")
    assert {found["loaders"][name] for name in served} == {"_CachingZipImporter"}, found["loaders"]
    compiled = found["compiled"]
    for name in ("ansible/module_utils/common/fake_text.py", "ansible/module_utils/common/__init__.py"):
        assert compiled[name] == 1, compiled
    assert compiled["ansible_collections/tlsfleet/stapling/plugins/modules/fake_module.py"] == 1, compiled
