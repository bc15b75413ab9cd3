"""Scenario files: load, validate and normalise them (format documented in tests/lab/README.md).

A scenario is declarative: what the fleet looks like *as deployed* (certificates, chains, stapling
configuration, faults) and what a correct diagnosis and the independent oracle must observe.
Validation is strict: an unknown key or value is an error naming where it is, so a typo cannot
silently produce a healthy node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .netns import MAX_NODES, LabError

# The collection's cause catalogue (plugins/module_utils/findings.py, docs/causes.md): the only codes an `expect:`
# may name. The lab keeps its own copy so it runs without the collection; a unit test keeps the two equal.
CAUSE_CODES = frozenset(
    {
        "no_ocsp_url",
        "stapling_without_ocsp",
        "stapling_disabled",
        "stapling_unsupported",
        "chain_incomplete",
        "chain_misordered",
        "chain_extra",
        "key_mismatch",
        "resolver_missing",
        "responder_unreachable",
        "responder_error",
        "staple_missing",
        "staple_expired",
        "staple_expiring",
        "staple_invalid",
        "cert_revoked",
        "cert_status_unknown",
        "must_staple_unmet",
        "stale_cert_path",
        "stapling_cache_missing",
        "trusted_cert_missing",
        "node_drift",
        "cert_expiring",
        "cert_expired",
        "server_down",
        "config_test_failed",
        "no_tls_site",
        "resolver_failing",
        "crl_unreachable",
        "crl_stale",
        "crl_invalid",
    }
)
SERVERS = ("nginx", "apache", "haproxy")
ISSUERS = ("int-a-rsa", "int-a-ec", "int-b", "int-n")
KEY_TYPES = ("rsa", "ecdsa")
VALIDITY = ("valid", "expiring", "expired")
CHAINS = ("full", "leaf_only", "misordered", "with_root", "extra_unrelated")
AFTER_START = ("none", "renew_no_reload", "replace_cert_reload_fails")
EGRESS_TARGETS = ("ocsp", "ca_issuers", "dns", "crl")
# What the lab CA publishes as the leaf's CRL (tlslab.services.publish_crls); none: the leaf has no CRL DP.
CRL_MODES = ("none", "good", "revoked", "stale", "wrong_signer", "delta", "shard", "closed")
EGRESS_ACTIONS = ("reject", "drop")
RESOLV = ("lab", "nowhere")
STAPLE_STATES = (
    "good",
    "expiring",
    "sigrequired",
    "none",
    "revoked",
    "unknown",
    "expired",
    "invalid",
    "trylater",
    "unauthorized",
    "malformedrequest",
    "internalerror",
    "no_server",
)
NGINX_RESOLVER = ("lab", "none", "nowhere", "nxdomain", "servfail")
NGINX_TRUSTED = ("full", "issuer_only", "none", "unrelated")
STAPLE_FILE = ("none", "good", "expired", "other")
RESERVED_GROUPS = ("all", "ungrouped", "tlsfleet_lab")
# `generate:` on a leaf: how many leaves one entry may stand for (the benchmarks use 200).
MAX_GENERATED = 1000
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

# `preflight:` - the candidate a preflight judges (labctl renew LEAF --variant V; tlslab.pki.RENEW_VARIANTS) - and
# `preflight_expect:` per site: node_audit's verdict and check statuses (plugins/module_utils/preflight.py, closed sets
# checked by a unit test against the collection's).
PREFLIGHT_VARIANTS = ("plain", "new-intermediate", "no-ocsp-url", "must-staple", "short-lived", "not-yet-valid")
PREFLIGHT_VERDICTS = ("ready", "ready_after_change", "will_break")
PREFLIGHT_CHECKS = (
    "validity",
    "key_match",
    "chain",
    "issuer_file",
    "ocsp_url",
    "staple_file",
    "responder",
    "must_staple",
)
PREFLIGHT_STATUSES = ("ok", "warning", "change", "fail")

STAPLING_DEFAULTS = {
    "nginx": {
        "enabled": True,
        "resolver": "lab",
        "verify": True,
        "trusted": "full",
        "file": "none",
        "cert_via_variable": False,
    },
    "apache": {"enabled": True, "cache": True},
    "haproxy": {"enabled": True, "ocsp_file": "good", "issuer_file": False},
}
STAPLING_CHOICES = {
    ("nginx", "resolver"): NGINX_RESOLVER,
    ("nginx", "trusted"): NGINX_TRUSTED,
    ("nginx", "file"): STAPLE_FILE,
    ("haproxy", "ocsp_file"): STAPLE_FILE,
}


@dataclass
class Leaf:
    name: str
    hostnames: list[str]
    issuer: str = "int-a-rsa"
    key_type: str = "rsa"
    must_staple: bool = False
    validity: str = "valid"
    ocsp_url: bool = True
    ocsp: dict = field(default_factory=lambda: {"mode": "good"})
    crl: str = "none"


@dataclass
class Site:
    name: str
    server: str
    leaf: str
    hostnames: list[str]
    port: int
    chain: str
    stapling: dict
    after_start: str
    staple: str
    expect: list[str]
    # {"verdict": ..., "checks": {check: status}}: what node_audit's preflight of the scenario's candidate says.
    preflight_expect: dict | None = None


@dataclass
class Preflight:
    """The scenario's candidate: ``labctl renew LEAF --variant VARIANT`` (with ``--keep-key`` unless new_key)."""

    leaf: str
    variant: str = "plain"
    new_key: bool = False


