# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.tlsfleet.stapling.plugins.filter.served_endpoints import FilterModule, served_endpoints


def audit(*sites):
    return {"evidence": {"sites": [{"hostnames": names, "endpoint": {"port": port}} for names, port in sites]}}


def test_unique_sorted_endpoints_per_hostname_and_port():
    audits = [
        audit((["www.test", "shop.test"], 443), (["legacy.test"], 8443)),
        audit((["www.test"], 443)),
        {"unreachable": True, "msg": "no route"},
        {"failed": True, "evidence": None},
        None,
    ]
    assert served_endpoints(audits) == [
        {"host": "legacy.test", "port": 8443, "server_name": "legacy.test"},
        {"host": "shop.test", "port": 443, "server_name": "shop.test"},
        {"host": "www.test", "port": 443, "server_name": "www.test"},
    ]
    assert served_endpoints(audits, ["www.test"]) == [{"host": "www.test", "port": 443, "server_name": "www.test"}]
    assert FilterModule().filters()["served_endpoints"] is served_endpoints


def test_not_a_list_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="expects a list of node_audit results, got str"):
        served_endpoints("www.test")
