"""labctl: bring the lab fleet up and down, show it, check it (``python -m tlslab.cli --help``).

Errors are one line on stderr and exit status 2 (1 for ``check`` disagreements); never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

from .netns import LabError, state_dir

# The renewal variants (tlslab.pki.RENEW_VARIANTS; repeated so `labctl --help` needs no cryptography).
RENEW_VARIANTS = ("plain", "new-intermediate", "no-ocsp-url", "must-staple", "short-lived", "not-yet-valid")

# binary -> Debian package
ALWAYS = {
    "/usr/sbin/sshd": "openssh-server",
    "/usr/bin/ssh-keygen": "openssh-client",
    "/usr/sbin/dnsmasq": "dnsmasq",
    "/usr/sbin/nft": "nftables",
    "/usr/bin/openssl": "openssl",
    "/usr/bin/unshare": "util-linux",
}
IPROUTE = {"ip": "iproute2", "ss": "iproute2"}
SERVER_BINARIES = {
    "nginx": {"/usr/sbin/nginx": "nginx"},
    "apache": {"/usr/sbin/apache2": "apache2", "/usr/sbin/apache2ctl": "apache2"},
    "haproxy": {"/usr/sbin/haproxy": "haproxy"},
}
NODE_PYTHON_MODULES = {"cryptography": "python3-cryptography", "OpenSSL": "python3-openssl"}
ALL_PACKAGES = (
    "nginx apache2 haproxy openssh-server openssh-client dnsmasq nftables openssl iproute2 "
    "python3 python3-cryptography python3-openssl python3-yaml"
)


def missing_packages(scenario=None) -> list[str]:
    """Debian packages the lab (and this scenario's servers and node interpreters) need but lack."""
    need = dict(ALWAYS)
    servers = {s for n in scenario.nodes for s in n.servers} if scenario else set(SERVER_BINARIES)
    for server in sorted(servers):
        need.update(SERVER_BINARIES[server])
    missing = [pkg for path, pkg in need.items() if not os.access(path, os.X_OK)]
    missing += [pkg for cmd, pkg in IPROUTE.items() if shutil.which(cmd) is None]
    pythons = {n.python for n in scenario.nodes} if scenario else {"/usr/bin/python3"}
    for python in sorted(pythons):
        missing += _python_missing(python)
    return list(dict.fromkeys(missing))


def _python_missing(python: str) -> list[str]:
    """Debian packages for the system python3; for another interpreter, what it lacks (in parentheses)."""
    system = python == "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        return ["python3"] if system else [f"(node interpreter {python} does not exist)"]
    out = []
    for module, pkg in NODE_PYTHON_MODULES.items():
        proc = subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False)
        if proc.returncode != 0:
            out.append(pkg if system else f"(node interpreter {python} lacks the module {module})")
    return out


def require_packages(scenario=None) -> None:
    missing = missing_packages(scenario)
    if missing:
        pkgs = [p for p in missing if not p.startswith("(")]
        others = [p.strip("()") for p in missing if p.startswith("(")]
        text = []
        if pkgs:
            text.append(
                f"missing on this machine: {', '.join(pkgs)}; install with: apt-get install -y {' '.join(pkgs)}"
                " (or: make lab-deps)"
            )
        raise LabError("; ".join(text + others))


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise LabError(f"labctl {what} needs root (it creates network namespaces and mounts); run it with sudo")


# ---------------------------------------------------------------- commands


def cmd_up(args) -> int:
    from . import nodes, oracle, scenario

    require_root("up")
    scen = scenario.load(args.scenario)
    require_packages(scen)
    try:
        nodes.up(scen)
    except (LabError, OSError) as exc:
        if os.environ.get("TLSFLEET_LAB_KEEP_FAILED"):
            raise LabError(f"{exc} (the half-started lab is kept for inspection; labctl down removes it)") from exc
        nodes.down(log=lambda *_: None)
        raise LabError(f"{exc} (the half-started lab was taken down; TLSFLEET_LAB_KEEP_FAILED=1 keeps it)") from exc
    if args.check:
        return _report(oracle.check_lab(scen), args.json)
    return 0


