# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Options several modules share; their argument specs are plugins/module_utils/argspec.py (a unit test checks it)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
"""

    # Use with: extends_documentation_fragment: [tlsfleet.stapling.options.clock_skew]; argspec.CLOCK_SKEW
    CLOCK_SKEW = r"""
options:
  clock_skew:
    description:
      - Seconds of clock difference tolerated when judging an OCSP response's thisUpdate and nextUpdate against
        the time of judgement (the managed node's clock, unless the module is given another time), since a
        responder's clock may run ahead or behind.
      - From V(0) to V(86400) (one day).
    type: int
    default: 300
"""

    # Use with: extends_documentation_fragment: [tlsfleet.stapling.options.proxy]; argspec.PROXY
    PROXY = r"""
options:
  proxy:
    description:
      - An HTTP proxy to reach OCSP responders through, such as V(http://proxy.example.com:3128).
      - By default the node's environment (C(http_proxy), C(no_proxy)) decides, as it does for most servers' helper
        processes.
    type: str
  use_proxy:
    description: Whether to honour the environment's proxy settings when O(proxy) is not given.
    type: bool
    default: true
"""

    # Use with: extends_documentation_fragment: [tlsfleet.stapling.options.trust_anchors]; argspec.TRUST_ANCHORS
    TRUST_ANCHORS = r"""
options:
  trust_anchor_paths:
    description:
      - Files on the managed node with the root certificates a chain should end at; they decide whether a chain
        is complete.
      - When empty, the node's system CA bundle is used if one is found (C(/etc/ssl/certs/ca-certificates.crt),
        C(/etc/pki/tls/certs/ca-bundle.crt), C(/etc/ssl/cert.pem)). Name your private roots here when the sites
        use a private CA.
    type: list
    elements: path
    default: []
"""

    # Use with: extends_documentation_fragment: [tlsfleet.stapling.options.warmup]; argspec.WARMUP
    WARMUP = r"""
options:
  warmup_attempts:
    description:
      - How many more handshakes to make when one brings no staple although the leaf names an OCSP responder,
        before the staple is believed missing (servers fetch a staple lazily, after the first handshakes).
      - V(0) disables warm-up.
    type: int
    default: 4
  warmup_delay:
    description: Seconds to wait before the first warm-up handshake; the pause doubles each time, up to 2 seconds.
    type: float
    default: 0.25
"""

    # Use with: extends_documentation_fragment: [tlsfleet.stapling.options.certificate_input];
    # argspec.CERTIFICATE_INPUT. The module says in its notes which certificate sources exclude each other.
    CERTIFICATE_INPUT = r"""
options:
  certificate_path:
    description:
      - Path on the managed node of the certificate to check, PEM or DER.
      - The first certificate in the file is the one checked. Further certificates (a full chain or an HAProxy
        bundle) are searched for the issuer when neither O(issuer_path) nor O(issuer_content) is given. A private
        key in the same file is ignored and never read into the result.
    type: path
  certificate_content:
    description: The certificate (and optionally its chain) as PEM text, used like O(certificate_path).
    type: str
  issuer_path:
    description:
      - Path on the managed node of the issuer certificate, PEM or DER. When the file holds several certificates,
        the one that issued the certificate is used.
      - When neither O(issuer_path) nor O(issuer_content) is given, the issuer is looked for among the other
        certificates of the certificate input; the module fails if it is not there.
    type: path
  issuer_content:
    description: The issuer certificate as PEM text, used like O(issuer_path).
    type: str
"""

    # Use with: extends_documentation_fragment: [tlsfleet.stapling.options.preflight]; argspec.PREFLIGHT
    PREFLIGHT = r"""
options:
  preflight:
    description:
      - A candidate certificate (a renewal, a new CA) to judge against this node before it is deployed, with
        nothing changed. Each site whose hostnames the candidate's names cover gets a verdict in RV(preflight).
      - The candidate is public material only. O(preflight.certificate) and O(preflight.chain) must be
        certificate PEM blocks and nothing else; anything else (a private key in any form, stray text) is refused
        on the controller before the task is sent, so it never reaches a node. The key's match is judged by
        comparing public keys.
      - docs/preflight.md in the collection says what each check means.
    type: dict
    suboptions:
      certificate:
        description: The candidate leaf certificate as PEM text (further certificates after it count as chain).
        type: str
        required: true
      chain:
        description: The candidate's intermediates as PEM text, in any order; a root among them is left out.
        type: str
      at:
        description:
          - When the candidate is planned to be deployed (ISO 8601), for the validity check; default now.
        type: str
"""
