# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""certificate_bundle run in-process: files, check mode, diff, idempotence, backups, and caIssuers over real HTTP."""

from __future__ import annotations

import json
import os
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from ansible.module_utils.common import warnings as ansible_warnings
from cryptography.hazmat.primitives import hashes

from ansible_collections.tlsfleet.stapling.plugins.modules import certificate_bundle
from ansible_collections.tlsfleet.stapling.tests.unit import modrun
from ansible_collections.tlsfleet.stapling.tests.unit.pki import Pki


def run(args, capsys, monkeypatch, check=False, diff=False):
    # module.warn() collects into a process-wide store: start each run empty
    getattr(ansible_warnings, "_global_warnings", []).clear()
    args = dict(args)
    args["_ansible_check_mode"] = check
    args["_ansible_diff"] = diff
    return modrun.run_module(certificate_bundle.main, args, capsys, monkeypatch)


def warnings_of(result):
    """Warning texts, from plain strings (ansible-core < 2.19) or warning summaries (2.19+)."""
    texts = []
    for item in result.get("warnings", []):
        texts.append(item if isinstance(item, str) else item.get("event", {}).get("msg", json.dumps(item)))
    return texts


@pytest.fixture
def site(tmp_path):
    pki = Pki()
    root, (int1, int2), leaf = pki.chain(depth=2)
    stranger = pki.root(cn="Stranger Root")
    certs = tmp_path / "in"
    certs.mkdir()
    (certs / "cert.pem").write_bytes(leaf.pem)
    (certs / "pool.pem").write_bytes(int1.pem + stranger.pem + int2.pem + int1.pem)
    (certs / "root.pem").write_bytes(root.pem)
    (certs / "leaf.key").write_bytes(leaf.key_pem())
    out = tmp_path / "out"
    out.mkdir()
    return {
        "pki": pki,
        "root": root,
        "int1": int1,
        "int2": int2,
        "leaf": leaf,
        "stranger": stranger,
        "in": certs,
        "out": out,
        "args": {
            "certificate_path": str(certs / "cert.pem"),
            "intermediate_paths": [str(certs / "pool.pem")],
            "trust_anchor_paths": [str(certs / "root.pem")],
            "private_key_path": str(certs / "leaf.key"),
            "fullchain_dest": str(out / "fullchain.pem"),
            "chain_dest": str(out / "chain.pem"),
            "trusted_dest": str(out / "trusted.pem"),
        },
    }


def test_writes_files_in_order_and_is_idempotent(site, capsys, monkeypatch):
    s = site
    result, _raw = run(dict(s["args"], mode="0640"), capsys, monkeypatch)
    assert result["changed"] is True, result
    out = s["out"]
    assert (out / "fullchain.pem").read_bytes() == s["leaf"].pem + s["int2"].pem + s["int1"].pem
    assert (out / "chain.pem").read_bytes() == s["int2"].pem + s["int1"].pem
    assert (out / "trusted.pem").read_bytes() == s["int2"].pem + s["int1"].pem + s["root"].pem
    for name in ("fullchain.pem", "chain.pem", "trusted.pem"):
        assert stat.S_IMODE(os.stat(out / name).st_mode) == 0o640
    assert result["key_matches"] is True
    assert result["leaf"]["subject"] == s["leaf"].subject
    assert [c["subject"] for c in result["chain"]] == [s["int2"].subject, s["int1"].subject]
    assert result["root"]["subject"] == s["root"].subject
    assert result["chain_pem"] == (s["int2"].pem + s["int1"].pem).decode()
    assert [c["subject"] for c in result["ignored"]] == [s["stranger"].subject]
    assert any("Stranger Root" in w for w in warnings_of(result))
    assert result["files"]["fullchain"] == {
        "path": s["args"]["fullchain_dest"],
        "changed": True,
        "content_changed": True,
        "created": True,
        "backup_file": None,
        "certificates": 3,
    }
    assert result["fetched"] == []

    again, _raw = run(dict(s["args"], mode="0640", backup=True), capsys, monkeypatch)
    assert again["changed"] is False
    assert all(not entry["changed"] and entry["backup_file"] is None for entry in again["files"].values())
    assert sorted(os.listdir(out)) == ["chain.pem", "fullchain.pem", "trusted.pem"]

    # only the mode differs: changed, content untouched
    mode_only, _raw = run(dict(s["args"], mode="0644"), capsys, monkeypatch)
    assert mode_only["changed"] is True
    assert mode_only["files"]["chain"]["content_changed"] is False
    assert stat.S_IMODE(os.stat(out / "chain.pem").st_mode) == 0o644


