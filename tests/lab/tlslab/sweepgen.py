"""Random lab scenarios that combine faults (the scenario sweep, tests/integration/lab/sweep.py).

One place for the sweep's vocabulary (``VOCABULARY``, documented in tests/lab/README.md, "Sweep"): what a
generated fleet may combine, with weights. ``generate(seed)`` is a pure function of the seed (its own
``random.Random``), so a failing scenario replays alone. Besides the scenario it returns what the generator
knows that the oracle cannot see: which servers it expects down or stopped, each site's leaf and stapling
configuration. Combinations left out on purpose are listed in ``EXCLUDED`` with the reason; the sweep checks
invariants only against states that stay put between the oracle's look and node_audit's.
"""

from __future__ import annotations

import random

SERVERS = ("nginx", "apache", "haproxy")
PORTS = {"nginx": 443, "apache": 8443, "haproxy": 9443}  # fixed per type: two types on a node never clash
LEAF_NAMES = tuple(f"sw-{c}" for c in "abcdef")  # reused across scenarios: the lab PKI re-issues on change
DOMAIN = "sweep.test"
REGIONS = ("eu", "us", "ap")

# name -> ((choice, weight), ...) or a probability (for yes/no features). Weights favour healthy values so
# that a fault usually sits beside working sites, which is where a borrowed or missed verdict shows.
VOCABULARY = {
    "nodes": ((2, 2), (3, 1)),
    "sites_per_node": ((1, 2), (2, 3), (3, 2)),
    "leaves": ((3, 1), (4, 2), (5, 1)),
    # at least SHARED_CA_LEAVES leaves come from int-a-rsa: different certificates, one responder URL
    "issuer": (("int-a-rsa", 6), ("int-a-ec", 1), ("int-b", 1), ("int-n", 1)),
    "key_type": (("rsa", 3), ("ecdsa", 1)),
    "validity": (("valid", 8), ("expiring", 1), ("expired", 1)),
    "must_staple": 0.15,
    "responder_mode": (
        ("good", 6),
        ("revoked", 2),
        ("unknown", 2),
        ("try_later", 1),
        ("unauthorized", 1),
        ("html", 1),
        ("http_error", 1),
        ("down", 1),
        ("silent", 1),
        ("other_serial", 1),
        ("expired", 1),
        ("unauthorized_signer", 1),
        ("expiring", 1),
    ),
    "server": (("nginx", 3), ("apache", 2), ("haproxy", 2)),
    "chain": (("full", 8), ("leaf_only", 1), ("misordered", 1), ("with_root", 1), ("extra_unrelated", 1)),
    "stapling_enabled": 0.9,
    "nginx_verify": 0.8,
    "nginx_trusted": (("full", 6), ("issuer_only", 1), ("none", 1), ("unrelated", 1)),
    "nginx_resolver": (("lab", 5), ("none", 1), ("nowhere", 1), ("nxdomain", 2), ("servfail", 1)),
    "nginx_file": (("none", 8), ("good", 1), ("expired", 1), ("other", 1)),
    "nginx_cert_via_variable": 0.05,
    "apache_cache": 0.92,  # false: Apache refuses to start (AH01958)
    "haproxy_ocsp_file": (("good", 6), ("none", 2), ("expired", 1), ("other", 1)),
    "egress_ocsp": ((None, 6), ("reject", 1), ("drop", 1)),
    "resolv": (("lab", 7), ("nowhere", 1)),
    "stopped": 0.2,  # per node: one running server type stopped after start and warm-up
}
SHARED_CA_LEAVES = 2
SILENT_HOLD = 8  # seconds: the responder closes a silent connection then (nginx would wait 60 s)

# Left out on purpose (the state would move while the sweep looks at it, or the lab cannot build it):
EXCLUDED = {
    "slow": "the answer arrives seconds after the warm-up: the staple appears between the oracle and node_audit",
    "flood": "16 MiB per fetch on 2 shared cores; nginx and Apache give up at different times",
    "egress dns / egress_at_start": "start-time faults already covered by fleet.yml; nothing new combines",
    "after_start": "renewed or replaced certificates are the cause scenarios' job; the sweep keeps keys matching",
    "static staple from a responder that sends no OCSP answer": "the lab fetches files at up: nothing to write",
    "static staple for an int-n leaf": "no OCSP URL to fetch it from",
}
# Modes whose answer is a DER OCSP response the lab can fetch at up and write as a staple file.
FILE_MODES = frozenset(
    {"good", "revoked", "unknown", "try_later", "unauthorized", "other_serial", "expired", "unauthorized_signer"}
    | {"expiring"}
)


