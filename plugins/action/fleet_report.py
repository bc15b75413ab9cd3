# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of tlsfleet.stapling.fleet_report: the node_audit results of the play -> the fleet report."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import yaml  # ansible-core depends on PyYAML
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import remediation, renderers
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import report as fleet

ARGUMENT_SPEC = {
    "dest": {"type": "path", "default": "./stapling-report"},
    "hosts": {"type": "list", "elements": "str"},
    "results_var": {"type": "str", "default": "tlsfleet_audit"},
    "region_var": {"type": "str", "default": "tlsfleet_region"},
    "fail_severity": {"type": "str", "default": "error", "choices": list(fleet.THRESHOLDS)},
    "external": {"type": "dict"},
    "merge": {"type": "list", "elements": "path", "default": []},
    "preflight": {"type": "dict"},
}


def breaking_lines(document: dict) -> dict:
    """Host -> one line per site of that node the preflight's candidate will break: site, hostnames and why."""
    section = document.get("preflight")
    lines: dict = {}
    for item in fleet.preflight_breaking(section) if section is not None else []:
        lines.setdefault(item["host"], []).append(
            "site %s (%s) will break: %s"
            % (
                item["site"] or item["server"] or "?",
                ", ".join(item["hostnames"]) or "no hostname",
                "; ".join(item["reasons"]) or "no reason given",
            )
        )
    return lines


def _collection_version() -> str:
    """The version of the installed collection (MANIFEST.json), or of the source tree (galaxy.yml)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        with open(os.path.join(root, "MANIFEST.json"), encoding="utf-8") as stream:
            return str(json.load(stream)["collection_info"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as stream:
            return str(yaml.safe_load(stream)["version"])
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
        return "unknown"


def _load_report(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except OSError as error:
        raise AnsibleActionFail("cannot read the report to merge %s: %s" % (path, error.strerror or error)) from None
    except ValueError as error:
        raise AnsibleActionFail("the report to merge %s is not JSON: %s" % (path, error)) from None
    if not isinstance(document, dict) or document.get("report_format") != fleet.REPORT_FORMAT:
        raise AnsibleActionFail(
            "%s is not a tlsfleet.stapling report.json (format %s expected)" % (path, fleet.REPORT_FORMAT)
        )
    return document


def _addresses(hostvars, host: str) -> list:
    """Where clients or the controller reach ``host``: ansible_host and tlsfleet_public_addresses."""
    found = [str(hostvars.get("ansible_host") or host)]
    extra = hostvars.get("tlsfleet_public_addresses") or []
    if isinstance(extra, str):
        extra = [extra]
    found.extend(str(address) for address in extra)
    return found


def _registered(hostvars, own, host: str, name: str):
    """The host's registered node_audit result, read without templating it again when it is one.

    A registered result was finalized when it was registered; reading it through ``hostvars[host][name]`` copies
    and tags every dict, list and string of it again (about 13 ms of controller CPU per node of the lab's fleet,
    docs/performance.md). Anything else under that name (a variable a user set, a template) is read the usual way.
    """
    raw_get = getattr(hostvars, "raw_get", None)
    if callable(raw_get):
        raw = raw_get(host)
        value = raw.get(name) if isinstance(raw, Mapping) else None
        # A plain dict, not a lazy template container (a dict subclass that templates when read).
        if type(value) is dict:  # pylint: disable=unidiomatic-typecheck
            return value
    return own.get(name)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        args = valid.validated_parameters

        hostvars = task_vars.get("hostvars") or {}
        hosts = args["hosts"]
        left = set()
        if hosts is None:
            hosts = list(task_vars.get("ansible_play_hosts_all") or [])
            # A host that left the run earlier (unreachable or failed in an earlier play or task) still holds
            # the result of an earlier audit in hostvars: reporting it would show stale findings as current.
            active = task_vars.get("ansible_play_hosts")
            if active is not None:
                left = set(hosts) - set(active)
        results, regions, addresses = {}, {}, {}
        for host in hosts:
            own = hostvars.get(host)
            if own is None:
                raise AnsibleActionFail("host %s is not in the inventory" % host)
            if host in left:
                results[host] = {
                    "failed": True,
                    "msg": "not audited in this run: the host left the run earlier (unreachable or failed in an "
                    "earlier task); any earlier result of it is not used",
                }
            else:
                results[host] = _registered(hostvars, own, host, args["results_var"])
            regions[host] = own.get(args["region_var"]) or fleet.DEFAULT_REGION
            addresses[host] = _addresses(own, host)
        try:
            reports = [_load_report(path) for path in args["merge"]]
            if hosts or not reports:
                reports.append(
                    fleet.build_report(
                        results,
                        regions,
                        _collection_version(),
                        fail_threshold=args["fail_severity"],
                        addresses=addresses,
                        external=args["external"],
                        preflight=args["preflight"],
                    )
                )
            document = fleet.merge_reports(reports) if len(reports) > 1 else reports[0]
            if document["summary"]["fail_threshold"] != args["fail_severity"]:
                raise ValueError(
                    "the merged reports were made with fail severity %s, not %s"
                    % (document["summary"]["fail_threshold"], args["fail_severity"])
                )
            dest = os.path.abspath(args["dest"])
            files = renderers.write_report(document, dest)
        except AnsibleActionFail:
            raise
        except ValueError as error:
            raise AnsibleActionFail(to_native(error)) from None
        except OSError as error:
            raise AnsibleActionFail(
                "cannot write the report to %s: %s" % (error.filename or args["dest"], error.strerror or error)
            ) from None
        except Exception as error:  # a clear message, never a traceback, whatever went wrong
            raise AnsibleActionFail(
                "fleet_report could not build the report (%s: %s); the previous report files in %s are unchanged"
                % (type(error).__name__, to_native(error), args["dest"])
            ) from None

        summary = document["summary"]
        failing = {host: [] for host in summary["failing_hosts"]}
        for node in document["nodes"]:
            if node["host"] in failing and node["status"] != "ok":
                failing[node["host"]].append("%s: %s" % (node["status"], node["message"]))
        for item in fleet.failing_findings(document):
            line = "%s %s%s%s" % (
                item["severity"],
                item["code"],
                " for %s" % item["hostname"] if item["hostname"] else "",
                " (%s)" % item["server"] if item["server"] else "",
            )
            for host in fleet.hosts_of(item):
                failing.setdefault(host, []).append(line)
        section = document.get("preflight")
        if section is not None:
            breaking = breaking_lines(document)
            result.update(
                preflight=section["summary"],
                preflight_breaking=["%s: %s" % (host, line) for host, lines in breaking.items() for line in lines],
                preflight_changes=[
                    dict(change, by_rollout=remediation.rollout_makes(change, change["server"]))
                    for change in fleet.preflight_changes(section)
                ],
                preflight_failing={
                    **{
                        entry["host"]: ["not judged: %s" % entry["message"]]
                        for entry in section["nodes"]
                        if entry["status"] != "judged"
                    },
                    **breaking,
                },
            )
        result.update(
            failing=failing,
            fleet_findings=[item for item in document["findings"] if item["host"] is None],
            changed=False,  # the report is output of the run, not a change to any managed host
            report_dir=dest,
            files=files,
            stats=fleet.set_stats_summary(document),
            failing_hosts=list(summary["failing_hosts"]),
            worst_severity=summary["worst_severity"],
            findings=summary["findings"],
            msg="%d nodes, %d hostnames, %d findings (worst: %s); report in %s"
            % (summary["nodes"], summary["hostnames"], summary["findings"], summary["worst_severity"] or "none", dest),
        )
        return result