def test_check_mode_writes_nothing_and_diff_shows_no_pem(site, capsys, monkeypatch):
    s = site
    combined = s["in"] / "combined.pem"
    combined.write_bytes(s["leaf"].pem + s["leaf"].key_pem())
    (s["out"] / "fullchain.pem").write_bytes(s["int1"].pem + s["leaf"].pem + s["leaf"].key_pem())
    args = dict(s["args"], certificate_path=str(combined), private_key_path=str(combined))
    result, raw = run(args, capsys, monkeypatch, check=True, diff=True)
    assert result["changed"] is True
    assert sorted(os.listdir(s["out"])) == ["fullchain.pem"]
    assert (s["out"] / "fullchain.pem").read_bytes().startswith(s["int1"].pem)
    assert "PRIVATE KEY" not in raw and "BEGIN" not in json.dumps(result["diff"])
    by_header = {d["after_header"]: d for d in result["diff"]}
    full = by_header[f"{s['args']['fullchain_dest']} (fullchain)"]
    assert full["before"].splitlines()[0].startswith(f"subject={s['int1'].subject} | ")
    assert full["before"].splitlines()[-1] == "(and a private key, not shown)"
    after = full["after"].splitlines()
    assert [line.split(" | ")[0] for line in after] == [
        f"subject={s['leaf'].subject}",
        f"subject={s['int2'].subject}",
        f"subject={s['int1'].subject}",
    ]
    assert f"sha256={s['leaf'].cert.fingerprint(hashes.SHA256()).hex()}" in after[0]
    trusted = by_header[f"{s['args']['trusted_dest']} (trusted)"]
    assert trusted["before_header"] == "(absent)" and trusted["before"] == ""
    assert len(trusted["after"].splitlines()) == 3


def test_backup_only_when_replaced(site, capsys, monkeypatch):
    s = site
    dest = s["out"] / "fullchain.pem"
    dest.write_bytes(s["leaf"].pem)  # incomplete: will be replaced
    args = {
        "certificate_path": s["args"]["certificate_path"],
        "intermediate_paths": s["args"]["intermediate_paths"],
        "trust_anchor_paths": s["args"]["trust_anchor_paths"],
        "fullchain_dest": str(dest),
        "trusted_dest": s["args"]["trusted_dest"],
        "backup": True,
    }
    result, _raw = run(args, capsys, monkeypatch)
    backup = result["files"]["fullchain"]["backup_file"]
    assert backup and os.path.isfile(backup)
    with open(backup, "rb") as handle:
        assert handle.read() == s["leaf"].pem
    assert result["files"]["trusted"]["backup_file"] is None  # it did not exist
    assert dest.read_bytes() == s["leaf"].pem + s["int2"].pem + s["int1"].pem
    assert len(os.listdir(s["out"])) == 3  # fullchain, its backup, trusted; no temporary files left


def test_symlinked_destination_keeps_the_link(site, capsys, monkeypatch):
    s = site
    archive = s["out"] / "archive"
    archive.mkdir()
    real = archive / "fullchain1.pem"
    real.write_bytes(s["leaf"].pem)
    link = s["out"] / "fullchain.pem"
    link.symlink_to(real)
    args = dict(s["args"], fullchain_dest=str(link), chain_dest=None, trusted_dest=None, backup=True)
    result, _raw = run(args, capsys, monkeypatch)
    assert result["files"]["fullchain"]["changed"] is True
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == s["leaf"].pem + s["int2"].pem + s["int1"].pem
    assert os.path.dirname(result["files"]["fullchain"]["backup_file"]) == str(archive)
    again, _raw = run(args, capsys, monkeypatch)
    assert again["changed"] is False


