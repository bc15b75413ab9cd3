# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The server registry is the one list of server types: every type keeps the contract, and every option that
names a server type (module docs, doc fragments, role argument specs) lists exactly the registered ones."""

from __future__ import annotations

import ast
import importlib
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common

ROOT = pathlib.Path(__file__).resolve().parents[5]
COLLECTION = "ansible_collections.tlsfleet.stapling"

# The contract of servers/__init__.py, name by name.
PACKAGE_NAMES = (
    "TYPE",
    "PROCESS_NAMES",
    "BINARY_NAMES",
    "INSTALLED_NAMES",
    "one_shot",
    "discover",
    "inspect",
    "parse_line",
    "make_classifier",
)
FACTS_NAMES = (
    "LABEL",
    "READS_CHAIN_ELSEWHERE",
    "KEY_IN_CERTIFICATE_FILE",
    "STAPLING_REMEDY",
    "TAKES_RESOLVER",
    "NEEDS_STAPLING_CACHE",
    "STAPLE_FILE_FOLLOWS_CERTIFICATE",
    "stapling_enabled",
    "stapling_problem",
    "no_responder_problem",
    "forced_responder",
    "verify_problem",
    "resolver_problem",
    "resolver_addresses",
    "staple_file_path",
    "staple_issuer_path",
    "certificate_units",
)
CONTROL_NAMES = (
    "LABEL",
    "UNITS",
    "PROCESS_NAMES",
    "BINARIES",
    "DEFAULT_CONFIG",
    "RELOAD_SIGNAL",
    "BIND_FAILURE_CONSEQUENCE",
    "DOWN_CAUSE",
    "master_settings",
    "find_ctl",
    "complete_target",
    "config_test_command",
    "native_reload_command",
    "native_start_command",
    "default_unit",
    "reload_refusal",
    "bound_addresses",
    "inspect_stopped",
)
EDITOR_NAMES = (
    "OPTIONS",
    "check_options",
    "edit_site",
    "config_root",
    "directives_found",
    "before_write",
    "companion_file",
)


def test_the_registry_lists_each_type_under_its_own_name():
    assert servers.TYPES == ("nginx", "apache", "haproxy")
    for name, package in servers.REGISTRY.items():
        assert name == package.TYPE
        assert package.__name__ == f"{COLLECTION}.plugins.module_utils.servers.{name}"
    assert servers.EDITABLE_TYPES == ("nginx", "apache")


@pytest.mark.parametrize("name", servers.TYPES)
def test_every_type_keeps_the_contract(name):
    package = servers.server_module(name)
    missing = [attr for attr in PACKAGE_NAMES if not hasattr(package, attr)]
    missing += ["FACTS." + attr for attr in FACTS_NAMES if not hasattr(package.FACTS, attr)]
    missing += ["CONTROL." + attr for attr in CONTROL_NAMES if not hasattr(package.CONTROL, attr)]
    if package.EDITOR is not None:
        missing += ["EDITOR." + attr for attr in EDITOR_NAMES if not hasattr(package.EDITOR, attr)]
    assert missing == []
    # The parts are the type's own files, not borrowed from another type.
    for part in (package.FACTS, package.CONTROL, package.EDITOR):
        if part is not None:
            assert part.__name__.startswith(package.__name__ + ".")
    assert package.FACTS.STAPLING_REMEDY in ("directives", "staple_file")
    assert (package.EDITOR is not None) == (package.FACTS.STAPLING_REMEDY == "directives")
    assert package.FACTS.LABEL == package.CONTROL.LABEL
    # The reader's parts are the type's reader.py, and what shows the type installed includes its binaries.
    assert package.discover.__module__ == package.__name__ + ".reader"
    assert set(package.BINARY_NAMES) <= set(package.INSTALLED_NAMES)


# A fresh interpreter: what node_audit imports, then what discovering an nginx-only node adds.
NODE_IMPORTS = """
import json, sys, tempfile
from ansible_collections.tlsfleet.stapling.plugins.modules import node_audit
from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers
at_import = sorted(sys.modules)
found = servers.discover(
    lambda argv, timeout: (127, "", "not in this test"),
    lambda name: "/usr/sbin/nginx" if name == "nginx" else None,
    proc_root=tempfile.mkdtemp(),
)
print(json.dumps({"at_import": at_import, "after": sorted(sys.modules), "found": [i.type for i in found]}))
"""


def test_node_audit_imports_only_the_readers_of_the_servers_the_node_has():
    """Every module node_audit imports is compiled again on the node at every run (it runs from a zip)."""
    # The child sees what this test sees (ansible-test puts the collection on sys.path, not on PYTHONPATH).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    out = subprocess.run([sys.executable, "-c", NODE_IMPORTS], capture_output=True, text=True, check=False, env=env)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.splitlines()[-1])
    utils = COLLECTION + ".plugins.module_utils."
    assert seen["found"] == ["nginx"]
    never = [utils + "servers.%s.%s" % (t, part) for t in servers.TYPES for part in ("control", "edit")]
    never += [utils + "stapling_edit", utils + "preflight", "ansible.module_utils.urls"]
    for name in never:
        assert name not in seen["after"], name
    readers = [utils + "servers.%s.reader" % t for t in servers.TYPES]
    assert [name for name in readers if name in seen["at_import"]] == []
    assert [name for name in readers if name in seen["after"]] == [utils + "servers.nginx.reader"]


def test_unknown_types_have_no_facts():
    assert servers.facts_of(None) is None
    assert servers.facts_of("caddy") is None
    assert servers.facts_of(["nginx"]) is None
    assert servers.facts_of("nginx") is servers.REGISTRY["nginx"].FACTS


def test_staple_file_facts_follow_each_server():
    nginx, apache, haproxy = (servers.facts_of(name) for name in servers.TYPES)
    assert nginx.staple_file_path({"ssl_stapling_file": "/s.der", "ocsp_file": "/x"}) == "/s.der"
    assert apache.staple_file_path({"ssl_stapling_file": "/s.der"}) is None
    assert haproxy.staple_file_path({"ocsp_file": "/c.pem.ocsp"}) == "/c.pem.ocsp"
    # HAProxy staples when it fetches itself or a staple file exists; the audit's reading of the file wins.
    assert haproxy.stapling_enabled({"ocsp_update": "on"}) is True
    assert haproxy.stapling_enabled({"ocsp_exists": True}) is True
    assert haproxy.stapling_enabled({"ocsp_exists": True}, {"staple_file": {"exists": False}}) is False
    assert nginx.stapling_enabled({"ssl_stapling": True}) and not apache.stapling_enabled({"ssl_stapling": True})


def test_certificate_units_pair_keys_or_take_haproxy_records():
    site = common.SiteInfo(server="nginx", site_id="s", source="f:1")
    site.certificate_files = ["/a.pem", "/b.pem", "/c.pem"]
    site.key_files = ["/a.key", "/b.key"]
    site.stapling = {"ssl_stapling": True}
    units = servers.facts_of("nginx").certificate_units(site)
    assert [(cert, key) for cert, key, _stapling in units] == [
        ("/a.pem", "/a.key"),
        ("/b.pem", "/b.key"),
        ("/c.pem", "/b.key"),
    ]
    variables = common.SiteInfo(
        server="nginx", site_id="v", source="f:9", stapling={"certificate_uses_variables": True}
    )
    assert [unit[:2] for unit in servers.facts_of("nginx").certificate_units(variables)] == [(None, None)]
    assert servers.facts_of("apache").certificate_units(variables) == []
    bind = common.SiteInfo(server="haproxy", site_id="h", source="f:3")
    bind.stapling = {"ocsp_update": "on", "certificates": [{"crt": "/x.pem", "key_file": None, "ocsp_file": "/x.ocsp"}]}
    units = servers.facts_of("haproxy").certificate_units(bind)
    assert units == [("/x.pem", None, {"ocsp_update": "on", "crt": "/x.pem", "key_file": None, "ocsp_file": "/x.ocsp"})]


# ---------------------------------------------------------------------------------------------
# option choices


def _names_a_server_type(choices) -> bool:
    return isinstance(choices, list) and bool(set(map(str, choices)) & set(servers.TYPES))


def _doc_options(doc: str):
    return (yaml.safe_load(doc) or {}).get("options") or {}


def _module_docs():
    for path in sorted((ROOT / "plugins" / "modules").glob("*.py")):
        module = importlib.import_module(f"{COLLECTION}.plugins.modules.{path.stem}")
        yield path.stem, _doc_options(module.DOCUMENTATION)


def test_the_discovery_fragment_lists_the_registered_types():
    from ansible_collections.tlsfleet.stapling.plugins.doc_fragments import discovery

    option = _doc_options(discovery.ModuleDocFragment.DOCUMENTATION)["servers"]
    assert option["choices"] == list(servers.TYPES)
    assert option["default"] == list(servers.TYPES)
    assert servers.DISCOVERY_ARGSPEC["servers"]["choices"] == list(servers.TYPES)
    assert servers.DISCOVERY_ARGSPEC["servers"]["default"] == list(servers.TYPES)


def test_module_docs_list_exactly_the_registered_types():
    checked = []
    for name, options in _module_docs():
        for option_name, option in options.items():
            if not _names_a_server_type(option.get("choices")):
                continue
            # site_stapling edits directives: the types with an editor; every other module takes any type.
            wanted = servers.EDITABLE_TYPES if name == "site_stapling" else servers.TYPES
            assert option["choices"] == list(wanted), f"{name}: option {option_name}"
            checked.append(f"{name}.{option_name}")
    assert "server_reload.server" in checked and "site_stapling.server" in checked


def _options(options, prefix=""):
    """(name, option) for every option and suboption (``tlsfleet_verify[].server``)."""
    for name, option in (options or {}).items():
        yield prefix + name, option
        yield from _options(option.get("options"), prefix + name + "[].")


def test_role_argument_specs_list_exactly_the_registered_types():
    checked = []
    for path in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        specs = yaml.safe_load(path.read_text()).get("argument_specs") or {}
        for entry, spec in specs.items():
            for option_name, option in _options(spec.get("options")):
                if not _names_a_server_type(option.get("choices")):
                    continue
                where = f"{path.parent.parent.name}/{entry}: {option_name}"
                # site_stapling edits the sites of the types whose stapling is set by directives only
                edited = option_name == "tlsfleet_stapling_sites[].server"
                assert option["choices"] == list(servers.EDITABLE_TYPES if edited else servers.TYPES), where
                if option.get("default"):
                    assert option["default"] == list(servers.TYPES), where
                checked.append(where)
    assert "cert_deploy/main: tlsfleet_cert_deployments[].server" in checked
    assert "stapling_config/main: tlsfleet_stapling_sites[].server" in checked
    # the diagnose role leaves node_audit's options unset unless the user sets them (node_audit's default applies)
    defaults = yaml.safe_load((ROOT / "roles" / "diagnose" / "defaults" / "main.yml").read_text()) or {}
    assert defaults.get("tlsfleet_audit_servers", list(servers.TYPES)) == list(servers.TYPES)


# ---------------------------------------------------------------------------------------------
# the seam itself


# A comparison of a value with a server type's name (``server == "nginx"``, ``type in ("apache", ...)``,
# ``kind != 'haproxy'``), the thing only the type's own package may do.
NAME_COMPARISON = re.compile(r"(==|!=|\bin)\s*[(\[{]?\s*[\"'](nginx|apache|haproxy)[\"']")


def test_no_code_outside_a_type_package_compares_against_a_server_name():
    offenders = []
    for top in ("plugins", "roles", "playbooks"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix not in (".py", ".yml", ".yaml", ".j2") or not path.is_file():
                continue
            relative = path.relative_to(ROOT).as_posix()
            if re.match(r"plugins/module_utils/servers/(nginx|apache|haproxy)/", relative):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if NAME_COMPARISON.search(line) and not line.lstrip().startswith("#"):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


def test_the_comparison_pattern_finds_what_it_should():
    assert NAME_COMPARISON.search('if server == "nginx":')
    assert NAME_COMPARISON.search("if h.server in ('nginx', 'apache') and path:")
    assert NAME_COMPARISON.search('kind != "haproxy"')
    assert not NAME_COMPARISON.search('LABEL = "nginx"')


def _shipped(module_path: pathlib.Path) -> set:
    """The collection's modules AnsiballZ puts in a module's payload: every import of the collection, wherever it is
    in the source (inside a function that never runs too), followed from module to module."""
    shipped, todo = set(), [module_path]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + ["%s.%s" % (node.module, alias.name) for alias in node.names]
            else:
                continue
            for name in names:
                if not name.startswith(COLLECTION + "."):
                    continue
                relative = ROOT.joinpath(*name[len(COLLECTION) + 1 :].split("."))
                for path in (relative.with_suffix(".py"), relative / "__init__.py"):
                    if path.is_file() and name not in shipped:
                        shipped.add(name)
                        todo.append(path)
    return shipped


def test_only_the_modules_that_use_control_or_editing_code_ship_it():
    """A server type's control and editing parts are imported by a computed name (common.lazy_parts): AnsiballZ
    ships them only with the modules that import servers/parts.py, whose imports name every registered type's."""
    utils = COLLECTION + ".plugins.module_utils."
    controls = {utils + "servers.%s.control" % t for t in servers.TYPES}
    editors = {utils + "servers.%s.edit" % t for t in servers.TYPES if servers.REGISTRY[t].EDITOR is not None}
    assert editors and len(editors) < len(servers.TYPES)  # HAProxy has none
    modules = ROOT / "plugins" / "modules"
    audit = _shipped(modules / "node_audit.py")
    assert utils + "servers.nginx.reader" in audit  # the readers still travel with node_audit
    assert not audit & (controls | editors | {utils + "servers.parts", utils + "stapling_edit"})
    assert controls <= _shipped(modules / "server_reload.py")
    assert editors <= _shipped(modules / "site_stapling.py")
    # servers/parts.py names exactly these, each once
    source = (ROOT / "plugins" / "module_utils" / "servers" / "parts.py").read_text()
    named = [
        "%s.%s" % (node.module, alias.name)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module != "__future__"
        for alias in node.names
    ]
    assert sorted(named) == sorted(controls | editors)


def test_each_part_is_the_types_own_module():
    for name in servers.TYPES:
        package = servers.REGISTRY[name]
        assert package.CONTROL.__name__ == package.__name__ + ".control"
        if package.EDITOR is not None:
            assert package.EDITOR.__name__ == package.__name__ + ".edit"
        with pytest.raises(AttributeError):
            package.NO_SUCH_PART  # noqa: B018 - the lazy __getattr__ refuses names it does not hand out
