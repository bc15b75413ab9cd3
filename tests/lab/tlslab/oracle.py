"""The independent oracle: what each node really staples, and what the responder answers, per the
OpenSSL command-line tools run inside the node's namespace (no code shared with the collection).

Per site and hostname:
1. warm up: ``openssl s_client -status`` twice with a short pause (nginx fetches lazily, per worker;
   the lab runs nginx with one worker so one handshake primes it; Apache fetches synchronously);
2. the final handshake, ``openssl s_client -connect ADDR:PORT -servername HOST -status -tls1_2 -msg``,
   whose CertificateStatus message carries the DER staple; the staple is then judged by
   ``openssl ocsp -respin STAPLE -issuer ISSUER -cert SERVED_LEAF -CAfile ROOTS -verify_other CAS``:
   none / good / expiring / revoked / unknown / expired / invalid / trylater / unauthorized / ... / no_server;
3. per leaf, ``openssl ocsp -url <AIA URL>`` from the node: the responder's answer as the node gets it
   (good / revoked / ... / unreachable), compared with the scenario's behaviour and the node's faults;
4. per leaf with a CRL distribution point, the CRL downloaded from the node (Debian's python3, urllib) and judged
   by ``openssl crl -CAfile ISSUER`` (signature) and ``openssl crl -text`` (nextUpdate, revoked serials):
   good / revoked / stale / invalid / unreachable.
"""

from __future__ import annotations

import datetime
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .netns import CA_ADDR, CRL_ADDR, DNS_ADDR, OCSP_ADDR, LabError, state_dir
from .servers import server_types

# certificates a handshake shows per deployed chain variant (see servers.CHAIN_BUILDERS)
CHAIN_LENGTH = {"full": 2, "leaf_only": 1, "misordered": 3, "with_root": 3, "extra_unrelated": 3}

STAPLE_EXPIRING = datetime.timedelta(days=1)
EGRESS_TARGETS = {"ocsp": (OCSP_ADDR, 80), "ca_issuers": (CA_ADDR, 80), "dns": (DNS_ADDR, 53), "crl": (CRL_ADDR, 80)}
# the lab CA's CRL behaviour (scenario leaf `crl:`) -> what the oracle sees from a node with open egress
CRL_EXPECT = {
    "good": "good",
    "revoked": "revoked",
    "stale": "stale",
    "wrong_signer": "invalid",
    "delta": "invalid",
    "shard": "invalid",
    "closed": "unreachable",
}
# Downloads one URL to a file inside the node: the node's resolver and routes, no proxy, 5 s.
CRL_FETCH = (
    "import sys, urllib.request\n"
    "opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
    "try:\n"
    "    body = opener.open(sys.argv[1], timeout=5).read(16 * 1024 * 1024)\n"
    "except Exception as exc:\n"
    "    print('unreachable: %s' % exc)\n"
    "    sys.exit(3)\n"
    "open(sys.argv[2], 'wb').write(body)\n"
)
HANDSHAKE_TIMEOUT = 20
WARM_UP_PAUSE = 0.7
# responder mode -> what `openssl ocsp -url` from a node with open egress reports
RESPONDER_EXPECT = {
    "good": "good",
    "revoked": "revoked",
    "unknown": "unknown",
    "expiring": "expiring",
    "expired": "expired",
    "unauthorized_signer": "invalid",
    "other_serial": "invalid",
    "wrong_content_type": "error",
    "malformed": "error",
    "html": "error",
    "http_error": "error",
    "try_later": "trylater",
    "unauthorized": "unauthorized",
    "malformed_request": "malformedrequest",
    "internal_error": "internalerror",
    "sig_required": "sigrequired",
    "silent": "unreachable",
    "down": "unreachable",
    "flood": "error",
}


# ---------------------------------------------------------------- handshakes