def test_key_mismatch_fails_before_writing(site, capsys, monkeypatch):
    s = site
    other = s["pki"].leaf(s["int2"], kind="rsa")
    wrong = s["in"] / "wrong.key"
    wrong.write_bytes(other.key_pem())
    result, raw = run(dict(s["args"], private_key_path=str(wrong)), capsys, monkeypatch)
    assert result["failed"] is True
    assert result["msg"].startswith(f"the private key in {wrong} does not belong to the certificate")
    assert "PRIVATE KEY" not in raw
    assert os.listdir(s["out"]) == []


def test_missing_issuer_fails_before_writing(site, capsys, monkeypatch):
    s = site
    only_int1 = s["in"] / "only-int1.pem"
    only_int1.write_bytes(s["int1"].pem)
    result, _raw = run(dict(s["args"], intermediate_paths=[str(only_int1)]), capsys, monkeypatch)
    assert result["failed"] is True
    assert result["msg"].startswith(f"no issuer for '{s['leaf'].subject}'")
    assert "fetch_issuers" in result["msg"]
    assert os.listdir(s["out"]) == []


def test_compute_only_with_content_and_key_in_content(site, capsys, monkeypatch):
    s = site
    content = (s["leaf"].pem + s["leaf"].key_pem() + s["int2"].pem).decode()
    args = {
        "certificate": content,
        "intermediates": [(s["int1"].pem + s["root"].pem).decode()],
        "trust_anchor_paths": s["args"]["trust_anchor_paths"],
    }
    result, raw = run(args, capsys, monkeypatch)
    assert result["changed"] is False
    assert result["files"] == {}
    assert result["chain_pem"] == (s["int2"].pem + s["int1"].pem).decode()
    assert "PRIVATE KEY" not in raw
    assert any("holds a private key" in w for w in warnings_of(result))
    assert os.listdir(s["out"]) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"certificate_path": "MISSING"}, "certificate file {in}/missing.pem does not exist."),
        ({"intermediate_paths": ["GARBAGE"]}, "intermediate file {in}/garbage.pem is text, not a PEM or DER"),
        ({"include_root": True, "trust_anchor_paths": [], "require_root": False}, "include_root is set, but no root"),
        ({"fullchain_dest": "NODIR"}, "the directory {out}/nodir of fullchain_dest does not exist."),
        ({"chain_dest": "SAME"}, "name the same file"),
        ({"fetch_timeout": 0}, "fetch_timeout must be a positive number"),
    ],
)
def test_clear_errors(site, capsys, monkeypatch, change, expected):
    s = site
    (s["in"] / "garbage.pem").write_bytes(b"hello, this is not a certificate\n")
    values = {
        "MISSING": str(s["in"] / "missing.pem"),
        "GARBAGE": str(s["in"] / "garbage.pem"),
        "NODIR": str(s["out"] / "nodir" / "f.pem"),
        "SAME": s["args"]["fullchain_dest"],
    }
    args = dict(s["args"])
    for key, value in change.items():
        if isinstance(value, list):
            args[key] = [values.get(item, item) for item in value]
        else:
            args[key] = values.get(value, value) if isinstance(value, str) else value
    if change.get("require_root") is False:
        args["intermediate_paths"] = [s["args"]["intermediate_paths"][0]]
        args["trust_anchor_paths"] = [str(s["in"] / "pool.pem")]  # no root anywhere
    result, _raw = run(args, capsys, monkeypatch)
    assert result["failed"] is True, result
    assert expected.format(**{"in": s["in"], "out": s["out"]}) in result["msg"]
    assert "Traceback" not in result["msg"]
    assert os.listdir(s["out"]) == []


