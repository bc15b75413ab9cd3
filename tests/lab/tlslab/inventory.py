"""The generated Ansible inventory (YAML, at STATE/inventory.yml).

Groups: ``tlsfleet_lab`` (every node) with one child group per region. Host variables: ssh
connection details, ``tlsfleet_region``, and for tests ``tlsfleet_lab_expect`` (finding codes per
hostname), ``tlsfleet_lab_staple`` (the staple state the oracle checks, per server:port:hostname) and
``tlsfleet_lab_sites``, ``tlsfleet_lab_preflight_expect`` (the sites the scenario's candidate covers, with the
verdict and check statuses expected). Fleet-level expectations (node_drift) are ``tlsfleet_lab_expect_fleet`` on the
``tlsfleet_lab`` group, the candidate ``tlsfleet_lab_preflight``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from . import sshd
from .scenario import Scenario, expect_by_hostname, staple_by_hostname


def preflight_expect(spec) -> list:
    """The sites the scenario's candidate covers, with the verdict and check statuses expected of node_audit."""
    return [
        {"server": s.server, "name": s.name, "port": s.port, "hostnames": s.hostnames, **s.preflight_expect}
        for s in spec.sites
        if s.preflight_expect is not None
    ]


def host_vars(node) -> dict:
    spec = node.spec
    return {
        "ansible_host": node.address,
        "ansible_port": 22,
        "ansible_user": "root",
        "ansible_connection": "ssh",
        "ansible_ssh_private_key_file": str(sshd.client_key()),
        "ansible_ssh_common_args": (
            f"-o StrictHostKeyChecking=no -o UserKnownHostsFile={sshd.known_hosts()} -o ConnectTimeout=10"
        ),
        "ansible_python_interpreter": spec.python,
        "tlsfleet_region": spec.region,
        "tlsfleet_lab_node": {"ns": node.ns, "enter": str(node.enter), "servers": spec.servers},
        "tlsfleet_lab_expect": expect_by_hostname(spec),
        "tlsfleet_lab_staple": staple_by_hostname(spec),
        "tlsfleet_lab_preflight_expect": preflight_expect(spec),
        "tlsfleet_lab_sites": [
            {"server": s.server, "name": s.name, "port": s.port, "hostnames": s.hostnames, "leaf": s.leaf}
            for s in spec.sites
        ],
    }


def certificates(state: Path) -> dict:
    """Each lab leaf's files on the controller, as remediation takes them (tlsfleet_certificates entries)."""
    from .pki import Pki

    try:
        leaves = Pki.load(state).leaves
    except (OSError, ValueError, KeyError):
        return {}
    return {
        name: {"certificate": str(leaf.cert_path), "key": str(leaf.key_path), "chain": str(leaf.chain_path)}
        for name, leaf in sorted(leaves.items())
    }


def scoped(leaf_files: dict, nodes) -> dict:
    """Each leaf's entry named after the leaf, with ``hosts``: the nodes that serve one of its hostnames (with it,
    or with another certificate for the name, as a drifting node does) - remediation deploys its key only there."""
    names: dict[str, set] = {}
    for node in nodes:
        for site in node.spec.sites:
            names.setdefault(site.leaf, set()).update(site.hostnames)
    result = {}
    for leaf, files in (leaf_files or {}).items():
        wanted = names.get(leaf, set())
        hosts = sorted(node.name for node in nodes if any(wanted & set(site.hostnames) for site in node.spec.sites))
        result[leaf] = dict(files, name=leaf, hosts=hosts)
    return result


def build(scenario: Scenario, nodes, leaf_files: dict | None = None) -> dict:
    regions: dict[str, dict] = {}
    hostnames: set = set()
    for node in nodes:
        regions.setdefault(node.spec.region, {"hosts": {}})["hosts"][node.name] = host_vars(node)
        hostnames.update(name for site in node.spec.sites for name in site.hostnames)
    return {
        "all": {
            "children": {
                "tlsfleet_lab": {
                    "children": dict(sorted(regions.items())),
                    "vars": {
                        "tlsfleet_lab_scenario": scenario.name,
                        "tlsfleet_lab_expect_fleet": scenario.expect_fleet,
                        # The candidate a preflight judges (labctl renew LEAF --variant V), or null.
                        "tlsfleet_lab_preflight": vars(scenario.preflight) if scenario.preflight else None,
                        # The CA's output on the controller, as a renewal pipeline would hand it over, each
                        # scoped (hosts:) to the nodes that serve it.
                        "tlsfleet_lab_certificates": scoped(leaf_files or {}, nodes),
                        # The names the external view may probe (they are the lab's public names).
                        "tlsfleet_public_hostnames": sorted(hostnames),
                        # Nodes share the machine's /var: backups go to the node's own /etc overlay instead.
                        "tlsfleet_backup_dir": "/etc/tlsfleet/backups",
                    },
                }
            }
        }
    }


def write(scenario: Scenario, nodes, state: Path) -> Path:
    path = state / "inventory.yml"
    header = f"# Generated by labctl up {scenario.path.name} - do not edit; regenerated at every up.\n"
    tmp = path.with_name(".inventory.yml.tmp")
    tmp.write_text(
        header
        + yaml.safe_dump(
            build(scenario, nodes, certificates(state)), sort_keys=False, default_flow_style=False, width=1000
        )
    )
    tmp.replace(path)
    return path
