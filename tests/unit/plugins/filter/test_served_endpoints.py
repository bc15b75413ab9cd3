# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.tlsfleet.stapling.plugins.filter.served_endpoints import FilterModule, served_endpoints
from ansible_collections.tlsfleet.stapling.tests.unit.pki import Pki

PUBLIC = ["www.test", "shop.test", "legacy.test"]


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
    assert served_endpoints(audits, public=PUBLIC) == [
        {"host": "legacy.test", "port": 8443, "server_name": "legacy.test"},
        {"host": "shop.test", "port": 443, "server_name": "shop.test"},
        {"host": "www.test", "port": 443, "server_name": "www.test"},
    ]
    assert served_endpoints(audits, ["www.test"], public=PUBLIC) == [
        {"host": "www.test", "port": 443, "server_name": "www.test"}
    ]
    assert FilterModule().filters()["served_endpoints"] is served_endpoints


def test_not_a_list_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="expects a list of node_audit results, got str"):
        served_endpoints("www.test")


def test_nothing_is_probed_that_the_inventory_does_not_allow():
    lies = audit(
        (["www.test", "localhost", "127.0.0.1", "::1", "[::1]", "10.0.0.1", "evil.example", "*.test"], 443),
        (["metadata.localhost", "a..test", "-x.test", "www.test:22", "www.test/x"], 443),
    )
    # Nothing configured: nothing probed, whatever the nodes claim.
    assert served_endpoints([lies]) == []
    allowed = [*PUBLIC, "localhost", "127.0.0.1", "::1", "metadata.localhost", "10.0.0.1"]  # listed by mistake
    assert served_endpoints([lies], public=allowed) == [{"host": "www.test", "port": 443, "server_name": "www.test"}]


@pytest.mark.parametrize("port", ["22", 0, 70000, True, -1, 443.5, None, "443; rm"])
def test_ports_must_be_integers_in_range(port):
    lies = {"evidence": {"sites": [{"hostnames": ["www.test"], "endpoint": {"port": port}}]}}
    assert served_endpoints([lies], public=PUBLIC) == []


def test_names_covered_by_a_configured_certificate_are_allowed(tmp_path):
    pki = Pki()
    root = pki.root()
    leaf = pki.leaf(root, cn="www.shop.test", dns=["www.shop.test", "*.api.test"])
    cert = tmp_path / "cert.pem"
    cert.write_bytes(leaf.pem)
    audits = [audit((["www.shop.test", "v1.api.test", "a.b.api.test", "other.test"], 8443))]
    assert served_endpoints(audits, certificates=[{"certificate": str(cert), "key": "/not/read"}]) == [
        {"host": "v1.api.test", "port": 8443, "server_name": "v1.api.test"},
        {"host": "www.shop.test", "port": 8443, "server_name": "www.shop.test"},
    ]
    with pytest.raises(AnsibleFilterError, match="certificate entry 0"):
        served_endpoints(audits, certificates=[{"certificate": str(tmp_path / "missing.pem")}])
    with pytest.raises(AnsibleFilterError, match="public must be a list"):
        served_endpoints(audits, public="www.test")
