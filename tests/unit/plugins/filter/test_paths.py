# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""merge_reports' input: a list, a comma- or newline-separated string (an AWX textarea) or globs; nothing given or
an entry matching no file fails with one message naming it."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.tlsfleet.stapling.plugins.filter.paths import controller_path, report_paths


@pytest.fixture
def slices(tmp_path, monkeypatch):
    for name in ("a", "b", "c"):
        (tmp_path / "slices" / name).mkdir(parents=True)
        (tmp_path / "slices" / name / "report.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "slices"


@pytest.mark.parametrize(
    "given",
    [
        ["slices/a/report.json", "slices/b/report.json", "slices/c"],
        "slices/a/report.json,slices/b/report.json, slices/c",
        "slices/a/report.json\nslices/b/report.json\n\nslices/c/report.json\n",
        ["slices/a/report.json\nslices/b/report.json", "slices/c/report.json"],
        "slices/*/report.json",
        ["slices/a/report.json", "slices/*"],  # a directory stands for its report.json; no duplicates
    ],
)
def test_list_text_and_globs_name_the_same_reports(slices, given):
    assert report_paths(given) == [str(slices / name / "report.json") for name in ("a", "b", "c")]


@pytest.mark.parametrize("given", [None, "", " \n ", [], [""]])
def test_nothing_given_fails_with_what_to_give(given):
    with pytest.raises(AnsibleFilterError, match=r"tlsfleet_report_merge is empty: give the report.json files"):
        report_paths(given)


def test_entries_that_match_nothing_are_named_together(slices):
    with pytest.raises(AnsibleFilterError) as caught:
        report_paths("slices/a/report.json, other/*/report.json, slices/d/report.json")
    assert str(caught.value) == (
        "tlsfleet_report_merge: not found: other/*/report.json (no file matches), slices/d/report.json"
    )


@pytest.mark.parametrize("given", [3, {"a": "b"}, [1]])
def test_wrong_types_are_named(given):
    with pytest.raises(AnsibleFilterError, match=r"tlsfleet_report_merge (must be a list|entries must be paths)"):
        report_paths(given)


def test_controller_paths_resolve_against_the_start_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert controller_path("out/../report") == str(tmp_path / "report")
    with pytest.raises(AnsibleFilterError, match="non-empty path"):
        controller_path("  ")