@dataclass
class Faults:
    egress: dict = field(default_factory=dict)
    egress_at_start: dict = field(default_factory=dict)
    resolv: str = "lab"
    stopped: list = field(default_factory=list)  # servers stopped after start and warm-up


@dataclass
class Node:
    name: str
    region: str
    python: str
    servers: list[str]
    sites: list[Site]
    faults: Faults
    server_down: list[str] = field(default_factory=list)
    expect: list[str] = field(default_factory=list)  # node-wide finding codes (no hostname)


@dataclass
class Scenario:
    name: str
    description: str
    path: Path
    leaves: dict[str, Leaf]
    nodes: list[Node]
    expect_fleet: list[dict]
    # A leaf with `generate:` -> the names of the leaves it stands for, in order.
    generated: dict[str, list[str]] = field(default_factory=dict)
    preflight: Preflight | None = None

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise LabError(f"scenario {self.name} has no node {name}")


class _Map:
    """A mapping being read: remembers which keys were used, so leftovers can be reported."""

    def __init__(self, data, where: str):
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise LabError(f"{where}: expected a mapping, got {type(data).__name__}")
        self.data, self.where, self.used = data, where, set()

    def get(self, key, default=None, kind=None, choices=None):
        self.used.add(key)
        value = self.data.get(key, default)
        if value is None:
            return default
        if kind is not None and not _is_kind(value, kind):
            raise LabError(f"{self.where}.{key}: expected {kind.__name__}, got {value!r}")
        if choices is not None and value not in choices:
            raise LabError(f"{self.where}.{key}: {value!r} is not one of {', '.join(map(str, choices))}")
        return value

    def allow(self, *keys):
        """Report unknown keys first: a misspelt key explains a 'missing' one better than anything."""
        extra = sorted(set(self.data) - set(keys), key=str)
        if extra:
            raise LabError(f"{self.where}: unknown key(s) {', '.join(map(str, extra))} (known: {', '.join(keys)})")

    def done(self):
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise LabError(f"{self.where}: unknown key(s) {', '.join(map(str, extra))}")


