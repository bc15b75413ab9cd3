# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A node for audit.gather() without servers or network: real discovery over a scripted ``nginx -T`` and a fake
/proc (servers/fakes.py), real certificate, key and chain files from the test PKI, and a stub prober that hands
each SNI name the chain and staple the test chose. The responder probe and the log reading are stubbed too.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Dict, List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils import audit, servers, tls_probe
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import (
    FakeProc,
    FakeRunner,
    which_from,
)

URL = "http://ocsp.example.test/"
NGINX_V = "nginx version: nginx/1.22.1\nbuilt with OpenSSL 3.0.15\nTLS SNI support enabled\n"
T_STDERR = "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n"


class FakeNode:
    """``sites`` is a list of lists of hostnames: one nginx server block (and certificate) per list."""

    def __init__(
        self,
        pki,
        tmp_path: Path,
        monkeypatch,
        sites: List[List[str]],
        staple: bool = True,
        directives: str = "",
        leaf_kw=None,
    ):
        self.pki = pki
        self.root, (self.inter,), _leaf = pki.chain(ocsp_urls=[URL])
        self.tmp = tmp_path
        self.staple = staple
        self.leaves: Dict[str, object] = {}  # hostname -> Issued
        self.probed: List[Optional[str]] = []
        (tmp_path / "root.pem").write_bytes(self.root.pem)
        blocks = []
        for index, names in enumerate(sites):
            # leaf_kw: for every site, or a list with one per site
            own_kw = leaf_kw[index] if isinstance(leaf_kw, list) else leaf_kw
            leaf = pki.leaf(self.inter, cn=names[0], dns=list(names), **dict({"ocsp_urls": [URL]}, **(own_kw or {})))
            cert_file, key_file = tmp_path / ("site%d.pem" % index), tmp_path / ("site%d.key" % index)
            cert_file.write_bytes(leaf.pem + self.inter.pem)
            key_file.write_bytes(leaf.key_pem())
            for name in names:
                self.leaves[name] = leaf
            blocks.append(
                "    server {\n        listen 443 ssl;\n        server_name %s;\n        ssl_certificate %s;\n"
                "        ssl_certificate_key %s;\n        ssl_stapling on;\n        resolver 198.18.0.2;\n%s    }\n"
                % (" ".join(names), cert_file, key_file, directives)
            )
        dump = "# configuration file /etc/nginx/nginx.conf:\nevents {\n}\nhttp {\n%s}\n" % "".join(blocks)
        self.runner = FakeRunner({("-V",): (0, "", NGINX_V), ("-T",): (0, dump, T_STDERR)})
        proc = FakeProc(tmp_path / "proc")
        proc.add(100, "nginx", ["nginx: master process /usr/sbin/nginx"], ppid=1)
        proc.add(101, "nginx", ["nginx: worker process"], ppid=100)
        monkeypatch.setattr(servers, "discover", functools.partial(servers.discover, proc_root=str(proc.root)))
        self.which = which_from({"nginx": "/usr/sbin/nginx"})
        monkeypatch.setattr(servers, "default_which", self.which)  # what node_audit's run() finds on PATH
        monkeypatch.setattr(servers, "process_runner", lambda: self.runner)  # and its main() runs
        monkeypatch.setattr(servers, "log_events", lambda info, since: [])
        monkeypatch.setattr(tls_probe, "probe_endpoint", self.probe)
        monkeypatch.setattr(audit, "_check_responder", self.responder)
        monkeypatch.setattr(audit.dns_probe, "query", self.resolve)

    def settings(self, **kwargs) -> audit.Settings:
        return audit.Settings(trust_anchor_paths=[str(self.tmp / "root.pem")], time_budget=0, **kwargs)

    def gather(self, **kwargs):
        return audit.gather(self.settings(**kwargs), self.runner, which=self.which)

    def probe(self, target, protocols=tls_probe.PROTOCOLS, **_kwargs) -> tls_probe.EndpointProbe:
        """Both protocols get the name's chain and (unless ``staple`` is False) one good response."""
        self.probed.append(target.server_name)
        leaf = self.leaves[target.server_name]
        staple = self.pki.ocsp_response(leaf, self.inter) if self.staple else None
        probe = tls_probe.EndpointProbe(endpoint=target)
        for protocol in protocols:
            probe.handshakes[protocol] = tls_probe.Handshake(
                protocol_requested=protocol,
                ok=True,
                protocol=protocol,
                cipher="TLS_AES_128_GCM_SHA256",
                chain_der=[leaf.der, self.inter.der],
                staple=staple,
                elapsed_ms=3,
            )
            probe.attempts[protocol] = 1 if staple else 5
        return probe

    @staticmethod
    def responder(url, cert, issuer, settings):
        return {"url": url, "reachable": True, "ok": True, "failed_stage": None, "error": None, "ocsp": None}

    @staticmethod
    def resolve(server, name, port=53, timeout=2.0):
        return {"server": server, "port": port, "name": name, "outcome": "ok", "error": None}
