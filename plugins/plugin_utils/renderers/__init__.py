# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report formats: one renderer module per format, registered in RENDERERS, and the writer of all the files.

A renderer module has ``render(report, stream)``, which writes its format of the report.json document (see
plugins/plugin_utils/report.py) to a text stream. Adding a format is one module in this package and one line in
RENDERERS (then docs/report.md): ``write_report`` writes every registered format, together.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import importlib
import os
import tempfile

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.node_result import sanitise

# format -> (file written, renderer module in this package). The order is the order the files are written in.
_TABLE = {
    "json": ("report.json", "json_doc"),
    "html": ("report.html", "html_page"),
    "markdown": ("report.md", "markdown"),
    "junit": ("junit.xml", "junit"),
    "prometheus": ("metrics.prom", "prometheus"),
}

FILES = {kind: name for kind, (name, _module) in _TABLE.items()}
# format -> the renderer module (imported now: a broken renderer fails the import, not a run half-way).
RENDERERS = {kind: importlib.import_module("%s.%s" % (__name__, module)) for kind, (_name, module) in _TABLE.items()}


class ReportWriteError(ValueError):
    """The report files could not be written; the message says which and that the previous ones are untouched."""


def _render_to_temporary(directory: str, name: str, renderer, report: dict) -> str:
    """Render ``report`` with ``renderer`` into a new temporary file beside ``name`` in ``directory``, synced to
    disk, mode 0644; return its path."""
    handle, temporary = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            renderer.render(report, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
    except BaseException:
        _remove(temporary)
        raise
    return temporary


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_report(report: dict, directory: str) -> dict:
    """Write the report files (one per format in RENDERERS) into ``directory`` (created when missing), together,
    mode 0644; return format -> path.

    Each file is rendered into a temporary file in ``directory``, one at a time (a large fleet's report never holds
    all of them in memory); only when all are rendered are they renamed into place. When rendering fails, the
    temporary files are removed and the previous files are left as they were: ``ReportWriteError`` says so.
    """
    os.makedirs(directory, mode=0o755, exist_ok=True)
    rendered: dict[str, str] = {}
    try:
        for kind, name in FILES.items():
            rendered[kind] = _render_to_temporary(directory, name, RENDERERS[kind], report)
    except BaseException as error:
        for temporary in rendered.values():
            _remove(temporary)
        if not isinstance(error, Exception):
            raise
        detail = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise ReportWriteError(
            "the report was not written: rendering %s failed (%s: %s); the previous report files in %s are unchanged"
            % (FILES[kind], type(error).__name__, sanitise(detail, keep_newlines=False), directory)
        ) from error
    paths = {}
    for done, (kind, name) in enumerate(FILES.items()):
        paths[kind] = os.path.join(directory, name)
        try:
            os.replace(rendered[kind], paths[kind])
        except OSError as error:
            for temporary in list(rendered.values())[done:]:
                _remove(temporary)
            replaced = ", ".join(list(FILES.values())[:done]) or "none"
            raise ReportWriteError(
                "the report was written only in part: cannot move %s into place in %s (%s); already replaced: %s"
                % (name, directory, error.strerror or error, replaced)
            ) from error
    return paths