def _is_kind(value, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def load(path) -> Scenario:
    import yaml  # PyYAML: needed to read scenarios, not to bring a lab down

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise LabError(f"cannot read scenario {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise LabError(f"scenario {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    return parse(data, path)


def parse(data, path: Path) -> Scenario:
    top = _Map(data, path.name)
    name = top.get("name", path.stem, str)
    description = top.get("description", "", str)
    python = top.get("python", "/usr/bin/python3", str)
    leaves, generated = _leaves(top.get("leaves", {}, dict), f"{path.name}:leaves")
    raw_nodes = top.get("nodes", None, list)
    if not raw_nodes:
        raise LabError(f"{path.name}: a scenario needs at least one node under nodes:")
    nodes = [_node(raw, f"{path.name}:nodes[{i}]", leaves, python, generated) for i, raw in enumerate(raw_nodes)]
    expect_fleet = _expect_fleet(top.get("expect_fleet", [], list), f"{path.name}:expect_fleet", nodes)
    preflight = _preflight(top.get("preflight", None, dict), f"{path.name}:preflight", leaves)
    top.done()
    scenario = Scenario(name, description, path, leaves, nodes, expect_fleet, generated, preflight)
    _check_unique_nodes(scenario)
    _check_preflight_expect(scenario)
    return scenario


def _preflight(raw, where: str, leaves: dict[str, Leaf]) -> Preflight | None:
    if raw is None:
        return None
    m = _Map(raw, where)
    leaf = m.get("leaf", None, str)
    if leaf not in leaves:
        raise LabError(f"{where}.leaf: {leaf!r} is not defined under leaves:")
    preflight = Preflight(
        leaf=leaf,
        variant=m.get("variant", "plain", str, PREFLIGHT_VARIANTS),
        new_key=m.get("new_key", False, bool),
    )
    m.done()
    return preflight


def _preflight_expect_of(raw, where: str) -> dict | None:
    """``ready`` or {verdict: ready, checks: {issuer_file: change}} -> {"verdict": ..., "checks": {...}}."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"verdict": raw}
    m = _Map(raw, where)
    verdict = m.get("verdict", None, str, PREFLIGHT_VERDICTS)
    if verdict is None:
        raise LabError(f"{where}.verdict: give the verdict ({', '.join(PREFLIGHT_VERDICTS)})")
    checks = _Map(m.get("checks", {}, dict), f"{where}.checks")
    statuses = {name: checks.get(name, None, str, PREFLIGHT_STATUSES) for name in PREFLIGHT_CHECKS}
    checks.done()
    m.done()
    return {"verdict": verdict, "checks": {k: v for k, v in statuses.items() if v is not None}}


def preflight_covers(scenario: Scenario, site: Site) -> bool:
    """Whether the scenario's candidate names every one of the site's hostnames (the sites node_audit judges and the
    rollout deploys to: plugins/module_utils/coverage.py; lab sites hold one certificate each and no wildcards)."""
    if scenario.preflight is None:
        return False
    return bool(site.hostnames) and set(site.hostnames) <= set(scenario.leaves[scenario.preflight.leaf].hostnames)


def _check_preflight_expect(scenario: Scenario) -> None:
    """A scenario with a candidate says what is expected of every site it covers, and of no other."""
    for node in scenario.nodes:
        not_running = set(node.server_down) | set(node.faults.stopped)
        for site in node.sites:
            where = f"{scenario.path.name}: node {node.name}, site {site.server} {site.name}"
            covered = preflight_covers(scenario, site)
            if site.preflight_expect is not None and scenario.preflight is None:
                raise LabError(f"{where}: preflight_expect without a candidate (give preflight: at the top)")
            if site.preflight_expect is not None and not covered:
                raise LabError(f"{where}: preflight_expect on a site the candidate's names do not cover")
            if covered and site.server not in not_running and site.preflight_expect is None:
                raise LabError(
                    f"{where}: the candidate covers this site; say what its preflight gives (preflight_expect)"
                )


def _leaves(raw: dict, where: str) -> tuple[dict[str, Leaf], dict[str, list[str]]]:
    """The leaves, with every `generate:` entry expanded; and generated name -> the leaf names it became."""
    leaves: dict[str, Leaf] = {}
    generated: dict[str, list[str]] = {}
    for name, spec in raw.items():
        w = f"{where}.{name}"
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise LabError(f"{w}: leaf names are lower-case letters, digits and '-'")
        m = _Map(spec, w)
        generate = m.get("generate", None, dict)
        if generate is not None and m.data.get("hostnames") is not None:
            raise LabError(f"{w}: give either hostnames or generate, not both")
        if generate is None:
            names = {name: _hostnames(m.get("hostnames", None, list), f"{w}.hostnames")}
        else:
            names = _generate(name, generate, f"{w}.generate")
            generated[name] = list(names)
        common = {
            "issuer": m.get("issuer", "int-a-rsa", str, ISSUERS),
            "key_type": m.get("key_type", "rsa", str, KEY_TYPES),
            "must_staple": m.get("must_staple", False, bool),
            "validity": m.get("validity", "valid", str, VALIDITY),
            "ocsp_url": m.get("ocsp_url", True, bool),
            "crl": m.get("crl", "none", str, CRL_MODES),
        }
        rule = m.get("ocsp", "good")
        m.done()
        for leaf_name, hostnames in names.items():
            if leaf_name in leaves:
                raise LabError(f"{w}: the leaf name {leaf_name} is defined twice")
            leaf = Leaf(name=leaf_name, hostnames=hostnames, ocsp=_ocsp_rule(rule, f"{w}.ocsp"), **common)
            if leaf.issuer == "int-n":
                leaf.ocsp_url = False
            leaves[leaf_name] = leaf
    clash = sorted(set(generated) & set(leaves))
    if clash:
        raise LabError(f"{where}.{clash[0]}: a generated leaf {clash[0]}-N is also named {clash[0]}")
    return leaves, generated


def _generate(name: str, raw: dict, where: str) -> dict[str, list[str]]:
    """`generate: {count: 200, pattern: "site{n}.bench.test", start: 1}` -> {"NAME-1": ["site1.bench.test"], ...}."""
    m = _Map(raw, where)
    count = m.get("count", None, int)
    pattern = m.get("pattern", None, str)
    start = m.get("start", 1, int)
    m.done()
    if count is None or not 1 <= count <= MAX_GENERATED:
        raise LabError(f"{where}.count: give a number of leaves from 1 to {MAX_GENERATED}")
    if not pattern or pattern.count("{n}") != 1:
        raise LabError(f"{where}.pattern: give one hostname with {{n}} where the number goes, e.g. s{{n}}.bench.test")
    if start < 0:
        raise LabError(f"{where}.start: {start} is negative")
    out = {}
    for n in range(start, start + count):
        leaf_name = f"{name}-{n}"
        if not NAME_RE.match(leaf_name):
            raise LabError(f"{where}: the generated leaf name {leaf_name} is too long (at most 31 characters)")
        out[leaf_name] = _hostnames([pattern.replace("{n}", str(n))], f"{where}.pattern")
    return out


def _ocsp_rule(raw, where: str) -> dict:
    """The responder rule for a leaf: a mode name or {mode: NAME, params...} (see tlslab.responder)."""
    from .responder import BehaviourError, validate_rule

    try:
        return validate_rule(raw, where)
    except BehaviourError as exc:
        raise LabError(str(exc)) from exc


def _hostnames(raw, where: str) -> list[str]:
    if not raw:
        raise LabError(f"{where}: give at least one hostname")
    for host in raw:
        if not isinstance(host, str) or not HOST_RE.match(host):
            raise LabError(f"{where}: {host!r} is not a valid DNS name")
    return list(raw)


def _node(raw, where: str, leaves: dict[str, Leaf], python: str, generated: dict[str, list[str]]) -> Node:
    m = _Map(raw, where)
    m.allow("name", "region", "python", "servers", "sites", "faults", "server_down", "expect")
    name = m.get("name", None, str)
    if not name or not NAME_RE.match(name):
        raise LabError(f"{where}.name: node names are lower-case letters, digits and '-' (at most 31)")
    where = f"{where}({name})"
    region = m.get("region", None, str)
    if not region or not re.match(r"^[a-z][a-z0-9_]{0,15}$", region) or region in RESERVED_GROUPS:
        raise LabError(f"{where}.region: give a region such as eu, us or ap (not {', '.join(RESERVED_GROUPS)})")
    sites = []
    for i, raw_site in enumerate(m.get("sites", [], list)):
        sites.extend(_sites(raw_site, f"{where}.sites[{i}]", leaves, generated))
    servers = list(dict.fromkeys(m.get("servers", [], list) + [s.server for s in sites]))
    for server in servers:
        if server not in SERVERS:
            raise LabError(f"{where}.servers: {server!r} is not one of {', '.join(SERVERS)}")
    server_down = m.get("server_down", [], list)
    for server in server_down:
        if server not in servers:
            raise LabError(f"{where}.server_down: {server!r} is not a server of this node")
    faults = _faults(m.get("faults", {}, dict), f"{where}.faults")
    for server in faults.stopped:
        if server not in servers:
            raise LabError(f"{where}.faults.stopped: {server!r} is not a server of this node")
        if server in server_down:
            raise LabError(
                f"{where}.faults.stopped: {server} is in server_down: it never starts, so it cannot be stopped"
            )
    node = Node(
        name=name,
        region=region,
        python=m.get("python", python, str),
        servers=servers,
        sites=sites,
        faults=faults,
        server_down=server_down,
        expect=_node_expect(m.get("expect", [], list), f"{where}.expect"),
    )
    m.done()
    _default_staples(node, where)
    _check_ports(node, where)
    return node


def _sites(raw, where: str, leaves: dict[str, Leaf], generated: dict[str, list[str]]) -> list[Site]:
    """One site, or one per leaf when the site names a generated leaf (each named and served as its leaf)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("leaf"), str) or raw["leaf"] not in generated:
        return [_site(raw, where, leaves)]
    for key in ("name", "hostnames"):
        if key in raw:
            raise LabError(f"{where}.{key}: not allowed with a generated leaf (each site takes its leaf's)")
    return [_site({**raw, "leaf": leaf_name}, f"{where}({leaf_name})", leaves) for leaf_name in generated[raw["leaf"]]]


def _site(raw, where: str, leaves: dict[str, Leaf]) -> Site:
    m = _Map(raw, where)
    m.allow(
        "server",
        "leaf",
        "hostnames",
        "name",
        "expect",
        "port",
        "chain",
        "stapling",
        "after_start",
        "staple",
        "preflight_expect",
    )
    server = m.get("server", None, str, SERVERS)
    if server is None:
        raise LabError(f"{where}.server: say which server serves this site ({', '.join(SERVERS)})")
    leaf_name = m.get("leaf", None, str)
    if leaf_name not in leaves:
        raise LabError(f"{where}.leaf: {leaf_name!r} is not defined under leaves:")
    leaf = leaves[leaf_name]
    hostnames = _hostnames(m.get("hostnames", leaf.hostnames, list), f"{where}.hostnames")
    name = m.get("name", leaf_name, str)
    if not NAME_RE.match(name):
        raise LabError(f"{where}.name: site names are lower-case letters, digits and '-'")
    expect = m.get("expect", [], list)
    for code in expect:
        if code not in CAUSE_CODES:
            raise LabError(f"{where}.expect: {code!r} is not a code of the cause catalogue")
    port = m.get("port", 443, int)
    if not 1 <= port <= 65535 or port in (22, 53, 80):
        raise LabError(f"{where}.port: {port} is not usable for a site")
    site = Site(
        name=name,
        server=server,
        leaf=leaf_name,
        hostnames=hostnames,
        port=port,
        chain=m.get("chain", "full", str, CHAINS),
        stapling=_stapling(server, m.get("stapling", {}, dict), f"{where}.stapling"),
        after_start=m.get("after_start", "none", str, AFTER_START),
        staple=m.get("staple", None, str, STAPLE_STATES),  # default set by _default_staples
        expect=list(expect),
        preflight_expect=_preflight_expect_of(m.get("preflight_expect", None), f"{where}.preflight_expect"),
    )
    m.done()
    return site


def _default_staples(node: Node, where: str) -> None:
    """A site of a server that is down or stopped is not served: its staple is no_server, and nothing else."""
    not_running = set(node.server_down) | set(node.faults.stopped)
    for site in node.sites:
        if site.server not in not_running:
            site.staple = site.staple or "good"
        elif site.staple in (None, "no_server"):
            site.staple = "no_server"
        else:
            raise LabError(
                f"{where}: site {site.name}: {site.server} does not run (server_down or faults.stopped),"
                f" so its staple is no_server, not {site.staple}"
            )


def _stapling(server: str, raw: dict, where: str) -> dict:
    m = _Map(raw, where)
    out = {}
    for key, default in STAPLING_DEFAULTS[server].items():
        kind = bool if isinstance(default, bool) else str
        out[key] = m.get(key, default, kind, STAPLING_CHOICES.get((server, key)))
    m.done()
    if server == "haproxy" and not out["enabled"]:
        out["ocsp_file"] = "none"
    return out


def _faults(raw: dict, where: str) -> Faults:
    m = _Map(raw, where)
    faults = Faults(
        egress=_egress(m.get("egress", {}, dict), f"{where}.egress"),
        egress_at_start=_egress(m.get("egress_at_start", {}, dict), f"{where}.egress_at_start"),
        resolv=m.get("resolv", "lab", str, RESOLV),
        stopped=m.get("stopped", [], list),
    )
    m.done()
    if len(set(faults.stopped)) != len(faults.stopped):
        raise LabError(f"{where}.stopped: a server is listed twice")
    return faults


def _egress(raw: dict, where: str) -> dict:
    m = _Map(raw, where)
    out = {t: m.get(t, None, str, EGRESS_ACTIONS) for t in EGRESS_TARGETS}
    m.done()
    return {k: v for k, v in out.items() if v}


def _expect_fleet(raw: list, where: str, nodes: list[Node]) -> list[dict]:
    names = {n.name for n in nodes}
    out = []
    for i, item in enumerate(raw):
        m = _Map(item, f"{where}[{i}]")
        code = m.get("code", None, str)
        if code not in CAUSE_CODES:
            raise LabError(f"{where}[{i}].code: {code!r} is not a code of the cause catalogue")
        hostname = m.get("hostname", None, str)
        members = m.get("nodes", [], list)
        unknown = [n for n in members if n not in names]
        if unknown:
            raise LabError(f"{where}[{i}].nodes: unknown node(s) {', '.join(map(str, unknown))}")
        odd = m.get("odd_nodes", [], list)
        m.done()
        out.append({"code": code, "hostname": hostname, "nodes": members, "odd_nodes": odd})
    return out


def _check_ports(node: Node, where: str) -> None:
    owner: dict[int, str] = {}
    for site in node.sites:
        if owner.setdefault(site.port, site.server) != site.server:
            raise LabError(
                f"{where}: {owner[site.port]} and {site.server} both listen on port {site.port};"
                " give the sites of one of them another port"
            )
    names = [(s.server, s.name) for s in node.sites]
    if len(names) != len(set(names)):
        raise LabError(f"{where}: two sites of one server share a name; set name: on one of them")


def _check_unique_nodes(scenario: Scenario) -> None:
    names = [n.name for n in scenario.nodes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise LabError(f"{scenario.path.name}: duplicate node name(s) {', '.join(dupes)}")
    if len(names) > MAX_NODES:
        raise LabError(f"{scenario.path.name}: at most {MAX_NODES} nodes")
    if "svc" in names:
        raise LabError(f"{scenario.path.name}: 'svc' is reserved for the lab services namespace")


def _node_expect(raw: list, where: str) -> list[str]:
    for code in raw:
        if code not in CAUSE_CODES:
            raise LabError(f"{where}: {code!r} is not a code of the cause catalogue")
    return list(dict.fromkeys(raw))


def expect_by_hostname(node: Node) -> dict[str, list[str]]:
    """The node's expect data: finding codes per hostname (every hostname of every site is listed); node-wide
    codes (findings without a hostname) under the empty name."""
    out: dict[str, list[str]] = {"": list(node.expect)} if node.expect else {}
    for site in node.sites:
        for host in site.hostnames:
            codes = out.setdefault(host, [])
            codes.extend(c for c in site.expect if c not in codes)
    return out


def staple_by_hostname(node: Node) -> dict[str, str]:
    return {f"{site.server}:{site.port}:{host}": site.staple for site in node.sites for host in site.hostnames}
