# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import List, Optional

from ansible_collections.tlsfleet.stapling.plugins import module_utils
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record


@dataclasses.dataclass(repr=False)
class Shared(Record):
    name: str
    port: int = 443
    hidden: str = dataclasses.field(default="secret", repr=False)
    children: List[Shared] = dataclasses.field(default_factory=list)
    parent: Optional[Shared] = None


@dataclasses.dataclass
class Generated:
    name: str
    port: int = 443
    hidden: str = dataclasses.field(default="secret", repr=False)
    children: List[Generated] = dataclasses.field(default_factory=list)
    parent: Optional[Generated] = None


def test_the_shared_repr_prints_what_the_generated_one_would():
    shared = Shared("a", children=[Shared("b\n", port=8443)])
    generated = Generated("a", children=[Generated("b\n", port=8443)])
    assert repr(shared).replace("Shared", "X") == repr(generated).replace("Generated", "X")
    inner = "Shared(name='b\\n', port=8443, children=[], parent=None)"
    assert repr(shared) == "Shared(name='a', port=443, children=[%s], parent=None)" % inner
    assert "secret" not in repr(shared)


def test_a_record_that_contains_itself_prints_dots():
    shared, generated = Shared("loop"), Generated("loop")
    shared.parent, generated.parent = shared, generated
    assert repr(shared).replace("Shared", "X") == repr(generated).replace("Generated", "X")
    assert repr(shared).endswith("parent=...)")


def test_records_keep_the_dataclass_equality():
    assert Shared("a") == Shared("a") and Shared("a") != Shared("a", port=1)


def test_every_record_of_the_collection_uses_the_shared_repr():
    """A new ``@dataclass`` in module_utils is declared ``@dataclass(repr=False)`` on Record (records.py says why)."""
    found, offenders = 0, []
    for info in pkgutil.walk_packages(module_utils.__path__, module_utils.__name__ + "."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if not (inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__):
                continue
            found += 1
            if not issubclass(obj, Record) or "__repr__" in vars(obj):
                offenders.append("%s.%s" % (info.name.rsplit(".", 1)[-1], name))
            if obj.__doc__ is None or obj.__doc__.startswith(obj.__name__ + "("):
                # without a docstring, @dataclass makes one from inspect.signature at import
                offenders.append("%s.%s has no docstring" % (info.name.rsplit(".", 1)[-1], name))
    assert found > 40
    assert not offenders, offenders