def test_empty_chain_file_is_refused(capsys, monkeypatch, tmp_path):
    pki = Pki()
    root = pki.root()
    leaf = pki.leaf(root)
    (tmp_path / "cert.pem").write_bytes(leaf.pem)
    (tmp_path / "root.pem").write_bytes(root.pem)
    args = {
        "certificate_path": str(tmp_path / "cert.pem"),
        "trust_anchor_paths": [str(tmp_path / "root.pem")],
        "chain_dest": str(tmp_path / "chain.pem"),
    }
    result, _raw = run(args, capsys, monkeypatch)
    assert result["failed"] is True
    assert "would be empty" in result["msg"]
    result, _raw = run(dict(args, include_root=True), capsys, monkeypatch)
    assert result["changed"] is True
    assert (tmp_path / "chain.pem").read_bytes() == root.pem


# ---------------------------------------------------------------------------------------------
# caIssuers over real HTTP


class CaIssuers(BaseHTTPRequestHandler):
    files: ClassVar[dict] = {}
    requests: ClassVar[list] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        body = type(self).files.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-cert")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def http_base(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), CaIssuers)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    CaIssuers.requests = []
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_fetch_issuers_over_http(http_base, capsys, monkeypatch, tmp_path):
    pki = Pki()
    root = pki.root()
    int1 = pki.intermediate(root, cn="Fetched Int 1", ca_issuers_urls=[http_base + "/root.der"])
    int2 = pki.intermediate(int1, cn="Fetched Int 2", ca_issuers_urls=[http_base + "/int1.der"])
    leaf = pki.leaf(int2, ca_issuers_urls=[http_base + "/int2.der"])
    CaIssuers.files = {"/int2.der": int2.der, "/int1.der": int1.der}
    (tmp_path / "cert.pem").write_bytes(leaf.pem)
    (tmp_path / "root.pem").write_bytes(root.pem)
    args = {
        "certificate_path": str(tmp_path / "cert.pem"),
        "trust_anchor_paths": [str(tmp_path / "root.pem")],
        "fetch_issuers": True,
        "fetch_timeout": 5,
        "fullchain_dest": str(tmp_path / "fullchain.pem"),
    }
    result, _raw = run(args, capsys, monkeypatch)
    assert result.get("failed") is not True, result
    assert result["fetched"] == [http_base + "/int2.der", http_base + "/int1.der"]
    assert CaIssuers.requests == ["/int2.der", "/int1.der"]
    assert (tmp_path / "fullchain.pem").read_bytes() == leaf.pem + int2.pem + int1.pem
    assert result["root"]["subject"] == root.subject
    assert result["ignored"] == []

    # without fetching, the message names the missing issuer and the option
    result, _raw = run(dict(args, fetch_issuers=False), capsys, monkeypatch)
    assert result["failed"] is True
    assert result["msg"].startswith(f"no issuer for '{leaf.subject}'")
    assert f"set fetch_issuers=true to download it from {http_base}/int2.der" in result["msg"]


def test_fetch_issuers_http_error_is_named(http_base, capsys, monkeypatch, tmp_path):
    pki = Pki()
    root = pki.root()
    inter = pki.intermediate(root)
    leaf = pki.leaf(inter, ca_issuers_urls=[http_base + "/gone.der"])
    CaIssuers.files = {}
    (tmp_path / "cert.pem").write_bytes(leaf.pem)
    args = {"certificate_path": str(tmp_path / "cert.pem"), "fetch_issuers": True, "trust_anchor_paths": []}
    result, _raw = run(args, capsys, monkeypatch)
    assert result["failed"] is True
    assert f"fetching {http_base}/gone.der failed: HTTP 404" in result["msg"]
    assert CaIssuers.requests == ["/gone.der"]


# --------------------------------------------------------------------------------------------------------------
# Files that hold a key: created 0600 from the first byte, backups too