def s_client(node, site, host: str, msg: bool = False):
    argv = [
        "openssl",
        "s_client",
        "-connect",
        f"{node.address}:{site.port}",
        "-servername",
        host,
        "-status",
        "-showcerts",
    ]
    if msg:
        argv += ["-tls1_2", "-msg"]
    try:
        return node.exec(argv, check=False, input_text="", timeout=HANDSHAKE_TIMEOUT)
    except LabError as exc:
        return _Failed(str(exc))


class _Failed:
    def __init__(self, text: str):
        self.returncode, self.stdout, self.stderr = 1, "", text


def warm_up(node, site, rounds: int = 1) -> None:
    warm_up_sites(node, [site], rounds)


def warm_up_sites(node, sites, rounds: int = 1) -> None:
    """``rounds`` handshakes per hostname of every site, WARM_UP_PAUSE apart: the sites of a node share the pauses."""
    for i in range(rounds):
        if i:
            time.sleep(WARM_UP_PAUSE)
        for site in sites:
            for host in site.hostnames:
                s_client(node, site, host)


def staple_der(msg_output: str) -> bytes | None:
    """The OCSPResponse inside the TLS 1.2 CertificateStatus handshake message printed by -msg."""
    match = re.search(
        r"<<< TLS 1\.2, Handshake \[length [0-9a-f]+\], CertificateStatus\n((?: +[0-9a-f ]+\n)+)", msg_output
    )
    if not match:
        return None
    raw = bytes.fromhex("".join(match.group(1).split()))
    # handshake type 22 (1 byte), length (3), status_type 1 = ocsp (1), response length (3), response
    if len(raw) < 8 or raw[0] != 22 or raw[4] != 1:
        return None
    length = int.from_bytes(raw[5:8], "big")
    return raw[8 : 8 + length]


def served_leaf(output: str) -> str | None:
    """The server's leaf: the first PEM after "Certificate chain" (a staple's signer is printed before it)."""
    match = re.search(
        r"^Certificate chain\n.*?(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n)", output, re.S | re.M
    )
    return match.group(1) if match else None


# ---------------------------------------------------------------- judging with openssl ocsp

UNREACHABLE = re.compile(
    r"Connection refused|transfer timeout|timed out|failed reading data|No route to host|Network is unreachable"
    r"|Name or service not known|Temporary failure in name resolution|getaddrinfo|nodename nor servname"
    r"|connect|Connection reset",
    re.I,
)


class Pki:
    """The lab PKI files the oracle hands to openssl (roots as trust anchors, CAs as helpers)."""

    def __init__(self, state: Path):
        from .pki import Pki as LabPki

        self.pki = LabPki.load(state)
        self.roots = str(self.pki.roots_path)
        helpers = state / "nodes" / ".oracle-cas.pem"
        helpers.parent.mkdir(parents=True, exist_ok=True)
        auths = self.pki.authorities.values()
        helpers.write_text("".join(a.cert_path.read_text() for a in auths if a.kind != "root"))
        self.cas = str(helpers)

    def leaf(self, name: str):
        return self.pki.leaf(name)

    def previous_cert(self, name: str) -> str | None:
        previous = self.pki.manifest["leaves"][name].get("previous")
        try:
            return Path(previous["paths"]["cert"]).read_text() if previous else None
        except OSError:
            return None

    def issuer_path(self, name: str) -> str:
        return str(self.pki.leaf(name).issuer_path)


