# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The base of the collection's record classes: one ``__repr__`` shared by all, written once.

``@dataclass`` writes and compiles an ``__init__``, a ``__repr__`` and an ``__eq__`` for each class when its module
is imported, and on a node the modules are imported at every run. For the record classes node_audit imports, the
generated ``__repr__``s cost about 10 ms of CPU per run on a lab node (docs/performance.md, "eighth round"), for a
method only a traceback or a debugging session calls. So the records are declared ``@dataclass(repr=False)`` on
``Record``, whose ``__repr__`` reads the fields when it is called and prints what the generated one would.
``__init__`` and ``__eq__`` stay the dataclass's own.
"""

from __future__ import annotations

import dataclasses
import reprlib


class Record:
    """Base of a ``@dataclass(repr=False)`` record: ``Name(field=value, ...)`` as a dataclass prints it."""

    __slots__ = ()

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        shown = ", ".join(
            "%s=%r" % (item.name, getattr(self, item.name)) for item in dataclasses.fields(self) if item.repr
        )
        return "%s(%s)" % (type(self).__qualname__, shown)
