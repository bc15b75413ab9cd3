"""Per-node egress policy: an nftables table inside the node's namespace.

Targets are the lab services, each on its own address so one can be blocked without the others:
``ocsp`` (the responder), ``ca_issuers`` (the caIssuers service), ``dns`` (the lab resolver), ``crl`` (the CRL
distribution points).
``reject`` fails fast (TCP reset / ICMP admin-prohibited), ``drop`` blackholes (timeouts).
"""

from __future__ import annotations

from .netns import CA_ADDR, CRL_ADDR, DNS_ADDR, OCSP_ADDR, ns_exec

TABLE = "tflab_egress"
TARGET_ADDRS = {"ocsp": OCSP_ADDR, "ca_issuers": CA_ADDR, "dns": DNS_ADDR, "crl": CRL_ADDR}


def _rule(target: str, action: str) -> list[str]:
    addr = TARGET_ADDRS[target]
    if action == "drop":
        return [f'    ip daddr {addr} counter drop comment "block {target}"']
    return [
        f'    ip daddr {addr} meta l4proto tcp counter reject with tcp reset comment "block {target}"',
        f'    ip daddr {addr} counter reject with icmp type admin-prohibited comment "block {target}"',
    ]


def ruleset(egress: dict) -> str:
    lines = [f"table inet {TABLE} {{", "  chain output {", "    type filter hook output priority 0; policy accept;"]
    for target, action in sorted(egress.items()):
        lines += _rule(target, action)
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def apply(ns: str, egress: dict) -> None:
    """Replace the node's egress table with exactly ``egress`` (an empty dict removes all blocks)."""
    clear(ns)
    if egress:
        ns_exec(ns, ["nft", "-f", "-"], input_text=ruleset(egress))


def clear(ns: str) -> None:
    ns_exec(ns, ["nft", "delete", "table", "inet", TABLE], check=False)


def show(ns: str) -> str:
    return ns_exec(ns, ["nft", "list", "table", "inet", TABLE], check=False).stdout