def judge_response(text: str, now: datetime.datetime) -> tuple[str, str]:
    """Classify `openssl ocsp` output (for -respin or -url) as (state, detail)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = next((line for line in lines if "error:" in line), lines[-1] if lines else "no output")
    err = re.search(r"Responder Error: (\w+)", text)
    if err:
        return err.group(1), err.group(0)  # trylater, unauthorized, malformedrequest, ...
    if "Error querying OCSP responder" in text or "Error connecting" in text or "Error creating connect BIO" in text:
        return ("unreachable" if UNREACHABLE.search(text) else "error"), detail
    if "Response Verify Failure" in text or "No Status found" in text:
        return "invalid", detail
    if "Status times invalid" in text and "status expired" in text:
        return "expired", detail
    status = re.search(r": (?:WARNING: Status times invalid\.\n.*\n)?(good|revoked|unknown)\b", text)
    if not status:
        return "error", detail
    if status.group(1) != "good":
        return status.group(1), status.group(0).strip(": ")
    return _good_or_expiring(text, now)


def _good_or_expiring(text: str, now: datetime.datetime) -> tuple[str, str]:
    match = re.search(r"Next Update: (.+ GMT)", text)
    if not match:
        return "good", "good (no nextUpdate)"
    next_update = datetime.datetime.strptime(match.group(1), "%b %d %H:%M:%S %Y %Z")
    next_update = next_update.replace(tzinfo=datetime.timezone.utc)
    if next_update - now < STAPLE_EXPIRING:
        return "expiring", f"good, nextUpdate {match.group(1)}"
    return "good", f"good, nextUpdate {match.group(1)}"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def observe_site(node, site, host: str, pki: Pki) -> list[tuple[str, str, str, str]]:
    """(kind, expected, observed, detail) for the staple, the served certificate and the served chain."""
    proc = s_client(node, site, host, msg=True)
    leaf_pem = served_leaf(proc.stdout)
    if not leaf_pem:
        lines = (proc.stderr or proc.stdout or "no output").strip().splitlines()
        return [("staple", site.staple, "no_server", lines[-1] if lines else "handshake failed")]
    out = [("staple", site.staple, *_staple_state(node, site, host, proc.stdout, leaf_pem, pki))]
    expected_cert = "previous" if site.after_start != "none" else "deployed"
    out.append(("cert", expected_cert, *_which_cert(node, site, leaf_pem, pki)))
    count = len(served_chain(proc.stdout))
    out.append(("chain", f"{CHAIN_LENGTH[site.chain]} certs", f"{count} certs", site.chain))
    return out


def served_chain(output: str) -> list[str]:
    """PEM certificates of the "Certificate chain" section of s_client -showcerts."""
    section = re.search(r"^Certificate chain\n(.*?)^---$", output, re.S | re.M)
    return (
        re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", section.group(1), re.S)
        if section
        else []
    )


def _staple_state(node, site, host: str, output: str, leaf_pem: str, pki: Pki) -> tuple[str, str]:
    if "OCSP response: no response sent" in output:
        return "none", "no response sent"
    der = staple_der(output)
    if der is None:
        return "invalid", "a staple was sent but could not be extracted"
    return _judge_staple(node, site, host, der, leaf_pem, pki)


def _which_cert(node, site, leaf_pem: str, pki: Pki) -> tuple[str, str]:
    """Is the served leaf the one in the site's certificate file (deployed), the leaf's previous one, or other?"""
    served = _der(leaf_pem)
    path = server_types()[site.server].cert_file(site)
    try:
        on_disk = _der(node.host_path(path).read_text())
    except OSError:
        on_disk = None
    if served == on_disk:
        return "deployed", f"served = first certificate of {path}"
    previous = pki.previous_cert(site.leaf)
    if previous and served == _der(previous):
        return "previous", f"served = the leaf's previous certificate, not {path}"
    return "other", f"served certificate is neither {path} nor its previous version"


def _der(pem: str) -> str | None:
    match = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)
    return "".join(match.group(1).split()) if match else None


def _judge_staple(node, site, host: str, der: bytes, leaf_pem: str, pki: Pki) -> tuple[str, str]:
    tag = f"oracle-{site.server}-{site.port}-{host}"
    staple_file, leaf_file = node.host_path(f"/tmp/{tag}.der"), node.host_path(f"/tmp/{tag}.pem")
    staple_file.write_bytes(der)
    leaf_file.write_text(leaf_pem)
    argv = [
        "openssl",
        "ocsp",
        "-respin",
        f"/tmp/{tag}.der",
        "-issuer",
        pki.issuer_path(site.leaf),
        "-cert",
        f"/tmp/{tag}.pem",
        "-CAfile",
        pki.roots,
        "-verify_other",
        pki.cas,
        "-no_nonce",
    ]
    proc = node.exec(argv, check=False, timeout=HANDSHAKE_TIMEOUT)
    staple_file.unlink(missing_ok=True)
    leaf_file.unlink(missing_ok=True)
    return judge_response(proc.stdout + proc.stderr, _now())


def observe_responder(node, leaf_name: str, pki: Pki) -> tuple[str, str]:
    """(state, detail) of the responder's answer for the leaf, as `openssl ocsp -url` gets it from the node."""
    leaf = pki.leaf(leaf_name)
    if not leaf.ocsp_urls:
        return "n/a", "the certificate has no OCSP URL"
    argv = [
        "openssl",
        "ocsp",
        "-issuer",
        str(leaf.issuer_path),
        "-cert",
        str(leaf.cert_path),
        "-url",
        leaf.ocsp_urls[0],
        "-CAfile",
        pki.roots,
        "-verify_other",
        pki.cas,
        "-no_nonce",
        "-timeout",
        "5",
    ]
    proc = node.exec(argv, check=False, timeout=HANDSHAKE_TIMEOUT)
    return judge_response(proc.stdout + proc.stderr, _now())