def _pick(rng: random.Random, name: str):
    spec = VOCABULARY[name]
    if isinstance(spec, float):
        return rng.random() < spec
    choices, weights = zip(*spec)
    return rng.choices(choices, weights=weights)[0]


def _leaf(rng: random.Random, name: str, shared_ca: bool) -> dict:
    issuer = "int-a-rsa" if shared_ca else _pick(rng, "issuer")
    mode = _pick(rng, "responder_mode")
    leaf = {
        "hostnames": [f"{name}.{DOMAIN}"],
        "issuer": issuer,
        # int-b signs with an ECDSA key; the leaf's own key type is free
        "key_type": _pick(rng, "key_type"),
        "validity": _pick(rng, "validity"),
        "must_staple": _pick(rng, "must_staple"),
        "ocsp": {"mode": "silent", "hold": SILENT_HOLD} if mode == "silent" else mode,
    }
    return leaf


def _mode(leaf: dict) -> str:
    return leaf["ocsp"]["mode"] if isinstance(leaf["ocsp"], dict) else leaf["ocsp"]


def fetchable(variant: str, leaf: dict) -> bool:
    """Can the lab write this staple file at up? ``good`` is the leaf's own answer; expired/other are fixed rules."""
    if variant == "none":
        return True
    return leaf["issuer"] != "int-n" and (variant != "good" or _mode(leaf) in FILE_MODES)


def _stapling(rng: random.Random, server: str, leaf: dict) -> dict:
    if server == "nginx":
        st = {
            "enabled": _pick(rng, "stapling_enabled"),
            "verify": _pick(rng, "nginx_verify"),
            "trusted": _pick(rng, "nginx_trusted"),
            "resolver": _pick(rng, "nginx_resolver"),
            "file": _pick(rng, "nginx_file"),
            "cert_via_variable": _pick(rng, "nginx_cert_via_variable"),
        }
        if not fetchable(st["file"], leaf):
            st["file"] = "none"
    elif server == "apache":
        st = {"enabled": _pick(rng, "stapling_enabled"), "cache": _pick(rng, "apache_cache")}
    else:
        st = {"enabled": _pick(rng, "stapling_enabled"), "ocsp_file": _pick(rng, "haproxy_ocsp_file")}
        if not fetchable(st["ocsp_file"], leaf) or not st["enabled"]:
            st["ocsp_file"] = "none"
    return st


def refuses_to_start(server: str, sites: list[dict]) -> bool:
    """Servers the lab knows will not start with these sites (the scenario must say server_down)."""
    if server == "apache":  # no SSLStaplingCache (one site said cache: false) while a site staples: AH01958
        return any(not s["stapling"]["cache"] for s in sites) and any(s["stapling"]["enabled"] for s in sites)
    if server == "haproxy":  # a .ocsp next to a PEM without the issuer: no certificate ID, a fatal error
        return any(s["chain"] == "leaf_only" and s["stapling"]["ocsp_file"] != "none" for s in sites)
    return False


