# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The remediation_plan and rollout_plan filters validate the node's result before planning from it."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.tlsfleet.stapling.plugins.filter.remediation_plan import remediation_plan, rollout_plan
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import remediation as rem
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.plugin_utils import test_remediation as fx


def node_result():
    www = fx.site("nginx", "www", ["www.test"], stapling={"ssl_stapling": False})
    return fx.audit([www], [fx.finding("stapling_disabled", www, severity="warning")])


def test_a_valid_result_is_planned_as_before():
    result = node_result()
    assert remediation_plan(result, "n1") == rem.plan(node_result(), "n1")
    assert remediation_plan(result, "n1")["stapling"][0]["stapling"] == "on"


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("findings", 0, "code"), "x](http://evil)", "findings[0].code is not of the form"),
        (("evidence", "sites", 0, "hostnames"), "www.test", "evidence.sites[0].hostnames is a string, expected array"),
        (("evidence", "sites", 0, "endpoint", "port"), float("nan"), "evidence.sites[0].endpoint.port is NaN"),
    ],
)
def test_a_malformed_result_is_refused_naming_the_field(path, value, message):
    result = node_result()
    target = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(AnsibleFilterError, match="malformed node_audit result from n1: ") as caught:
        remediation_plan(result, "n1")
    assert message in str(caught.value)
    with pytest.raises(AnsibleFilterError, match="malformed node_audit result from this host: "):
        rollout_plan(result, {"certificate": "/tmp/c.pem", "key": "/tmp/k.pem"})


def sunset_result():
    legacy = fx.site("nginx", "legacy", ["legacy.test"], leaf={"ocsp_urls": []})
    return fx.audit([legacy], [fx.finding("stapling_without_ocsp", legacy, severity="warning")])


@pytest.mark.parametrize(
    ("value", "switched"), [(True, True), ("true", True), ("false", False), ("", False), (None, False)]
)
def test_the_sunset_opt_in_takes_awx_strings(value, switched):
    plan = remediation_plan(sunset_result(), "n1", sunset=value)
    assert [e["stapling"] for e in plan["stapling"]] == (["off"] if switched else [])
    assert [s["code"] for s in plan["skipped"]] == ([] if switched else ["stapling_without_ocsp"])


def test_a_wrong_sunset_value_is_one_sentence():
    with pytest.raises(AnsibleFilterError, match=r"^tlsfleet_stapling_sunset must be true or false .*not 'maybe'$"):
        remediation_plan(sunset_result(), "n1", sunset="maybe")
