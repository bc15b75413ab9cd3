# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared options: each argspec constant and its doc fragment agree, and every module using one documents it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.tlsfleet.stapling.plugins.doc_fragments.options import ModuleDocFragment
from ansible_collections.tlsfleet.stapling.plugins.module_utils import argspec

MODULES = Path(__file__).resolve().parents[4] / "plugins" / "modules"
SHARED = ("CLOCK_SKEW", "PROXY", "TRUST_ANCHORS", "WARMUP", "CERTIFICATE_INPUT")


@pytest.mark.parametrize("name", SHARED)
def test_fragment_documents_exactly_the_argspec(name):
    documented = yaml.safe_load(getattr(ModuleDocFragment, name))["options"]
    spec = getattr(argspec, name)
    assert sorted(documented) == sorted(spec)
    for option, definition in spec.items():
        shown = documented[option]
        for key in ("type", "elements", "default", "choices"):
            assert shown.get(key) == definition.get(key), (name, option, key)


def _module_sources():
    for path in sorted(MODULES.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        (documentation,) = [
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION"
        ]
        yield path.stem, text, yaml.safe_load(documentation)


def test_every_module_using_a_shared_spec_extends_its_fragment_and_redefines_nothing():
    users = {name: [] for name in SHARED}
    for module, text, documentation in _module_sources():
        fragments = documentation.get("extends_documentation_fragment") or []
        used = set()
        for call in re.findall(r"\bspec\(([A-Z_, ]+)\)", text):
            used.update(part.strip() for part in call.split(",") if part.strip() in SHARED)
        for name in used:
            users[name].append(module)
            assert "tlsfleet.stapling.options.%s" % name.lower() in fragments, (module, name)
            # the option comes from the fragment alone: a module's own copy would drift from it
            assert not set(getattr(argspec, name)) & set(documentation.get("options") or {}), (module, name)
        for name in SHARED:
            if "tlsfleet.stapling.options.%s" % name.lower() in fragments:
                assert name in used, (module, name)
    assert all(len(modules) >= 2 for modules in users.values()), users  # shared means used by more than one


def test_spec_copies_mutable_defaults():
    first, second = argspec.spec(argspec.TRUST_ANCHORS), argspec.spec(argspec.TRUST_ANCHORS)
    first["trust_anchor_paths"]["default"].append("/x")
    assert second["trust_anchor_paths"]["default"] == [] == argspec.TRUST_ANCHORS["trust_anchor_paths"]["default"]
