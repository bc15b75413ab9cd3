# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Import the collection's module_utils from a module's payload compiling each once, not twice.

On the node a module runs from the zip AnsiballZ sends, and Python imports from a zip with ``zipimport``, which
compiles a module's source twice: once when the import machinery asks for its file name while making the module's
spec (``zipimporter.get_filename`` compiles to learn whether the name is a source or a bytecode file) and once to run
it (CPython issue 141276, still open). Nothing in the payload is ever precompiled, so for the collection's own
modules that doubled work was 0.04-0.07 s of CPU in each node_audit run of 0.55-0.68 s on the lab's nodes
(docs/performance.md, "fifth round").

Importing this module installs, first on ``sys.meta_path``, a finder for the collection's ``module_utils`` that finds
each in the same zip without compiling it; zipimport's own loader then compiles it once, to run it. It acts only
when this module itself was loaded by ``zipimport`` (the payload); on the controller, in tests and in a payload run
with ``explode`` it does nothing. Every module imports it before any other part of the collection (a unit test
checks that). A name it cannot find in the zip is left to Python's own finders. The module file itself,
``module_utils/__init__.py``, this module and ansible's own modules are imported before it and still compiled
twice.
"""

from __future__ import annotations

import sys
import zipimport
from importlib.machinery import ModuleSpec

# The names this finder serves: the collection's module_utils, which every module imports after this one.
PREFIX = __name__.rpartition(".")[0] + "."


class _ZipFinder:
    """A ``sys.meta_path`` finder for the names under PREFIX in one zip; None for anything else.

    The spec it returns has zipimport's own loader for the module's directory, so running the module compiles it once
    (``exec_module``, or ``load_module`` before Python 3.10) and everything else a zip import offers stays as it was:
    ``get_source`` for tracebacks, ``get_data`` and resources, ``__file__`` and ``__path__``. What it skips is the
    ``get_filename`` call that ``zipimporter.find_spec`` makes, which compiles the source only to return the name.
    """

    def __init__(self, archive: str) -> None:
        self._archive = archive

    def find_spec(self, fullname: str, path=None, target=None):
        if not fullname.startswith(PREFIX):
            return None
        parent, _dot, last = fullname.rpartition(".")
        directory = parent.replace(".", "/")
        try:
            importer = zipimport.zipimporter("%s/%s" % (self._archive, directory))
            is_package = importer.is_package(fullname)  # looks the name up without compiling it
        except (OSError, ImportError):  # not in the zip (or the zip is gone): Python's own finders decide
            return None
        inner = "%s/%s" % (directory, last)
        origin = "%s/%s" % (self._archive, inner + ("/__init__.py" if is_package else ".py"))
        spec = ModuleSpec(fullname, importer, origin=origin, is_package=is_package)
        spec.has_location = True
        if is_package:
            spec.submodule_search_locations = ["%s/%s" % (self._archive, inner)]
        return spec


def install() -> bool:
    """Put the finder first on ``sys.meta_path`` when this module came from a zip; True if it is (now) there."""
    loader = getattr(__spec__, "loader", None)
    if not isinstance(loader, zipimport.zipimporter):
        return False
    if not any(isinstance(finder, _ZipFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ZipFinder(loader.archive))
    return True


install()
