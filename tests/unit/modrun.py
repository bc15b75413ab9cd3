# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() in-process with given arguments and return its JSON result."""

from __future__ import annotations

import contextlib
import json

import pytest

try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19: the arguments are read from basic._ANSIBLE_ARGS
    patch_module_args = None


@contextlib.contextmanager
def module_args(args, monkeypatch):
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    yield


def _forget_warnings():
    """Ansible keeps warnings process-wide (deduplicated); a real module run starts with none."""
    from ansible.module_utils.common import warnings

    for name in ("_global_warnings", "_global_deprecations"):
        store = getattr(warnings, name, None)
        if hasattr(store, "clear"):
            store.clear()


def run_module(main, args, capsys, monkeypatch):
    """(result dict, raw stdout) of ``main()`` called with ``args``; the module must exit."""
    _forget_warnings()
    try:  # once a test imported controller code, module warnings would go to the controller's display
        from ansible.module_utils import _internal

        if getattr(_internal, "is_controller", False):
            monkeypatch.setattr(_internal, "is_controller", False)
    except ImportError:
        pass
    with module_args(args, monkeypatch), pytest.raises(SystemExit):
        main()
    out = capsys.readouterr().out
    return json.loads(out), out