def crl_url_of(leaf_pem_path: Path) -> str | None:
    """The first http CRL distribution point of a leaf, read with openssl (not with the collection)."""
    import subprocess

    proc = subprocess.run(
        ["openssl", "x509", "-in", str(leaf_pem_path), "-noout", "-ext", "crlDistributionPoints"],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"URI:(http://\S+)", proc.stdout)
    return match.group(1) if match else None


def observe_crl(node, leaf_name: str, pki: Pki) -> tuple[str, str]:
    """(state, detail) of the leaf's CRL as the node downloads it, judged by the openssl command line."""
    leaf = pki.leaf(leaf_name)
    url = crl_url_of(leaf.cert_path)
    if url is None:
        return "n/a", "the certificate has no http CRL distribution point"
    tag = f"/tmp/oracle-crl-{leaf_name}.der"
    fetch = node.exec(["python3", "-c", CRL_FETCH, url, tag], check=False, timeout=HANDSHAKE_TIMEOUT)
    if fetch.returncode != 0:
        return "unreachable", (fetch.stdout + fetch.stderr).strip()[-160:] or "download failed"
    try:
        verify = node.exec(
            ["openssl", "crl", "-inform", "DER", "-in", tag, "-noout", "-CAfile", str(leaf.issuer_path)],
            check=False,
            timeout=HANDSHAKE_TIMEOUT,
        )
        said = (verify.stdout + verify.stderr).strip().splitlines()
        if "verify OK" not in said:
            return "invalid", said[-1] if said else "verify failure"
        text = node.exec(
            ["openssl", "crl", "-inform", "DER", "-in", tag, "-noout", "-text"], check=False, timeout=HANDSHAKE_TIMEOUT
        ).stdout
    finally:
        node.host_path(tag).unlink(missing_ok=True)
    # A CRL that is not a complete CRL for this certificate's distribution point says nothing about it.
    if "Delta CRL Indicator" in text:
        return "invalid", "a delta CRL"
    if "Issuing Distribution Point" in text:
        named = re.findall(r"URI:(\S+)", text.split("Issuing Distribution Point", 1)[1].split("Revoked", 1)[0])
        if named and url not in named:
            return "invalid", f"the issuing distribution point is {named[0]}, not {url}"
    serials = {s.lower().lstrip("0") for s in re.findall(r"Serial Number: ([0-9A-Fa-f]+)", text)}
    if leaf.serial.lower().lstrip("0") in serials:
        return "revoked", f"serial {leaf.serial} is listed"
    match = re.search(r"Next Update: (.+ GMT)", text)
    if match:
        next_update = datetime.datetime.strptime(match.group(1), "%b %d %H:%M:%S %Y %Z")
        if next_update.replace(tzinfo=datetime.timezone.utc) < _now():
            return "stale", f"nextUpdate {match.group(1)}"
        return "good", f"verify OK, nextUpdate {match.group(1)}"
    return "good", "verify OK, no nextUpdate"


