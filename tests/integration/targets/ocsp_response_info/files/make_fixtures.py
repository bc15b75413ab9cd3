# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the ocsp_response_info test fixtures into OUTDIR and print facts about them as JSON.

Usage: make_fixtures.py OUTDIR   (pki.py, the unit tests' PKI factory, must sit next to this script)

Runs with the Python that runs the modules, so the responses are built by the same cryptography
the module reads them with. Private keys stay in memory; only certificates and responses are written.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cryptography
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from pki import Pki

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    pki = Pki()
    root, (inter,), leaf = pki.chain(kind="ec")
    other_inter = pki.intermediate(root, cn="tlsfleet Other Intermediate")
    other_leaf = pki.leaf(inter, cn="other.example.test")
    evil = pki.root(cn="Evil")

    def write(name: str, data: bytes) -> None:
        with open(os.path.join(out, name), "wb") as handle:
            handle.write(data)

    write("root.pem", root.pem)
    write("int.pem", inter.pem)
    write("leaf.pem", leaf.pem)
    write("bundle.pem", leaf.pem + inter.pem)
    write("issuers.pem", root.pem + other_inter.pem + inter.pem)

    good = pki.ocsp_response(leaf, inter)
    responses = {
        "good.der": good,
        "revoked.der": pki.ocsp_response(leaf, inter, status="revoked", reason=x509.ReasonFlags.key_compromise),
        "unknown.der": pki.ocsp_response(leaf, inter, status="unknown"),
        "expired.der": pki.ocsp_response(leaf, inter, this_update=pki.now - 8 * DAY, next_update=pki.now - DAY),
        "not_yet_valid.der": pki.ocsp_response(leaf, inter, this_update=pki.now + HOUR, next_update=pki.now + 2 * DAY),
        "within_skew.der": pki.ocsp_response(leaf, inter, this_update=pki.now + datetime.timedelta(seconds=120)),
        "no_next_update.der": pki.ocsp_response(leaf, inter, next_update=None),
        "forged_issuer.der": pki.ocsp_response(leaf, inter, signing_key=evil.key),
        "unrelated_signer.der": pki.ocsp_response(leaf, inter, signer=evil),
        "delegated.der": pki.ocsp_response(leaf, inter, signer=pki.ocsp_signer(inter)),
        "delegated_no_eku.der": pki.ocsp_response(leaf, inter, signer=pki.ocsp_signer(inter, eku=False)),
        "delegated_other_ca.der": pki.ocsp_response(leaf, inter, signer=pki.ocsp_signer(other_inter)),
        "other_serial.der": pki.ocsp_response(other_leaf, inter),
        "sha256.der": pki.ocsp_response(leaf, inter, cert_id_hash=hashes.SHA256()),
        "try_later.der": pki.ocsp_unsuccessful("try_later"),
        "unauthorized.der": pki.ocsp_unsuccessful("unauthorized"),
        "multi.der": pki.ocsp_multi_response([(other_leaf, "good"), (leaf, "good")], inter),
    }
    for name, data in responses.items():
        write(name, data)
    write("good.b64", base64.encodebytes(good))
    write("truncated.der", good[: len(good) // 2])
    write("empty.ocsp", b"")
    write("html.ocsp", b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body></body></html>\n")

    print(
        json.dumps(
            {
                "now": pki.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "leaf_subject": leaf.subject,
                "leaf_serial": format(leaf.cert.serial_number, "x").rjust(4, "0"),
                "other_serial": format(other_leaf.cert.serial_number, "x").rjust(4, "0"),
                "int_subject": inter.subject,
                "evil_subject": evil.subject,
                "cryptography": cryptography.__version__,
                "multi_supported": hasattr(ocsp.OCSPResponse, "responses"),
            }
        )
    )


if __name__ == "__main__":
    main()
