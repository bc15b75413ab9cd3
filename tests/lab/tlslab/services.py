"""The services namespace glue: the PKI a scenario needs, the OCSP responder, static staples, CRLs.

The PKI (tlslab.pki) and the responder (tlslab.responder) are their own modules; this file only
drives them for a scenario: issue its leaves, start the responder in ``tflab-svc`` with the
scenario's behaviour per leaf, fetch the DER staples that HAProxy ``.ocsp`` files and nginx
``ssl_stapling_file`` need, publish each leaf's CRL (``crl:``; served by the responder's caIssuers handler at
``CRL_ADDR``), and hand the servers each leaf's material.
"""

from __future__ import annotations

import datetime
import json
import sys
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from . import dns
from .netns import CA_ADDR, CRL_ADDR, OCSP_ADDR, SVC_NS, LabError, spawn_logged, wait_for
from .pki import PkiError, build_pki
from .servers import Material

OCSP_URL_BASE = f"http://{dns.OCSP_HOST}"
CA_URL_BASE = f"http://{dns.CA_HOST}/ca"
CRL_URL_BASE = f"http://{dns.CRL_HOST}/crl"
CLOSED_CRL_URL_BASE = f"http://{dns.CRL_HOST}:81/crl"  # nothing listens on port 81: connection refused
NOT_REVOKED_SERIAL = "7ffffffffffff001"  # listed in every good CRL, so a good CRL is not an empty one
CONTROL = f"{OCSP_ADDR}:8080"
UNRELATED_CA = "int-n"
# Staple file variants -> the responder behaviour that produces them.
STAPLE_VARIANTS = {
    "good": None,  # the leaf's own behaviour, as a refresher (cron + openssl ocsp) would fetch it at up
    "expired": {"mode": "expired"},
    "other": {"mode": "other_serial", "next_update": 4 * 86400},
}
VALIDITY_DAYS = {"valid": (-1, 90), "expiring": (-60, 5), "expired": (-90, -1)}


def svc_dir(state: Path) -> Path:
    return state / "svc"


# ---------------------------------------------------------------- PKI


def build(scenario, state: Path):
    try:
        pki = build_pki(state, OCSP_URL_BASE, CA_URL_BASE)
        for leaf in scenario.leaves.values():
            _issue(pki, leaf)
        publish_crls(scenario, pki, state)
    except PkiError as exc:
        raise LabError(f"PKI: {exc}") from exc
    return pki


def _issue(pki, leaf) -> None:
    """Dates are rounded to the day, so an ``up`` later the same day reuses the leaf."""
    today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = VALIDITY_DAYS[leaf.validity]
    pki.issue_leaf(
        leaf.name,
        leaf.hostnames,
        issuer=leaf.issuer,
        key_type=leaf.key_type,
        must_staple=leaf.must_staple,
        not_before=today + datetime.timedelta(days=start),
        not_after=today + datetime.timedelta(days=end),
        ocsp_urls=None if leaf.ocsp_url else [],
        crl_urls=[crl_url(leaf)] if leaf.crl != "none" else None,
    )


def crl_url(leaf) -> str:
    """One CRL per leaf (a sharded CRL, as Let's Encrypt publishes them), so each leaf's CRL behaves on its own."""
    base = CLOSED_CRL_URL_BASE if leaf.crl == "closed" else CRL_URL_BASE
    return f"{base}/{leaf.name}.crl"


def crl_dir(state: Path) -> Path:
    return svc_dir(state) / "crl"


def publish_crls(scenario, pki, state: Path) -> None:
    """STATE/svc/crl/<leaf>.crl for every leaf with a CRL: good, revoked (the leaf's serial), stale (nextUpdate a
    day ago), wrong_signer (the issuer's name, another CA's key), delta (a delta CRL: recent changes only),
    shard (its issuing distribution point names another shard's URL); closed publishes a good one nobody can
    reach. delta and shard are correctly signed and current, yet cannot say that the leaf is not revoked."""
    directory = crl_dir(state)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    for leaf in scenario.leaves.values():
        if leaf.crl == "none":
            continue
        issued = pki.leaf(leaf.name)
        serials = [NOT_REVOKED_SERIAL] + ([issued.serial] if leaf.crl == "revoked" else [])
        kwargs = {}
        if leaf.crl == "stale":
            kwargs = {"this_update": now - datetime.timedelta(days=8), "next_update": now - datetime.timedelta(days=1)}
        if leaf.crl == "wrong_signer":
            kwargs = {"signer": "int-a-rsa" if issued.issuer == UNRELATED_CA else UNRELATED_CA}
        if leaf.crl == "delta":
            kwargs = {"extensions": [(x509.DeltaCRLIndicator(1), True)]}
        if leaf.crl == "shard":
            other = crl_url(leaf).replace(f"/{leaf.name}.crl", f"/{leaf.name}-shard-2.crl")
            point = x509.IssuingDistributionPoint(
                full_name=[x509.UniformResourceIdentifier(other)],
                relative_name=None,
                only_contains_user_certs=True,
                only_contains_ca_certs=False,
                only_some_reasons=None,
                indirect_crl=False,
                only_contains_attribute_certs=False,
            )
            kwargs = {"extensions": [(point, True)]}
        der = pki.sign_crl(issued.issuer, serials, **kwargs)
        (directory / f"{leaf.name}.crl").write_bytes(der)


def _root_of(pki, ca: str) -> str:
    authorities = pki.manifest["authorities"]
    while authorities[ca]["kind"] != "root":
        ca = authorities[ca]["issuer"]
    return ca


