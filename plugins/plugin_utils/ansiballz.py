# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make a module's AnsiballZ payload import module_utils/zip_import.py before ansible's own code.

The wrapper AnsiballZ sends (ansible-core 2.19 and later) puts the payload's zip on ``sys.path`` and imports
ansible's module loader from it, and through the loader ``basic`` and some 50 more of ansible's files, before
the module runs. zipimport compiles each of those twice (zip_import.py says why) and none is ever cached: about
0.1 s of CPU on every node in every run, as much as the rest of the collection's imports. Importing zip_import
first makes them compiled once, or taken from the node's code cache.

``early_zip_import`` adds that one import to the wrapper, right before the wrapper's import of the loader. The
wrapper is ansible's text; it is changed only where it has exactly the line it expects (ansible-core 2.19 to 2.21)
and runs one of the collection's own modules (the line that names the module to run; an action also builds other
payloads, such as ansible's async_wrapper for ``async:`` tasks, which must not import anything of the collection from
the node's own path). Otherwise it is left as it is: the module then runs as any other. The import is wrapped so
that a failure there changes nothing either (the module's own import of zip_import reports nothing and does nothing
outside a zip). The added text is constant: nothing from the node or the task goes into it.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import dataclasses

# The wrapper's import of ansible's loader, in invoke_module() (8 spaces; the debug path has it at 12).
LOADER_IMPORT = b"\n        from ansible.module_utils._internal._ansiballz import _loader\n"
# The wrapper's argument naming the module it runs (values are written with repr(): a task's argument cannot hold
# the raw line breaks around it).
MODULE_LINE = b"\nmodule_fqn='ansible_collections.tlsfleet.stapling.plugins.modules.%s',\n"
EARLY_IMPORT = (
    b"\n        try:  # tlsfleet.stapling: compile the payload's Python files once (plugin_utils/ansiballz.py)"
    b"\n            import ansible_collections.tlsfleet.stapling.plugins.module_utils.zip_import"
    b"\n        except Exception:"
    b"\n            pass"
)


def early_zip_import(built, module: str):
    """``built`` (ansible's built module: ``b_module_data``, ``module_style``) with the early import added when it is
    the wrapper expected and runs the collection's module ``module`` (its short name), else ``built`` itself."""
    data = getattr(built, "b_module_data", None)
    if getattr(built, "module_style", None) != "new" or not isinstance(data, bytes):
        return built
    if data.count(LOADER_IMPORT) != 1 or data.count(MODULE_LINE % module.encode("ascii")) != 1 or EARLY_IMPORT in data:
        return built
    try:
        return dataclasses.replace(built, b_module_data=data.replace(LOADER_IMPORT, EARLY_IMPORT + LOADER_IMPORT))
    except (TypeError, ValueError):  # not a dataclass, or one replace() cannot copy (another ansible-core): as it is
        return built
