# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Markers of the lab integration tests, and each test's outcome on its node (test_faults counts them)."""

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "ci: fault cases that make test runs (lab-faults); make reliability runs all")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.passed_call = report.passed
