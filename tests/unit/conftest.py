# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pytest setup for the unit tests."""

from __future__ import annotations

import pytest


def pytest_configure(config):
    # The compat helpers must never touch attributes that cryptography deprecated (e.g. the naive
    # not_valid_after on 42+, OCSPResponse.this_update on 43+): make such warnings fail the tests.
    config.addinivalue_line("filterwarnings", "error::cryptography.utils.CryptographyDeprecationWarning")


@pytest.fixture
def pki():
    from ansible_collections.tlsfleet.stapling.tests.unit.pki import Pki

    return Pki()
