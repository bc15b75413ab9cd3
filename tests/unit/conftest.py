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


@pytest.fixture
def reserve_port():
    """Call it for a loopback port reserved for this test (see tests/unit/ports.py); released at teardown."""
    from ansible_collections.tlsfleet.stapling.tests.unit import ports

    held = []

    def reserve():
        reservation = ports.reserve()
        held.append(reservation)
        return reservation.port

    yield reserve
    for reservation in held:
        reservation.release()


@pytest.fixture
def closed_port():
    """A loopback port every connection to is refused, held by this test until teardown."""
    from ansible_collections.tlsfleet.stapling.tests.unit import ports

    closed = ports.ClosedPort()
    yield closed.port
    closed.release()