def cmd_down(args) -> int:
    from . import nodes

    require_root("down")
    nodes.down()
    if args.purge:
        shutil.rmtree(state_dir(), ignore_errors=True)
        print(f"labctl: removed {state_dir()}")
    return 0


def cmd_status(args) -> int:
    from . import nodes

    st = nodes.status()
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    print(_format_status(st))
    return 0


def _format_status(st: dict) -> str:
    if not st["up"]:
        lines = ["lab: down"]
    else:
        svc = ", ".join(f"{k} {'running' if v else 'NOT RUNNING'}" for k, v in st["services"].items())
        lines = [
            f"lab: up ({'ready' if st.get('ready') else 'starting'}) scenario {st['scenario']}",
            f"services: {svc}",
        ]
        lines.append(f"{'NODE':<18} {'REGION':<8} {'ADDRESS':<14} NETNS  PROCESSES")
        for n in st["nodes"]:
            procs = " ".join(f"{k}:{'up' if v else 'DOWN'}" for k, v in n["processes"].items())
            lines.append(
                f"{n['name']:<18} {n['region']:<8} {n['address']:<14} {'yes' if n['netns'] else 'NO ':<6} {procs}"
            )
    left = {k: v for k, v in st["leftovers"].items() if v}
    if left:
        lines.append("leftovers (labctl down removes them): " + json.dumps(left))
    return "\n".join(lines)


def cmd_inventory(_args) -> int:
    path = state_dir() / "inventory.yml"
    if not path.exists():
        raise LabError("the lab is not up (no inventory): run labctl up SCENARIO.yml first")
    print(path)
    return 0


def cmd_check(args) -> int:
    from . import nodes, oracle, scenario

    require_root("check")
    record = nodes.read_record()
    if not record or not record.get("ready"):
        raise LabError("the lab is not up: run labctl up SCENARIO.yml first")
    scen = scenario.load(record["scenario"])
    return _report(oracle.check_lab(scen, only=args.node, recheck=args.recheck), args.json)


def _report(results: list[dict], as_json: bool) -> int:
    from . import oracle

    if as_json:
        print(json.dumps(results, indent=2))
    else:
        print(oracle.format_results(results))
    return 0 if all(r["ok"] for r in results) else 1


def cmd_exec(args) -> int:
    from . import nodes

    require_root("exec")
    node = nodes.node_env(args.node)
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    return subprocess.call([str(node.enter), *argv])


