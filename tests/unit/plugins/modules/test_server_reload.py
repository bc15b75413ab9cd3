# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""server_reload against real nginx and HAProxy processes started by the tests.

Each server runs as a plain background process (no systemd, no /etc) from a temporary directory, bound to
127.0.0.1 on free high ports, with a certificate from the test PKI; the fixtures kill it (and its workers)
in teardown. The module is called in-process with ``config`` pointing at that directory, so it finds
the master in /proc like on a node. Tests are skipped when the binary is not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import control
from ansible_collections.tlsfleet.stapling.plugins.modules import server_reload
from ansible_collections.tlsfleet.stapling.tests.unit.modrun import run_module

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def accepts(port):
    return control.tcp_accepts("127.0.0.1", port, 1.0)


def write_cert(pki, directory):
    root = pki.root()
    leaf = pki.leaf(root, cn="localhost")
    cert = directory / "site.crt"
    key = directory / "site.key"
    cert.write_bytes(leaf.pem + root.pem)
    key.write_bytes(leaf.key_pem())
    os.chmod(key, 0o600)
    return cert, key


def stop(process, children_of=None):
    """Kill a server started by a test: its master, then any worker left behind."""
    workers = control.workers_of(children_of[0], process.pid) if children_of else []
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# nginx


class Nginx:
    def __init__(self, directory, cert, key):
        self.dir = directory
        self.cert = cert
        self.key = key
        self.conf = directory / "nginx.conf"
        self.port = free_port()
        self.process = None

    def write(self, extra_server=""):
        temp = "".join(f"  {kind}_temp_path {self.dir}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi"))
        temp += "".join(f"  {kind}_temp_path {self.dir}/{kind};\n" for kind in ("uwsgi", "scgi"))
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.conf.write_text(
            f"{user}daemon off;\nmaster_process on;\nworker_processes 1;\n"
            f"error_log {self.dir}/error.log notice;\npid {self.dir}/nginx.pid;\n"
            "events { worker_connections 64; }\n"
            f"http {{\n{temp}  access_log off;\n"
            f"  server {{\n    listen 127.0.0.1:{self.port} ssl;\n    server_name localhost;\n"
            f"    ssl_certificate {self.cert};\n    ssl_certificate_key {self.key};\n"
            f'    location / {{ return 200 "ok"; }}\n{extra_server}  }}\n}}\n'
        )

    def start(self):
        self.write()
        self.process = subprocess.Popen(
            [NGINX, "-c", str(self.conf), "-p", f"{self.dir}/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert wait_until(lambda: accepts(self.port)), "nginx did not start"
        assert wait_until(self.workers)

    def workers(self):
        return control.workers_of("nginx", self.process.pid)


@pytest.fixture
def real_nginx(tmp_path, pki):
    if NGINX is None:
        pytest.skip("nginx is not installed")
    cert, key = write_cert(pki, tmp_path)
    server = Nginx(tmp_path, cert, key)
    server.start()
    yield server
    stop(server.process, ("nginx",))


def nginx_args(server, **kw):
    args = {"server": "nginx", "config": str(server.conf), "method": "native", "timeout": 10}
    args.update(kw)
    return args


def test_real_nginx_reload_replaces_workers(real_nginx, capsys, monkeypatch):
    before = real_nginx.workers()
    result, raw = run_module(server_reload.main, nginx_args(real_nginx), capsys, monkeypatch)
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert result["config_test"]["ok"] is True
    # the prefix the master was started with (-p) is kept
    assert result["config_test"]["command"] == f"{NGINX} -t -c {real_nginx.conf} -p {real_nginx.dir}/"
    assert "test is successful" in result["config_test"]["output"]
    assert result["method"] == "native"
    assert result["command"] == f"{NGINX} -c {real_nginx.conf} -p {real_nginx.dir}/ -s reload"
    assert result["pid_before"] == result["pid_after"] == real_nginx.process.pid
    assert result["workers_before"] == before
    assert result["workers_replaced"] is True
    assert set(result["workers_after"]) - set(before)
    # the TLS port came from discovery of the running configuration
    assert result["wait_for"] == [f"127.0.0.1:{real_nginx.port}"]
    assert result["listening"] == [f"127.0.0.1:{real_nginx.port}"]
    assert "BEGIN" not in raw and "PRIVATE" not in raw
    assert accepts(real_nginx.port)


def test_real_nginx_broken_config_changes_nothing(real_nginx, capsys, monkeypatch):
    before = real_nginx.workers()
    real_nginx.write(extra_server="    ssl_staplin on;\n")
    result, _raw = run_module(server_reload.main, nginx_args(real_nginx), capsys, monkeypatch)
    assert result["failed"] is True
    assert result["changed"] is False
    assert "configuration test failed" in result["msg"]
    assert 'unknown directive "ssl_staplin"' in result["msg"]
    assert result["config_test"]["ok"] is False
    assert result["command"] is None
    time.sleep(0.5)
    assert real_nginx.workers() == before
    assert accepts(real_nginx.port)


def test_real_nginx_tested_and_check_mode(real_nginx, capsys, monkeypatch):
    before = real_nginx.workers()
    result, _raw = run_module(server_reload.main, nginx_args(real_nginx, state="tested"), capsys, monkeypatch)
    assert result["changed"] is False
    assert result["config_test"]["ok"] is True
    args = nginx_args(real_nginx, _ansible_check_mode=True, wait_for=[real_nginx.port])
    result, _raw = run_module(server_reload.main, args, capsys, monkeypatch)
    assert result["changed"] is True
    assert result["command"] == f"{NGINX} -c {real_nginx.conf} -p {real_nginx.dir}/ -s reload"
    time.sleep(0.5)
    assert real_nginx.workers() == before


def test_real_nginx_rejects_config_at_load_time(real_nginx, capsys, monkeypatch):
    # nginx -t does not bind, so a port already taken passes the test; the master then keeps its old workers.
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        taken = blocker.getsockname()[1]
        real_nginx.write(extra_server=f"    listen 127.0.0.1:{taken} ssl;\n")
        before = real_nginx.workers()
        result, _raw = run_module(server_reload.main, nginx_args(real_nginx, timeout=3), capsys, monkeypatch)
    assert result["failed"] is True
    assert result["config_test"]["ok"] is True
    assert "did not take effect" in result["msg"]
    assert result["workers_replaced"] is False
    assert result["workers_after"] == before
    assert accepts(real_nginx.port)
    assert "Address already in use" in (real_nginx.dir / "error.log").read_text()


def test_real_nginx_command_overrides(real_nginx, capsys, monkeypatch):
    conf = str(real_nginx.conf)
    args = nginx_args(
        real_nginx,
        config_test_command=[NGINX, "-t", "-q", "-c", conf],
        reload_command=[NGINX, "-c", conf, "-s", "reload"],
        wait_for=[str(real_nginx.port)],
    )
    result, _raw = run_module(server_reload.main, args, capsys, monkeypatch)
    assert result.get("failed") is not True, result
    assert result["method"] == "command"
    assert result["config_test"]["output"] == ""  # -q: nothing but errors
    assert result["workers_replaced"] is True


def test_real_nginx_not_running_then_started(tmp_path, pki, capsys, monkeypatch):
    if NGINX is None:
        pytest.skip("nginx is not installed")
    cert, key = write_cert(pki, tmp_path)
    server = Nginx(tmp_path, cert, key)
    server.write()
    # daemonized when the module starts it: "daemon off" would make the start command never return
    server.conf.write_text(server.conf.read_text().replace("daemon off;", "daemon on;"))
    args = nginx_args(server, wait_for=[server.port], timeout=10)
    result, _raw = run_module(server_reload.main, args, capsys, monkeypatch)
    assert result["failed"] is True
    assert result["msg"].startswith("nginx is not running; start it first")
    assert not accepts(server.port)
    try:
        result, _raw = run_module(server_reload.main, dict(args, start_if_stopped=True), capsys, monkeypatch)
        assert result.get("failed") is not True, result
        assert result["started"] is True
        assert result["pid_before"] is None
        assert result["listening"] == [f"127.0.0.1:{server.port}"]
        assert control.is_alive("/proc", result["pid_after"])
    finally:
        pid_file = tmp_path / "nginx.pid"
        if pid_file.exists():
            master = int(pid_file.read_text().strip())
            workers = control.workers_of("nginx", master)
            os.kill(master, signal.SIGTERM)
            wait_until(lambda: not control.is_alive("/proc", master), 10)
            for pid in workers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


# ---------------------------------------------------------------------------------------------
# HAProxy master-worker


class Haproxy:
    def __init__(self, directory, cert, key):
        self.dir = directory
        self.pem = directory / "site.pem"
        self.pem.write_bytes(cert.read_bytes() + key.read_bytes())
        self.conf = directory / "haproxy.cfg"
        self.pid_file = directory / "haproxy.pid"
        self.port = free_port()
        self.process = None

    def write(self, extra_frontend=""):
        self.conf.write_text(
            "global\n    maxconn 100\n"
            "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n"
            f"frontend fe\n    bind 127.0.0.1:{self.port} ssl crt {self.pem}\n{extra_frontend}"
            "    http-request return status 200\n"
        )

    def start(self):
        self.write()
        self.process = subprocess.Popen(
            [HAPROXY, "-W", "-f", str(self.conf), "-p", str(self.pid_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert wait_until(lambda: accepts(self.port)), "haproxy did not start"
        assert wait_until(self.workers)

    def workers(self):
        return control.workers_of("haproxy", self.process.pid)


@pytest.fixture
def real_haproxy(tmp_path, pki):
    if HAPROXY is None:
        pytest.skip("haproxy is not installed")
    cert, key = write_cert(pki, tmp_path)
    server = Haproxy(tmp_path, cert, key)
    server.start()
    yield server
    stop(server.process, ("haproxy",))


def haproxy_args(server, **kw):
    args = {"server": "haproxy", "config": str(server.conf), "method": "native", "timeout": 10}
    args.update(kw)
    return args


def test_real_haproxy_reload_replaces_worker(real_haproxy, capsys, monkeypatch):
    before = real_haproxy.workers()
    result, _raw = run_module(server_reload.main, haproxy_args(real_haproxy), capsys, monkeypatch)
    assert result.get("failed") is not True, result
    assert result["config_test"]["command"] == f"{HAPROXY} -c -f {real_haproxy.conf}"
    assert result["command"] == f"kill -USR2 {real_haproxy.process.pid}"
    assert result["workers_before"] == before
    assert result["workers_replaced"] is True
    assert set(result["workers_after"]) - set(before)
    assert result["wait_for"] == [f"127.0.0.1:{real_haproxy.port}"]
    assert result["listening"] == [f"127.0.0.1:{real_haproxy.port}"]
    assert real_haproxy.process.poll() is None


def test_real_haproxy_broken_config_changes_nothing(real_haproxy, capsys, monkeypatch):
    before = real_haproxy.workers()
    real_haproxy.write(extra_frontend="    bogus-keyword on\n")
    result, _raw = run_module(server_reload.main, haproxy_args(real_haproxy), capsys, monkeypatch)
    assert result["failed"] is True
    assert result["changed"] is False
    assert "configuration test failed" in result["msg"]
    assert "bogus-keyword" in result["config_test"]["output"]
    time.sleep(0.5)
    assert real_haproxy.workers() == before
    assert accepts(real_haproxy.port)


def test_real_haproxy_rejects_config_at_load_time(real_haproxy, capsys, monkeypatch):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        taken = blocker.getsockname()[1]
        real_haproxy.write(extra_frontend=f"    bind 127.0.0.1:{taken} ssl crt {real_haproxy.pem}\n")
        before = real_haproxy.workers()
        result, _raw = run_module(server_reload.main, haproxy_args(real_haproxy, timeout=3), capsys, monkeypatch)
    assert result["failed"] is True
    assert result["config_test"]["ok"] is True
    assert "did not take effect" in result["msg"]
    assert result["workers_replaced"] is False
    assert real_haproxy.workers() == before
    assert accepts(real_haproxy.port)


def test_bad_wait_for_fails_without_traceback(capsys, monkeypatch):
    args = {"server": "nginx", "wait_for": ["https"], "state": "tested"}
    result, _raw = run_module(server_reload.main, args, capsys, monkeypatch)
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == "wait_for entry 'https' is not a port, host:port or [address]:port."
    assert "exception" not in result