# ---------------------------------------------------------------- expectations


def expected_crl(node_spec, leaf) -> str:
    faults = node_spec.faults
    if "crl" in faults.egress or "dns" in faults.egress or faults.resolv == "nowhere":
        return "unreachable"
    return CRL_EXPECT[leaf.crl]


def expected_responder(node_spec, leaf) -> str:
    if not leaf.ocsp_url:
        return "n/a"
    faults = node_spec.faults
    if "ocsp" in faults.egress or "dns" in faults.egress or faults.resolv == "nowhere":
        return "unreachable"
    mode = leaf.ocsp["mode"]
    next_update = leaf.ocsp.get("next_update")
    if mode == "good" and next_update is not None and next_update < STAPLE_EXPIRING.total_seconds():
        return "expiring"
    if mode == "slow":
        return "unreachable" if leaf.ocsp.get("delay", 5) >= 5 else RESPONDER_EXPECT[leaf.ocsp.get("then", "good")]
    return RESPONDER_EXPECT.get(mode, "error")


# ---------------------------------------------------------------- the whole lab


def check_node(scenario, node, pki: Pki, recheck: bool = False) -> list[dict]:
    """Every check of one node; ``recheck``: only the final handshakes (no warm-up, responder or egress)."""
    spec = scenario.node(node.name)
    results = []
    # Every running site is warmed up (two rounds) before any is observed: a site still gets its rounds and its
    # pause before it is observed, and a node with several sites waits once instead of once per site.
    not_running = set(spec.server_down) | set(spec.faults.stopped)
    warm = [] if recheck else [site for site in spec.sites if site.server not in not_running]
    if warm:
        warm_up_sites(node, warm, rounds=2)
        time.sleep(WARM_UP_PAUSE)
    for site in spec.sites:
        for host in site.hostnames:
            for kind, expected, observed, detail in observe_site(node, site, host, pki):
                results.append(
                    _result(node.name, kind, f"{site.server}:{site.port} {host}", expected, observed, detail)
                )
    if recheck:
        return results
    # The responders and CRLs of the node's leaves are asked side by side (independent requests, each bounded by
    # its own timeout), two at a time: check_lab runs up to 8 nodes at once on the lab's 2 cores, and a starved
    # openssl could miss its own timeout.
    leaf_names = sorted({s.leaf for s in spec.sites})
    with ThreadPoolExecutor(max_workers=min(2, len(leaf_names)) or 1) as pool:
        asked = {
            name: (
                pool.submit(observe_responder, node, name, pki),
                pool.submit(observe_crl, node, name, pki) if scenario.leaves[name].crl != "none" else None,
            )
            for name in leaf_names
        }
    for leaf_name in leaf_names:
        leaf = scenario.leaves[leaf_name]
        responder, crl = asked[leaf_name]
        state, detail = responder.result()
        results.append(_result(node.name, "responder", leaf_name, expected_responder(spec, leaf), state, detail))
        if crl is not None:
            state, detail = crl.result()
            results.append(_result(node.name, "crl", leaf_name, expected_crl(spec, leaf), state, detail))
    for target, (addr, port) in EGRESS_TARGETS.items():
        expected = "blocked" if target in spec.faults.egress else "open"
        state, detail = observe_egress(node, addr, port)
        results.append(_result(node.name, "egress", f"{target} {addr}:{port}", expected, state, detail))
    return results


