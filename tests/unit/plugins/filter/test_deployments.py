# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cert_deploy's deployments in the one certificate shape: key (private_key the deprecated old name), chain,
combined and site optional for real, a lineage accepted, hosts: enforced when given."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.tlsfleet.stapling.plugins.filter.deployments import certificate_deployments

BASE = {"certificate": "/ca/cert.pem", "key": "/ca/privkey.pem", "fullchain_dest": "/etc/tls/www.pem"}
DEST = {"key_dest": "/etc/tls/www.key", "server": "nginx"}


def test_optional_keys_are_optional_for_real():
    (entry,) = certificate_deployments([dict(BASE, **DEST)], "web-1")
    assert entry["chain"] is None and entry["combined"] is False and entry["deploy_key"] is True
    assert entry["site"] == "/etc/tls/www.pem" and entry["codes"] == []
    (combined,) = certificate_deployments([dict(BASE, combined="true")], "web-1")
    assert combined["combined"] is True and combined["key_dest"] is None


def test_private_key_is_the_old_name_of_key(monkeypatch):
    from ansible_collections.tlsfleet.stapling.plugins.filter import deployments

    said = []
    monkeypatch.setattr(deployments.display, "deprecated", lambda msg, **kw: said.append(msg))
    old = {k: v for k, v in BASE.items() if k != "key"}
    (entry,) = certificate_deployments([dict(old, private_key="/ca/old.pem", **DEST)], "web-1")
    assert entry["key"] == "/ca/old.pem" and "private_key" not in entry
    assert said == [
        "tlsfleet_cert_deployments[0]: private_key is the old name of key (the name every certificate input uses)"
    ]
    with pytest.raises(AnsibleFilterError, match=r"gives key and private_key with different paths"):
        certificate_deployments([dict(BASE, private_key="/ca/other.pem", **DEST)], "web-1")


def test_a_lineage_stands_for_its_files():
    (entry,) = certificate_deployments([{"lineage": "/etc/letsencrypt/live/www", **DEST, "fullchain_dest": "/f"}])
    assert entry["certificate"] == "/etc/letsencrypt/live/www/cert.pem"
    assert entry["key"] == "/etc/letsencrypt/live/www/privkey.pem"
    assert entry["chain"] == "/etc/letsencrypt/live/www/chain.pem"


def test_hosts_when_given_are_enforced():
    scoped = dict(BASE, name="www", hosts=["web"], **DEST)
    assert certificate_deployments([scoped], "web-1", {"web": ["web-1"]})
    with pytest.raises(
        AnsibleFilterError,
        match=r"certificate entry 'tlsfleet_cert_deployments\[0\] \(www\)' is not "
        r"scoped to db-1 \(its hosts: web\)",
    ):
        certificate_deployments([scoped], "db-1", {"web": ["web-1"]})


@pytest.mark.parametrize(
    ("given", "need_server", "message"),
    [
        ({"key": None}, False, r"tlsfleet_cert_deployments\[0\] needs key"),
        ({"fullchain_dest": None}, False, r"needs fullchain_dest \(the file the server loads, on the node\)"),
        ({"key_dest": None}, False, r"needs key_dest \(the key file on the node\), or combined: true"),
        ({"server": None}, True, r"server must be one of nginx, apache, haproxy .*, not None"),
        ({"server": "iis"}, False, r"server must be one of nginx, apache, haproxy .*, not 'iis'"),
        ({"combined": "maybe"}, False, r"combined must be true or false"),
    ],
)
def test_wrong_entries_are_named(given, need_server, message):
    entry = {k: v for k, v in {**BASE, **DEST, **given}.items() if v is not None}
    with pytest.raises(AnsibleFilterError, match=message):
        certificate_deployments([entry], "web-1", need_server=need_server)


def test_the_server_is_one_of_the_registered_types(monkeypatch):
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers

    with pytest.raises(
        AnsibleFilterError,
        match=r"server must be one of nginx, apache, haproxy \(the server the handler reloads\), not 'caddy'",
    ):
        certificate_deployments([dict(BASE, **dict(DEST, server="caddy"))], "web-1")
    # A type added to the registry is a server the handler can reload: nothing else to change.
    monkeypatch.setattr(servers, "TYPES", (*servers.TYPES, "caddy"))
    (entry,) = certificate_deployments([dict(BASE, **dict(DEST, server="caddy"))], "web-1", need_server=True)
    assert entry["server"] == "caddy"