@pytest.fixture
def created_modes(monkeypatch, tmp_path):
    """Record every file created under tmp_path with os.open, with the mode asked for; fail any other creation
    there (open() and shutil create with the umask's mode and would need a chmod afterwards)."""
    import builtins

    created = {}
    real_os_open, real_open = os.open, builtins.open
    created["real_chmod"] = os.chmod  # for the test's own set-up

    def spy_os_open(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT and str(path).startswith(str(tmp_path)):
            created[str(path)] = mode
        return real_os_open(path, flags, mode, *args, **kwargs)

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax"):
            name = os.fsdecode(file)
            if name.startswith(str(tmp_path / "out")):
                raise AssertionError("%s created with open(%r), not with a mode from the start" % (name, mode))
        return real_open(file, mode, *args, **kwargs)

    def guarded_chmod(real):
        def chmod(path, mode, *args, **kwargs):
            if mode & 0o077 and os.fsdecode(path).startswith(str(tmp_path / "out")):
                raise AssertionError("%s made readable by others for a moment (mode %o)" % (path, mode))
            return real(path, mode, *args, **kwargs)

        return chmod

    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "chmod", guarded_chmod(os.chmod))
    if hasattr(os, "lchmod"):
        monkeypatch.setattr(os, "lchmod", guarded_chmod(os.lchmod))
    old_umask = os.umask(0)  # the worst umask: anything created with a default mode would be world-readable
    yield created
    os.umask(old_umask)


def key_args(s, **extra):
    args = {
        "certificate_content": s["leaf"].pem.decode(),
        "intermediate_paths": [str(s["in"] / "pool.pem")],
        "trust_anchor_paths": [str(s["in"] / "root.pem")],
        "private_key_content": s["leaf"].key_pem().decode(),
        "private_key_dest": str(s["out"] / "www.key"),
        "mode": "0600",
        "backup": True,
    }
    args.update(extra)
    return args


def test_new_key_file_and_its_backup_are_never_readable_by_others(site, capsys, monkeypatch, created_modes):
    s = site
    key = s["out"] / "www.key"
    result, raw = run(key_args(s), capsys, monkeypatch, diff=True)
    assert result["changed"] is True and result["files"]["key"]["created"] is True
    assert key.read_bytes().strip() == s["leaf"].key_pem().strip()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    real_chmod = created_modes.pop("real_chmod")
    assert created_modes and all(mode == 0o600 for mode in created_modes.values()), created_modes
    assert "PRIVATE KEY" not in raw and s["leaf"].key_pem().decode().splitlines()[1] not in raw

    # The old key, carelessly left world-readable: its backup is 0600 all the same, created so.
    other = s["pki"].leaf(s["int1"], cn="www.example.test")
    key.write_bytes(other.key_pem())
    real_chmod(key, 0o644)
    created_modes.clear()
    result, raw = run(key_args(s), capsys, monkeypatch)
    backup = result["files"]["key"]["backup_file"]
    assert backup and Path(backup).read_bytes() == other.key_pem()
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert created_modes[backup] == 0o600
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_bytes().strip() == s["leaf"].key_pem().strip()

    again, _raw = run(key_args(s), capsys, monkeypatch)
    assert again["changed"] is False and again["files"]["key"]["backup_file"] is None


def test_combined_file_holds_the_chain_then_the_key_created_0600(site, capsys, monkeypatch, created_modes):
    s = site
    pem = s["out"] / "www.pem"
    args = key_args(s, fullchain_dest=str(pem), private_key_dest=str(pem))
    result, _raw = run(args, capsys, monkeypatch)
    assert set(result["files"]) == {"combined"} and result["files"]["combined"]["created"] is True
    assert pem.read_bytes() == s["leaf"].pem + s["int2"].pem + s["int1"].pem + s["leaf"].key_pem().strip() + b"\n"
    created_modes.pop("real_chmod")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600 and set(created_modes.values()) == {0o600}


def test_a_key_that_is_not_the_certificates_is_refused_and_nothing_written(site, capsys, monkeypatch):
    s = site
    other = s["pki"].leaf(s["int1"], cn="www.example.test")
    result, raw = run(key_args(s, private_key_content=other.key_pem().decode()), capsys, monkeypatch)
    assert result["failed"] is True and "does not belong to the certificate" in result["msg"]
    assert os.listdir(s["out"]) == [] and "PRIVATE KEY" not in raw
    result, _raw = run(key_args(s, private_key_dest=None), capsys, monkeypatch)
    assert result["failed"] is True and "private_key_content needs private_key_dest" in result["msg"]