def observe_egress(node, addr: str, port: int) -> tuple[str, str]:
    """A plain TCP connect from the node (bash's /dev/tcp) to a lab service: open or blocked."""
    probe = f"exec 3<>/dev/tcp/{addr}/{port}"
    proc = node.exec(["timeout", "2", "bash", "-c", probe], check=False, timeout=HANDSHAKE_TIMEOUT)
    if proc.returncode == 0:
        return "open", f"TCP connect to {addr}:{port} succeeded"
    reason = (proc.stderr.strip().splitlines() or ["timed out"])[-1]
    return "blocked", reason.split(": ")[-1]


def _result(node: str, kind: str, what: str, expected: str, observed: str, detail: str) -> dict:
    return {
        "node": node,
        "kind": kind,
        "what": what,
        "expected": expected,
        "observed": observed,
        "detail": detail,
        "ok": expected == observed,
    }


def check_lab(scenario, only: str | None = None, recheck: bool = False) -> list[dict]:
    from .nodes import node_env

    pki = Pki(state_dir())
    names = [n.name for n in scenario.nodes if only in (None, n.name)]
    if not names:
        raise LabError(f"no node {only!r} in scenario {scenario.name}")
    with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        futures = [pool.submit(check_node, scenario, node_env(name), pki, recheck) for name in names]
        return [r for f in futures for r in f.result()]


def format_results(results: list[dict]) -> str:
    lines = [f"{'':4} {'NODE':<16} {'CHECK':<9} {'WHAT':<40} {'EXPECTED':<12} {'OBSERVED':<12} DETAIL"]
    for r in results:
        mark = "ok" if r["ok"] else "FAIL"
        lines.append(
            f"{mark:<4} {r['node']:<16} {r['kind']:<9} {r['what']:<40} {r['expected']:<12} "
            f"{r['observed']:<12} {r['detail'][:110]}"
        )
    bad = sum(not r["ok"] for r in results)
    lines.append(
        f"oracle: {len(results) - bad} of {len(results)} checks agree with the scenario"
        + (f"; {bad} disagree" if bad else "")
    )
    return "\n".join(lines)


# ---------------------------------------------------------------- preflight: computed from the scenario

# The lab's CAs and their roots (tlslab.pki.HIERARCHY); a new-intermediate candidate moves to <root>-next.
ROOT_OF = {"int-a-rsa": "root-a", "int-a-ec": "root-a", "int-b": "root-b", "int-n": "root-n"}
PREFLIGHT_WARNING_DAYS = 21  # node_audit's default cert_warning_days


def expected_preflight(scenario) -> dict:
    """What node_audit's preflight of the scenario's candidate must say, computed from the scenario alone:
    {node: {"server:port:site": {"verdict": v or None, "checks": {check: status or None}}}} for every site the
    candidate covers. None where the scenario does not decide it (docs/preflight.md says what each check means)."""
    from .scenario import preflight_covers

    out: dict = {}
    if scenario.preflight is None:
        return out
    for node in scenario.nodes:
        not_running = set(node.server_down) | set(node.faults.stopped)
        for site in node.sites:
            if preflight_covers(scenario, site) and site.server not in not_running:
                checks = _preflight_checks(scenario, node, site)
                out.setdefault(node.name, {})[f"{site.server}:{site.port}:{site.name}"] = {
                    "verdict": _preflight_verdict(checks),
                    "checks": checks,
                }
    return out


def _preflight_verdict(checks: dict) -> str | None:
    statuses = set(checks.values())
    if "fail" in statuses:
        return "will_break"
    if None in statuses:
        return None
    return "ready_after_change" if "change" in statuses else "ready"