def _leaf_hosts(leaf: str) -> list:
    import yaml

    try:
        inventory = yaml.safe_load((state_dir() / "inventory.yml").read_text()) or {}
        lab = inventory["all"]["children"]["tlsfleet_lab"]
        return list(lab["vars"]["tlsfleet_lab_certificates"][leaf]["hosts"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return []


def cmd_renew(args) -> int:
    """A CA renewal of one leaf (new serial, new key): prints its files, as tlsfleet_certificates takes them.

    --variant makes the CA issue something else this time (tlslab.pki.RENEW_VARIANTS): the candidates a
    preflight judges. The files are the leaf's own (the nodes keep serving their copies until a deploy).
    """
    from .pki import Pki, PkiError

    require_root("renew")
    try:
        leaf = Pki.load(state_dir()).renew_leaf(args.leaf, new_key=not args.keep_key, variant=args.variant)
    except PkiError as exc:
        raise LabError(f"PKI: {exc}") from exc
    files = {"certificate": str(leaf.cert_path), "key": str(leaf.key_path), "chain": str(leaf.chain_path)}
    # hosts: the nodes that serve the leaf, from the inventory labctl up wrote (the rollout's scope).
    files["hosts"] = _leaf_hosts(args.leaf)
    details = {
        "sha256": leaf.sha256,
        "serial": leaf.serial,
        "variant": leaf.variant,
        "ca": leaf.issuer,
        "issuer_file": str(leaf.issuer_path),
        "not_before": leaf.not_before,
        "not_after": leaf.not_after,
        "ocsp_urls": list(leaf.ocsp_urls),
        "must_staple": leaf.must_staple,
    }
    print(json.dumps(dict(files, **details)))
    return 0


def cmd_egress(args) -> int:
    """Replace a node's egress blocks, e.g. ``labctl egress eu-web-1 ocsp=drop`` (nothing: unblock all)."""
    from . import firewall, nodes

    require_root("egress")
    node = nodes.node_env(args.node)
    blocks = {}
    for item in args.blocks:
        target, _sep, action = item.partition("=")
        if target not in firewall.TARGET_ADDRS or action not in ("reject", "drop"):
            raise SystemExit(
                "labctl egress: %r is not TARGET=reject|drop (targets: %s)" % (item, ", ".join(firewall.TARGET_ADDRS))
            )
        blocks[target] = action
    firewall.apply(node.ns, blocks)
    print(
        "labctl: egress of %s: %s" % (args.node, ", ".join("%s=%s" % pair for pair in sorted(blocks.items())) or "open")
    )
    return 0


def cmd_preflight(_args) -> int:
    require_packages()
    print("labctl: every package the lab needs is installed")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labctl", description="The tlsfleet lab fleet: nodes, servers, faults.")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring a scenario up (replaces a running lab)")
    up.add_argument("scenario", type=Path)
    up.add_argument("--check", action="store_true", help="run the oracle afterwards")
    up.add_argument("--json", action="store_true", help="with --check: JSON results")
    up.set_defaults(fn=cmd_up)
    down = sub.add_parser("down", help="stop everything and remove namespaces, links and /etc/netns entries")
    down.add_argument("--purge", action="store_true", help="also remove the state directory (PKI, keys)")
    down.set_defaults(fn=cmd_down)
    status = sub.add_parser("status", help="nodes, addresses, servers and whether each process runs")
    status.add_argument("--json", action="store_true")
    status.set_defaults(fn=cmd_status)
    sub.add_parser("inventory", help="print the path of the generated Ansible inventory").set_defaults(fn=cmd_inventory)
    check = sub.add_parser("check", help="the oracle: staple state and responder answer per node and hostname")
    check.add_argument("--node", help="only this node")
    check.add_argument("--json", action="store_true")
    check.add_argument(
        "--recheck",
        action="store_true",
        help="only staple, certificate and chain per hostname, no warm-up: does what a first check saw still hold",
    )
    check.set_defaults(fn=cmd_check)
    ex = sub.add_parser("exec", help="run a command inside a node (default: a shell)")
    ex.add_argument("node")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    ex.set_defaults(fn=cmd_exec)
    renew = sub.add_parser("renew", help="renew a leaf (new serial and key) and print its files as JSON")
    renew.add_argument("leaf")
    renew.add_argument("--keep-key", action="store_true", help="keep the leaf's key (a new serial only)")
    renew.add_argument(
        "--variant",
        default="plain",
        choices=RENEW_VARIANTS,
        help="what the CA issues this time: plain (as before), new-intermediate (a new intermediate of the same"
        " root), no-ocsp-url, must-staple, short-lived (6 days), not-yet-valid (notBefore +2 days)",
    )
    renew.set_defaults(fn=cmd_renew)
    egress = sub.add_parser("egress", help="replace a node's egress blocks: NODE [ocsp|ca_issuers|dns=reject|drop ...]")
    egress.add_argument("node")
    egress.add_argument("blocks", nargs="*")
    egress.set_defaults(fn=cmd_egress)
    sub.add_parser("preflight", help="check that every package the lab needs is installed").set_defaults(
        fn=cmd_preflight
    )
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except LabError as exc:
        print(f"labctl: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(
            f"labctl: error: the lab's Python ({sys.executable}) lacks the module {exc.name}; install python3-yaml"
            " and python3-cryptography, or point TLSFLEET_LAB_PYTHON at a Python that has them",
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:  # e.g. `labctl status | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("labctl: interrupted; run labctl down to clean up", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback for the user; TLSFLEET_LAB_DEBUG=1 shows it
        if os.environ.get("TLSFLEET_LAB_DEBUG"):
            raise
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(
            f"labctl: internal error: {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno});"
            " rerun with TLSFLEET_LAB_DEBUG=1 for details, and labctl down to clean up",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
