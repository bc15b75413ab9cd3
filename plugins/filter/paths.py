# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters tlsfleet.stapling.controller_path and report_paths (documented in their .yml files).

Controller-side output (reports, the rollout summary, a merged report) is placed relative to one base: the
directory the run starts in, which is ansible-playbook's working directory and, under AWX, the job's project
directory. Filters run in the controller's own processes, which keep that working directory; modules and
actions do not all resolve a relative path against it (a local copy or file task resolves it against the
playbook's directory, which for a playbook of an installed collection is inside the collection).
"""

from __future__ import annotations

import glob
import os
import re

from ansible.errors import AnsibleFilterError


def controller_path(path):
    """``path`` made absolute on the controller: ``~`` expanded, a relative path joined to the working directory."""
    if path is None or not isinstance(path, str) or not path.strip():
        raise AnsibleFilterError("controller_path expects a non-empty path, got %r" % (path,))
    return os.path.normpath(os.path.abspath(os.path.expanduser(path.strip())))


def report_paths(value, name="tlsfleet_report_merge"):
    """report.json files from a list, a comma- or newline-separated string (an AWX textarea) or glob patterns.

    Each entry is resolved on the controller (see controller_path); a pattern (``*``, ``?``, ``[``) is expanded
    and must match at least one file; a directory stands for its ``report.json``. The result is sorted within
    each pattern, in the order given, without duplicates. Anything missing fails with one message naming it.
    """
    if value is None or (isinstance(value, (str, list, tuple)) and not "".join(map(str, value)).strip()):
        raise AnsibleFilterError(
            "%s is empty: give the report.json files of the sliced runs to merge (a list, a comma- or "
            "newline-separated string, or a glob such as slices/*/report.json)." % name
        )
    if isinstance(value, str):
        entries = [part.strip() for part in re.split(r"[,\n]", value)]
    elif isinstance(value, (list, tuple)):
        entries = []
        for item in value:
            if not isinstance(item, str):
                raise AnsibleFilterError("%s entries must be paths, got %r" % (name, item))
            entries.extend(part.strip() for part in item.splitlines())
    else:
        raise AnsibleFilterError(
            "%s must be a list of paths or a comma- or newline-separated string, got %s" % (name, type(value).__name__)
        )
    found = []
    missing = []
    for entry in (part for part in entries if part):
        path = controller_path(entry)
        if glob.has_magic(path):
            matches = sorted(glob.glob(path))
            if not matches:
                missing.append("%s (no file matches)" % entry)
            candidates = matches
        else:
            candidates = [path]
        for candidate in candidates:
            report = os.path.join(candidate, "report.json") if os.path.isdir(candidate) else candidate
            if not os.path.isfile(report):
                missing.append(entry if report == path else report)
            elif report not in found:
                found.append(report)
    if missing:
        raise AnsibleFilterError("%s: not found: %s" % (name, ", ".join(missing)))
    if not found:
        raise AnsibleFilterError("%s names no report.json file." % name)
    return found


class FilterModule:
    def filters(self):
        return {"controller_path": controller_path, "report_paths": report_paths}