def _preflight_checks(scenario, node, site) -> dict:
    candidate = scenario.preflight
    leaf = scenario.leaves[candidate.leaf]
    served = scenario.leaves[site.leaf]
    variant = candidate.variant
    issuer = leaf.issuer + "-next" if variant == "new-intermediate" else leaf.issuer
    root = ROOT_OF[leaf.issuer] + ("-next" if variant == "new-intermediate" else "")
    has_url = leaf.ocsp_url and variant != "no-ocsp-url"
    must_staple = leaf.must_staple or variant == "must-staple"
    mode = leaf.ocsp.get("mode")
    answer = None  # what the responder answers from this node: good / revoked / not good; None: not decided
    if "ocsp" in node.faults.egress:
        answer = "unreachable"
    elif mode in ("good", "expiring"):
        answer = "good"
    elif mode == "revoked":
        answer = "revoked"
    stapling_on = {
        "nginx": site.stapling.get("enabled"),
        "apache": site.stapling.get("enabled"),
        "haproxy": site.stapling.get("ocsp_file") != "none",
    }[site.server]
    checks: dict = {}
    if variant == "not-yet-valid" or leaf.validity == "expired":
        checks["validity"] = "fail"
    elif variant == "short-lived" or leaf.validity == "expiring":
        checks["validity"] = "warning"
    else:
        checks["validity"] = "ok"
    if site.after_start != "none":
        checks["key_match"] = None
    else:
        checks["key_match"] = "change" if candidate.new_key or site.leaf != candidate.leaf else "ok"
    checks["chain"] = "ok"  # labctl renew writes the issuer as chain.pem
    checks["issuer_file"] = _preflight_issuer_file(site, served, issuer, root, stapling_on)
    if has_url or not stapling_on:
        checks["ocsp_url"] = "ok"
    else:
        checks["ocsp_url"] = "warning"  # nginx, Apache and HAProxy 2.6 (a .ocsp file) load it and staple nothing
    staple_file = site.stapling.get("file" if site.server == "nginx" else "ocsp_file", "none")
    checks["staple_file"] = "change" if site.server in ("nginx", "haproxy") and staple_file != "none" else "ok"
    if not has_url or answer == "good":
        checks["responder"] = "ok"
    elif answer == "revoked":
        checks["responder"] = "fail"
    elif answer == "unreachable":
        checks["responder"] = "warning"
    else:
        checks["responder"] = None
    if not must_staple:
        checks["must_staple"] = "ok"
    elif not has_url or answer in ("revoked", "unreachable"):
        checks["must_staple"] = "fail"
    elif answer is None:
        checks["must_staple"] = None
    else:
        checks["must_staple"] = "ok" if stapling_on else "change"
    return checks


def _preflight_issuer_file(site, served, issuer: str, root: str, stapling_on: bool) -> str | None:
    """Files on the node that pin the issuer: nginx ssl_trusted_certificate (verified staples need the path from
    the candidate's issuer to a root in it), HAProxy <crt>.issuer (must be the candidate's issuer)."""
    if site.server == "nginx" and stapling_on and site.stapling.get("verify"):
        trusted = site.stapling.get("trusted")
        if trusted == "full":  # the served leaf's issuer and its root
            return "ok" if ROOT_OF[served.issuer] == root else "change"
        if trusted in ("issuer_only", "unrelated"):  # no root of its own: never completes a path
            return "change"
        return None
    if site.server == "haproxy" and site.stapling.get("issuer_file"):
        return "ok" if served.issuer == issuer else "change"
    return "ok"


def preflight_problems(scenario) -> list[str]:
    """Where the scenario's preflight_expect disagrees with what the oracle computes from the scenario."""
    problems = []
    computed = expected_preflight(scenario)
    for node in scenario.nodes:
        for site in node.sites:
            want = site.preflight_expect
            got = computed.get(node.name, {}).get(f"{site.server}:{site.port}:{site.name}")
            if want is None or got is None:
                continue
            where = f"{node.name} {site.server}:{site.port} {site.name}"
            if got["verdict"] is not None and got["verdict"] != want["verdict"]:
                problems.append(
                    f"{where}: the scenario expects {want['verdict']}, the oracle computes {got['verdict']}"
                )
            for check, status in sorted(want["checks"].items()):
                if got["checks"].get(check) not in (None, status):
                    problems.append(
                        f"{where}: {check}: the scenario expects {status}, the oracle computes {got['checks'][check]}"
                    )
    return problems