def generate(seed: int) -> dict:
    """{"scenario": the YAML-ready scenario, "not_running": {node: [servers]}, "sites": {node: {host: site}}}."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test input, not secrets
    leaf_names = LEAF_NAMES[: _pick(rng, "leaves")]
    leaves = {name: _leaf(rng, name, i < SHARED_CA_LEAVES) for i, name in enumerate(leaf_names)}
    nodes, not_running, site_index = [], {}, {}
    for n in range(_pick(rng, "nodes")):
        region = REGIONS[n % len(REGIONS)]
        name = f"sw-{region}-{n + 1}"
        count = _pick(rng, "sites_per_node")
        chosen = rng.sample(leaf_names, min(count, len(leaf_names)))  # a leaf at most once per node
        if n < SHARED_CA_LEAVES and leaf_names[n] not in chosen:  # every shared-CA leaf is served somewhere
            chosen[0] = leaf_names[n]
        sites = []
        for leaf_name in chosen:
            server = _pick(rng, "server")
            site = {
                "server": server,
                "leaf": leaf_name,
                "port": PORTS[server],
                "chain": _pick(rng, "chain"),
                "stapling": _stapling(rng, server, leaves[leaf_name]),
            }
            sites.append(site)
        servers = list(dict.fromkeys(s["server"] for s in sites))
        down = [srv for srv in servers if refuses_to_start(srv, [s for s in sites if s["server"] == srv])]
        running = [srv for srv in servers if srv not in down]
        stopped = [rng.choice(running)] if running and _pick(rng, "stopped") else []
        faults = {}
        egress = _pick(rng, "egress_ocsp")
        if egress:
            faults["egress"] = {"ocsp": egress}
        resolv = _pick(rng, "resolv")
        if resolv != "lab":
            faults["resolv"] = resolv
        if stopped:
            faults["stopped"] = stopped
        node = {"name": name, "region": region, "sites": sites}
        if down:
            node["server_down"] = down
        if faults:
            node["faults"] = faults
        nodes.append(node)
        not_running[name] = down + stopped
        site_index[name] = {host: site for site in sites for host in leaves[site["leaf"]]["hostnames"]}
    used = {s["leaf"] for node in nodes for s in node["sites"]}
    scenario = {
        "name": f"sweep-{seed}",
        "description": f"generated by the scenario sweep from seed {seed} (tlslab.sweepgen)",
        "leaves": {name: leaf for name, leaf in leaves.items() if name in used},
        "nodes": nodes,
    }
    return {"scenario": scenario, "not_running": not_running, "sites": site_index}


def _rename(gen: dict, tag: str) -> dict:
    """``gen`` with its leaves, hostnames and nodes prefixed by ``tag`` (``sw-a`` -> ``s17-a``)."""

    def leaf_name(name: str) -> str:
        return tag + name[len("sw") :]

    scen = gen["scenario"]
    leaves = {}
    for name, leaf in scen["leaves"].items():
        leaves[leaf_name(name)] = dict(leaf, hostnames=[f"{leaf_name(name)}.{DOMAIN}"])
    nodes, sites, not_running = [], {}, {}
    for node in scen["nodes"]:
        new = dict(node, name=tag + node["name"][len("sw") :])
        new["sites"] = [dict(site, leaf=leaf_name(site["leaf"])) for site in node["sites"]]
        nodes.append(new)
        not_running[new["name"]] = list(gen["not_running"][node["name"]])
        sites[new["name"]] = {f"{site['leaf']}.{DOMAIN}": site for site in new["sites"]}
    return {"scenario": dict(scen, leaves=leaves, nodes=nodes), "not_running": not_running, "sites": sites}


def pack(seeds) -> dict:
    """One lab fleet made of the scenarios of ``seeds``, side by side, with names that say their seed.

    Bringing the lab up, the oracle and the ansible run cost about the same for 3 nodes as for 12, so
    the sweep runs several generated scenarios per lab; each keeps its own nodes and leaves (``s<seed>-eu-1``,
    ``s<seed>-a.sweep.test``), so a finding stays attributable and a seed replays alone with the same names.
    The scenarios still share the lab's CAs and responder URLs, as several certificates of one CA do.
    """
    seeds = list(seeds)
    parts = [_rename(generate(seed), f"s{seed}") for seed in seeds]
    leaves, nodes, sites, not_running = {}, [], {}, {}
    for part in parts:
        leaves.update(part["scenario"]["leaves"])
        nodes.extend(part["scenario"]["nodes"])
        sites.update(part["sites"])
        not_running.update(part["not_running"])
    label = "-".join(str(s) for s in seeds) if len(seeds) <= 4 else f"{seeds[0]}-x{len(seeds)}"
    scenario = {
        "name": f"sweep-{label}",
        "description": "generated by the scenario sweep from seeds %s (tlslab.sweepgen)" % ", ".join(map(str, seeds)),
        "leaves": leaves,
        "nodes": nodes,
    }
    return {"scenario": scenario, "not_running": not_running, "sites": sites, "seeds": seeds}


def seed_of(node_name: str) -> int:
    """The seed a packed node came from (``s1702-us-2`` -> 1702)."""
    return int(node_name[1:].split("-", 1)[0])