def material(pki, leaf_name: str, staples: dict, previous: bool = False) -> Material:
    leaf = pki.leaf(leaf_name)
    entry = pki.manifest["leaves"][leaf_name]
    paths = entry["previous"]["paths"] if previous else {"cert": leaf.cert_path, "key": leaf.key_path}
    return Material(
        cert=Path(paths["cert"]).read_text(),
        key=Path(paths["key"]).read_text(),
        issuer=leaf.issuer_path.read_text(),
        root=pki.authority(_root_of(pki, leaf.issuer)).cert_path.read_text(),
        unrelated=pki.authority(UNRELATED_CA).cert_path.read_text(),
        staples={variant: der for (name, variant), der in staples.items() if name == leaf_name},
    )


def renew(pki, leaf_name: str) -> Material:
    try:
        pki.renew_leaf(leaf_name)
    except PkiError as exc:
        raise LabError(f"PKI: {exc}") from exc
    return material(pki, leaf_name, {})


# ---------------------------------------------------------------- responder


SIGNED_DEFAULT_VALIDITY = 4 * 86400  # like a CA's 4-day responses: staples stay fresh for a long lab session


def _rule(rule: dict) -> dict:
    if rule["mode"] in ("good", "revoked", "unknown") and "next_update" not in rule:
        return {**rule, "next_update": SIGNED_DEFAULT_VALIDITY}
    return rule


def behaviour(scenario) -> dict:
    return {
        "default": _rule({"mode": "good"}),
        "certs": {name: _rule(leaf.ocsp) for name, leaf in scenario.leaves.items()},
    }


def start_responder(scenario, state: Path) -> None:
    d = svc_dir(state)
    d.mkdir(parents=True, exist_ok=True)
    (d / "behaviour.json").write_text(json.dumps(behaviour(scenario), indent=2) + "\n")
    lab_root = Path(__file__).resolve().parent.parent
    argv = [
        "ip",
        "netns",
        "exec",
        SVC_NS,
        "env",
        f"PYTHONPATH={lab_root}",
        sys.executable,
        "-m",
        "tlslab.responder",
        "--state",
        state,
        "--listen",
        f"{OCSP_ADDR}:80",
        "--ca-listen",
        f"{CA_ADDR}:80",
        "--ca-listen",
        f"{CRL_ADDR}:80",
        "--control",
        CONTROL,
        "--log",
        d / "responder.log",
        "--behaviour",
        d / "behaviour.json",
        "--pidfile",
        d / "responder.pid",
    ]
    proc = spawn_logged(argv, d / "responder.out")
    try:
        wait_for(lambda: proc.poll() is not None or _control("GET", "/health", quiet=True) is not None, 30, "")
    except LabError:
        raise LabError(f"the OCSP responder did not answer /health within 30s: {_tail(d / 'responder.out')}") from None
    if proc.poll() is not None:
        raise LabError(f"the OCSP responder exited at start: {_tail(d / 'responder.out')}")


def _tail(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1][:300] if lines else "no output"


def _control(method: str, path: str, body=None, quiet: bool = False):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{CONTROL}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.read()
    except OSError as exc:
        if quiet:
            return None
        raise LabError(f"responder control {method} {path} failed: {exc}") from exc


def set_behaviour(certs: dict) -> None:
    _control("PUT", "/behaviour", {"default": _rule({"mode": "good"}), "certs": certs})


# ---------------------------------------------------------------- static staples


def fetch_staples(scenario, pki, state: Path) -> dict:
    """DER responses for every (leaf, variant) a site deploys as a file, fetched before servers start."""
    wanted = sorted(
        {(site.leaf, _file_variant(site)) for node in scenario.nodes for site in node.sites if _file_variant(site)}
    )
    if not wanted:
        return {}
    scenario_behaviour = behaviour(scenario)["certs"]
    staples = {}
    try:
        for leaf_name, variant in wanted:
            rule = STAPLE_VARIANTS[variant] or scenario_behaviour[leaf_name]  # good: what a refresher gets now
            set_behaviour({**scenario_behaviour, leaf_name: rule})
            staples[(leaf_name, variant)] = query(pki, leaf_name)
    finally:
        set_behaviour(scenario_behaviour)
    return staples


def _file_variant(site) -> str | None:
    """The staple-file variant a site deploys (nginx ssl_stapling_file, HAProxy .ocsp), or None."""
    st = site.stapling
    if not st.get("enabled", True):
        return None
    variant = st.get("ocsp_file") or st.get("file") or "none"
    return None if variant == "none" else variant


def query(pki, leaf_name: str) -> bytes:
    """POST one OCSP request for the leaf to the responder (from the root namespace, by address)."""
    leaf = pki.leaf(leaf_name)
    cert = x509.load_pem_x509_certificate(leaf.cert_path.read_bytes())
    issuer = x509.load_pem_x509_certificate(leaf.issuer_path.read_bytes())
    body = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()  # noqa: S303 - CertID
    url = pki.manifest["authorities"][leaf.issuer]["ocsp_url"].replace(dns.OCSP_HOST, OCSP_ADDR)
    req = urllib.request.Request(url, data=body.public_bytes(serialization.Encoding.DER), method="POST")
    req.add_header("Content-Type", "application/ocsp-request")
    req.add_header("Host", dns.OCSP_HOST)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read()
    except OSError as exc:
        raise LabError(f"could not fetch a staple for {leaf_name} from the responder: {exc}") from exc
