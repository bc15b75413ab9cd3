"""Lab web servers: one module per server type (nginx, apache, haproxy), and what they share.

A server module knows its own configuration layout, how to start, reload and stop it without
systemd, and where its pid file lives. What is shared lives here: the certificate material of a
site as deployed (chain variants, key, trusted file, static staple files) and the node interface
the modules use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHAIN_BUILDERS = {
    "full": lambda m: [m.cert, m.issuer],
    "leaf_only": lambda m: [m.cert],
    "misordered": lambda m: [m.cert, m.root, m.issuer],
    "with_root": lambda m: [m.cert, m.issuer, m.root],
    "extra_unrelated": lambda m: [m.cert, m.issuer, m.unrelated],
}


class NodeView(Protocol):
    """What a server module needs from a node (implemented by nodes.NodeEnv)."""

    name: str
    address: str
    dir: Path

    def host_path(self, inside: str) -> Path:
        """Where a path the node sees (/etc/nginx/..., /run/..., /var/log/...) lives in the root fs."""

    def exec(self, argv, **kwargs): ...

    def spawn(self, argv, log_inside: str): ...


@dataclass
class Material:
    """PEM text of one leaf and its relatives, and DER staples fetched for it at up."""

    cert: str
    key: str
    issuer: str
    root: str
    unrelated: str
    staples: dict  # variant (good / expired / other) -> DER bytes


@dataclass
class SiteFiles:
    """Paths of a site's files as the node sees them."""

    cert: str
    key: str
    trusted: str | None = None
    staple: str | None = None


def chain_pem(material: Material, chain: str) -> str:
    return "".join(_pem(p) for p in CHAIN_BUILDERS[chain](material))


def _pem(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def write_file(path: Path, data, mode: int = 0o644) -> None:
    """Write atomically enough for the lab: to a temp name beside, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data)
    tmp.chmod(mode)
    tmp.replace(path)


def deploy_pem_pair(node: NodeView, site, material: Material) -> SiteFiles:
    """Certificate file (chain as deployed) and key file under /etc/tlsfleet (nginx, Apache)."""
    files = SiteFiles(cert=f"/etc/tlsfleet/certs/{site.name}.crt", key=f"/etc/tlsfleet/private/{site.name}.key")
    write_file(node.host_path(files.cert), chain_pem(material, site.chain))
    write_file(node.host_path(files.key), _pem(material.key), 0o600)
    private = node.host_path("/etc/tlsfleet/private")
    if private.stat().st_gid == 0:  # left group-readable when nginx workers must read keys (see nginx.py)
        private.chmod(0o700)
    return files


def trusted_pem(material: Material, variant: str) -> str | None:
    """ssl_trusted_certificate contents: full (issuer + root), issuer_only, unrelated, none."""
    return {
        "full": _pem(material.issuer) + _pem(material.root),
        "issuer_only": _pem(material.issuer),
        "unrelated": _pem(material.unrelated),
    }.get(variant)


def server_types() -> dict:
    from . import apache, haproxy, nginx

    return {"nginx": nginx.SERVER, "apache": apache.SERVER, "haproxy": haproxy.SERVER}
