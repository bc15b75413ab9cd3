# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""server_reload against real nginx, HAProxy and Apache httpd processes started by the tests.

Each server runs as a plain background process (no systemd, no /etc) from a temporary directory, bound to
127.0.0.1 on a port reserved for the test (tests/unit/ports.py: outside the ephemeral range, locked against
other xdist workers and test runs), with a certificate from the test PKI; the fixtures kill it (and its
workers) in teardown. "Serving" is asserted as a listening socket held by the server's own process tree, not
as "something accepts on that port". The module is called in-process with ``config`` pointing at that
directory, so it finds the master in /proc like on a node. Tests are skipped when the binary is not installed.

The bind check (a listen address of the new configuration held by another process) is tested here against real
servers and a Python socket as the other process, and on a fake /proc tree for the parsing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common, control
from ansible_collections.tlsfleet.stapling.plugins.modules import server_reload
from ansible_collections.tlsfleet.stapling.tests.unit.modrun import run_module
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import (
    FakeProc,
    FakeRunner,
    which_from,
)

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
APACHE = shutil.which("apache2") or shutil.which("apache2", path="/usr/sbin:/sbin")
APACHE_MODULES = "/usr/lib/apache2/modules"
# the real /proc reader, kept for the tests' own checks: hide_listeners() patches the module's view only
READ_LISTENING_SOCKETS = control.read_listening_sockets


def own_comm():
    with open("/proc/self/comm") as handle:
        return handle.read().strip()


def hide_listeners(monkeypatch):
    """Make the bind check see no listening socket: a port taken between the check and the reload."""
    monkeypatch.setattr(control, "read_listening_sockets", lambda proc_root="/proc", pid=None: [])


def wait_until(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def accepts(port):
    return control.tcp_accepts("127.0.0.1", port, 1.0)


def listeners_of(master_pid):
    """``host:port`` of the listening sockets held by the master or a descendant of it (read from /proc)."""
    family, _processes = control.process_family("/proc", master_pid)
    inodes = set()
    for pid in family:
        inodes |= control._socket_inodes("/proc", pid) or set()
    return {sock.display() for sock in READ_LISTENING_SOCKETS() or [] if sock.inode in inodes}


def serves(master_pid, port):
    """The server under test (its process tree) listens on 127.0.0.1:port and accepts a connection there."""
    return f"127.0.0.1:{port}" in listeners_of(master_pid) and accepts(port)


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
    try:  # and whatever else is left of its session (started with start_new_session): nothing outlives the test
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass


def running(server, kind):
    """A fixture's body: the server started, then stopped, even when it starts but never serves."""
    try:
        server.start()
        yield server
    finally:
        if server.process is not None:
            stop(server.process, (kind,))


# ---------------------------------------------------------------------------------------------
# nginx


class Nginx:
    def __init__(self, directory, cert, key, port):
        self.dir = directory
        self.cert = cert
        self.key = key
        self.conf = directory / "nginx.conf"
        self.port = port
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
        assert wait_until(lambda: serves(self.process.pid, self.port)), "nginx did not start"
        assert wait_until(self.workers)

    def workers(self):
        return control.workers_of("nginx", self.process.pid)


@pytest.fixture
def real_nginx(tmp_path, pki, reserve_port):
    if NGINX is None:
        pytest.skip("nginx is not installed")
    cert, key = write_cert(pki, tmp_path)
    yield from running(Nginx(tmp_path, cert, key, reserve_port()), "nginx")


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
    assert serves(real_nginx.process.pid, real_nginx.port)


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
    assert serves(real_nginx.process.pid, real_nginx.port)


def test_real_nginx_tested_and_check_mode(real_nginx, capsys, monkeypatch):
    before = real_nginx.workers()
    result, _raw = run_module(server_reload.main, nginx_args(real_nginx, state="tested"), capsys, monkeypatch)
    assert result["changed"] is False, result
    assert result["config_test"]["ok"] is True, result
    args = nginx_args(real_nginx, _ansible_check_mode=True, wait_for=[real_nginx.port])
    result, _raw = run_module(server_reload.main, args, capsys, monkeypatch)
    assert result["changed"] is True, result
    assert result["command"] == f"{NGINX} -c {real_nginx.conf} -p {real_nginx.dir}/ -s reload"
    time.sleep(0.5)
    assert real_nginx.workers() == before


def test_real_nginx_bind_conflict_refused_before_reload(real_nginx, capsys, monkeypatch):
    # nginx -t does not bind, so a port already taken passes the test; the bind check stops the reload.
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        taken = blocker.getsockname()[1]
        real_nginx.write(extra_server=f"    listen 127.0.0.1:{taken} ssl;\n")
        before = real_nginx.workers()
        result, _raw = run_module(server_reload.main, nginx_args(real_nginx, timeout=3), capsys, monkeypatch)
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["config_test"]["ok"] is True
    assert result["msg"].startswith(f"Refusing to reload nginx (master pid {real_nginx.process.pid})")
    assert f"127.0.0.1:{taken} is held by pid {os.getpid()} ({own_comm()})" in result["msg"]
    assert "the reload would not take effect" in result["msg"]
    assert result["bind_conflicts"] == [
        {"address": f"127.0.0.1:{taken}", "socket": f"127.0.0.1:{taken}", "pid": os.getpid(), "command": own_comm()}
    ]
    assert result["bind_check"]["checked"] is True
    assert result["bind_check"]["addresses"] == [f"127.0.0.1:{real_nginx.port}", f"127.0.0.1:{taken}"]
    time.sleep(0.3)
    assert real_nginx.workers() == before
    assert "Address already in use" not in (real_nginx.dir / "error.log").read_text()


def test_real_nginx_rejects_config_at_load_time(real_nginx, capsys, monkeypatch):
    # A port taken after the bind check: the master keeps its old workers, and the wait notices.
    hide_listeners(monkeypatch)
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
    assert serves(real_nginx.process.pid, real_nginx.port)
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


def test_real_nginx_not_running_then_started(tmp_path, pki, reserve_port, capsys, monkeypatch):
    if NGINX is None:
        pytest.skip("nginx is not installed")
    cert, key = write_cert(pki, tmp_path)
    server = Nginx(tmp_path, cert, key, reserve_port())
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
        assert serves(result["pid_after"], server.port)
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
    def __init__(self, directory, cert, key, port):
        self.dir = directory
        self.pem = directory / "site.pem"
        self.pem.write_bytes(cert.read_bytes() + key.read_bytes())
        self.conf = directory / "haproxy.cfg"
        self.pid_file = directory / "haproxy.pid"
        self.port = port
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
        assert wait_until(lambda: serves(self.process.pid, self.port)), "haproxy did not start"
        assert wait_until(self.workers)

    def workers(self):
        return control.workers_of("haproxy", self.process.pid)


@pytest.fixture
def real_haproxy(tmp_path, pki, reserve_port):
    if HAPROXY is None:
        pytest.skip("haproxy is not installed")
    cert, key = write_cert(pki, tmp_path)
    yield from running(Haproxy(tmp_path, cert, key, reserve_port()), "haproxy")


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
    assert serves(real_haproxy.process.pid, real_haproxy.port)


def test_real_haproxy_bind_conflict_refused_before_reload(real_haproxy, capsys, monkeypatch):
    with socket.socket() as blocker:
        blocker.bind(("0.0.0.0", 0))  # noqa: S104  # a wildcard holder collides with every address of its port
        blocker.listen(1)
        taken = blocker.getsockname()[1]
        real_haproxy.write(extra_frontend=f"    bind 127.0.0.1:{taken} ssl crt {real_haproxy.pem}\n")
        before = real_haproxy.workers()
        result, _raw = run_module(server_reload.main, haproxy_args(real_haproxy, timeout=3), capsys, monkeypatch)
    assert result["failed"] is True
    assert result["config_test"]["ok"] is True
    assert "Refusing to reload HAProxy" in result["msg"]
    assert f"127.0.0.1:{taken} is held by pid {os.getpid()} ({own_comm()}) on 0.0.0.0:{taken}" in result["msg"]
    assert result["bind_conflicts"] == [
        {"address": f"127.0.0.1:{taken}", "socket": f"0.0.0.0:{taken}", "pid": os.getpid(), "command": own_comm()}
    ]
    assert result["command"] is None
    time.sleep(0.3)
    assert real_haproxy.workers() == before
    assert serves(real_haproxy.process.pid, real_haproxy.port)


def test_real_haproxy_rejects_config_at_load_time(real_haproxy, capsys, monkeypatch):
    hide_listeners(monkeypatch)
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
    assert serves(real_haproxy.process.pid, real_haproxy.port)


def test_bad_wait_for_fails_without_traceback(capsys, monkeypatch):
    args = {"server": "nginx", "wait_for": ["https"], "state": "tested"}
    result, _raw = run_module(server_reload.main, args, capsys, monkeypatch)
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == "wait_for entry 'https' is not a port, host:port or [address]:port."
    assert "exception" not in result


# ---------------------------------------------------------------------------------------------
# Apache httpd: a graceful restart that cannot bind a Listen address takes the whole server down


def _apache_user():
    import grp
    import pwd

    for user, group in (("www-data", "www-data"), ("nobody", "nogroup"), ("nobody", "nobody")):
        try:
            pwd.getpwnam(user)
            grp.getgrnam(group)
        except KeyError:
            continue
        return user, group
    return None


class Apache:
    """A daemonized Apache httpd (mpm_event) on 127.0.0.1 from its own ServerRoot, no TLS: only binds matter."""

    def __init__(self, directory, port):
        self.dir = directory
        self.conf = directory / "httpd.conf"
        self.pid_file = directory / "httpd.pid"
        self.error_log = directory / "error.log"
        self.port = port
        self.master = None

    def write(self, extra_listen=()):
        user, group = _apache_user()
        listens = "".join(f"Listen {address}\n" for address in (f"127.0.0.1:{self.port}", *extra_listen))
        self.conf.write_text(
            f"ServerRoot {self.dir}\nServerName localhost\n"
            f"LoadModule mpm_event_module {APACHE_MODULES}/mod_mpm_event.so\n"
            f"LoadModule authz_core_module {APACHE_MODULES}/mod_authz_core.so\n"
            f"User {user}\nGroup {group}\n"
            f"PidFile {self.pid_file}\nErrorLog {self.error_log}\nLogLevel info\n"
            f"DefaultRuntimeDir {self.dir}\nMutex file:{self.dir}\n"
            "StartServers 1\nServerLimit 1\nThreadsPerChild 4\nMaxRequestWorkers 4\n"
            f"DocumentRoot {self.dir}\n{listens}"
        )

    def command(self, action):
        return [APACHE, "-d", str(self.dir), "-f", str(self.conf), "-k", action]

    def start(self):
        self.write()
        subprocess.run(self.command("start"), check=True, timeout=30, capture_output=True)
        # the daemon writes its pid file after it binds: wait for it, then for the children
        assert wait_until(lambda: self.read_pid() is not None), "apache2 wrote no pid file"
        self.master = self.read_pid()
        assert wait_until(lambda: serves(self.master, self.port)), "apache2 did not start"
        assert wait_until(self.workers)

    def read_pid(self):
        try:
            text = self.pid_file.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def workers(self):
        return control.workers_of("apache", self.master)

    def alive(self):
        return control.is_alive("/proc", self.master)

    def stop(self):
        """Kill every master this test started (the first one, and one the module started), and their children."""
        for master in {self.master, self.read_pid()} - {None}:
            children = control.workers_of("apache", master)
            try:
                os.kill(master, signal.SIGTERM)
            except OSError:
                pass
            wait_until(lambda pid=master: not control.is_alive("/proc", pid), 10)
            for pid in [master, *children]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


@pytest.fixture
def real_apache(tmp_path, request, reserve_port):
    if APACHE is None or not os.path.isfile(f"{APACHE_MODULES}/mod_mpm_event.so"):
        pytest.skip("Apache httpd (Debian's apache2 with mpm_event) is not installed")
    if os.geteuid() != 0:
        pytest.skip("Apache httpd is started as root here (it switches to an unprivileged user)")
    if _apache_user() is None:
        pytest.skip("no unprivileged user for Apache httpd")
    tmp_path.chmod(0o755)
    server = Apache(tmp_path, reserve_port())
    request.addfinalizer(server.stop)
    server.start()
    return server


def apache_args(server, **kw):
    args = {"server": "apache", "config": str(server.conf), "method": "native", "timeout": 10}
    args.update(kw)
    return args


@pytest.fixture
def holder():
    """A socket of this test process listening on a free port: the "other process" holding an address."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock
    sock.close()


def test_real_apache_bind_conflict_refused_server_keeps_running(real_apache, holder, capsys, monkeypatch):
    taken = holder.getsockname()[1]
    real_apache.write(extra_listen=[f"127.0.0.1:{taken}"])
    before = real_apache.workers()
    args = apache_args(real_apache, wait_for=[real_apache.port, taken])
    result, raw = run_module(server_reload.main, args, capsys, monkeypatch)
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["config_test"]["ok"] is True  # apache2 -t does not bind
    assert result["msg"].startswith(f"Refusing to reload Apache httpd (master pid {real_apache.master})")
    assert f"127.0.0.1:{taken} is held by pid {os.getpid()} ({own_comm()})" in result["msg"]
    assert "Apache httpd exits completely when a graceful restart cannot bind a Listen address" in result["msg"]
    assert result["bind_conflicts"] == [
        {"address": f"127.0.0.1:{taken}", "socket": f"127.0.0.1:{taken}", "pid": os.getpid(), "command": own_comm()}
    ]
    # the Listen directives came from the configuration on disk, the new one included
    assert result["bind_check"]["addresses"] == [f"127.0.0.1:{real_apache.port}", f"127.0.0.1:{taken}"]
    assert result["command"] is None
    assert "warnings" not in json.loads(raw)
    # nothing was sent to Apache: the same master, the same workers, still serving
    time.sleep(0.5)
    assert real_apache.alive()
    assert real_apache.read_pid() == real_apache.master
    assert real_apache.workers() == before
    assert serves(real_apache.master, real_apache.port)
    assert "graceful restart" not in real_apache.error_log.read_text()

    # check mode refuses too: it would report a reload that must not happen
    result, _raw = run_module(server_reload.main, dict(args, _ansible_check_mode=True), capsys, monkeypatch)
    assert result["failed"] is True
    assert result["bind_conflicts"][0]["pid"] == os.getpid()


def test_real_apache_second_listen_without_holder_reloads(real_apache, reserve_port, capsys, monkeypatch):
    second = reserve_port()
    real_apache.write(extra_listen=[f"127.0.0.1:{second}"])
    before = real_apache.workers()
    args = apache_args(real_apache, wait_for=[real_apache.port, second])
    result, _raw = run_module(server_reload.main, args, capsys, monkeypatch)
    assert result.get("failed") is not True, result
    assert result["bind_check"] == {
        "checked": True,
        "addresses": [f"127.0.0.1:{real_apache.port}", f"127.0.0.1:{second}"],
        "notes": [],
    }
    assert result["bind_conflicts"] == []
    assert result["command"].endswith(f"-d {real_apache.dir} -f {real_apache.conf} -k graceful")
    assert result["pid_before"] == result["pid_after"] == real_apache.master
    assert result["workers_replaced"] is True
    assert set(result["workers_after"]) - set(before)
    assert result["listening"] == [f"127.0.0.1:{real_apache.port}", f"127.0.0.1:{second}"]
    assert listeners_of(real_apache.master) >= {f"127.0.0.1:{real_apache.port}", f"127.0.0.1:{second}"}
    assert accepts(real_apache.port)
    assert accepts(second)


def test_real_apache_down_after_reload_said_plainly_then_started(real_apache, holder, capsys, monkeypatch):
    # Without the bind check (a port taken between the check and the reload) Apache really exits...
    taken = holder.getsockname()[1]
    original = real_apache.conf.read_text()
    real_apache.write(extra_listen=[f"127.0.0.1:{taken}"])
    hide_listeners(monkeypatch)
    args = apache_args(real_apache, wait_for=[real_apache.port], timeout=4)
    result, _raw = run_module(server_reload.main, args, capsys, monkeypatch)
    assert result["failed"] is True
    assert result["msg"].startswith(
        f"Apache httpd is DOWN: Apache httpd is not running after the reload (master pid {real_apache.master} is gone)"
    )
    assert "AH00072" in result["msg"]
    assert "start_if_stopped=true" in result["msg"]
    assert str(real_apache.error_log) in result["msg"]
    assert result["pid_after"] is None
    assert result["listening"] == []
    assert not real_apache.alive()
    assert "AH00072: make_sock: could not bind to address" in real_apache.error_log.read_text()
    assert not accepts(real_apache.port)  # the port stays reserved for this test: nothing else may answer
    monkeypatch.undo()
    # ...and the restore path (the previous files, start_if_stopped) brings it back.
    real_apache.conf.write_text(original)
    result, _raw = run_module(server_reload.main, dict(args, start_if_stopped=True), capsys, monkeypatch)
    assert result.get("failed") is not True, result
    assert result["running"] is False
    assert result["started"] is True
    assert result["command"].endswith(f"-f {real_apache.conf} -k start")  # no master: no -d to copy
    assert result["bind_check"]["checked"] is True
    assert result["listening"] == [f"127.0.0.1:{real_apache.port}"]
    assert result["pid_after"] == real_apache.read_pid() != real_apache.master
    assert serves(result["pid_after"], real_apache.port)


# ---------------------------------------------------------------------------------------------
# the bind check on a fake /proc

TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def tcp_line(number, local, state, inode, remote="00000000:0000"):
    return f"{number:4}: {local} {remote} {state} 00000000:00000000 00:00000000 00000000     0        0 {inode} 1\n"


@pytest.fixture
def fake_proc(tmp_path):
    if sys.byteorder != "little":
        pytest.skip("the fake net/tcp tables are written as a little-endian kernel prints them")
    proc = FakeProc(tmp_path / "proc")
    proc.add(100, "nginx", ["nginx: master process /usr/sbin/nginx"], ppid=1)
    proc.add(101, "nginx", ["nginx: worker process"], ppid=100)
    proc.add(300, "sh", ["sh", "-c", "logger"], ppid=101)  # a grandchild of the master (a piped logger)
    proc.add(200, "python3", ["python3", "-m", "http.server"], ppid=1)
    proc.add(201, "socat", ["socat"], ppid=1)
    proc.add(202, "nc", ["nc", "-l"], ppid=1)
    proc.add(203, "java", ["java"], ppid=1)
    (proc.root / "net").mkdir()
    (proc.root / "net" / "tcp").write_text(
        TCP_HEADER
        + tcp_line(0, "0100007F:20FB", "0A", 1004)  # 127.0.0.1:8443, the worker's
        + tcp_line(1, "0100007F:20FC", "0A", 1001)  # 127.0.0.1:8444, python3
        + tcp_line(2, "00000000:2328", "0A", 1002)  # 0.0.0.0:9000, socat
        + tcp_line(3, "0100007F:20FB", "01", 1003, remote="0100007F:D431")  # an established connection
        + tcp_line(4, "0100007F:20FD", "06", 1009)  # 127.0.0.1:8445 in TIME_WAIT
        + tcp_line(5, "0100007F:2100", "0A", 1008)  # 127.0.0.1:8448, held by nobody visible
    )
    (proc.root / "net" / "tcp6").write_text(
        TCP_HEADER
        + tcp_line(0, "00000000000000000000000001000000:20FD", "0A", 1005)  # [::1]:8445, nc
        + tcp_line(1, "00000000000000000000000000000000:24E3", "0A", 1006)  # [::]:9443, java
        + tcp_line(2, "0000000000000000FFFF00000100007F:20FE", "0A", 1007)  # ::ffff:127.0.0.1:8446, the logger's
    )
    for pid, inodes in {101: [1004, 1003], 300: [1007], 200: [1001], 201: [1002], 202: [1005], 203: [1006]}.items():
        for number, inode in enumerate(inodes, start=3):
            os.symlink(f"socket:[{inode}]", proc.root / str(pid) / "fd" / str(number))
        os.symlink("/dev/null", proc.root / str(pid) / "fd" / "0")
    return proc


def test_proc_listening_sockets_parsed(fake_proc):
    found = control.read_listening_sockets(str(fake_proc.root))
    assert [(sock.host, sock.port, sock.inode) for sock in found] == [
        ("127.0.0.1", 8443, 1004),
        ("127.0.0.1", 8444, 1001),
        ("0.0.0.0", 9000, 1002),  # noqa: S104  # parsed, not bound
        ("127.0.0.1", 8448, 1008),
        ("::1", 8445, 1005),
        ("::", 9443, 1006),
        ("127.0.0.1", 8446, 1007),  # IPv4-mapped, as IPv4
    ]
    assert control.read_listening_sockets(str(fake_proc.root / "missing")) is None


def test_proc_bind_check_finds_holders(fake_proc):
    addresses = [
        "127.0.0.1:8443",  # the master's worker: its own
        "127.0.0.1:8446",  # a grandchild of the master: its own
        "*:8444",  # wildcard wanted, 127.0.0.1:8444 held by python3
        "127.0.0.1:9000",  # held by socat's 0.0.0.0:9000
        "[::1]:9000",  # 0.0.0.0 covers IPv4 only
        "[::1]:8445",  # nc on tcp6
        "192.0.2.7:9443",  # java's [::]:9443 covers every address
        "127.0.0.1:8445",  # only a TIME_WAIT socket there
        "127.0.0.1:8447",  # nothing there
        "unix:/run/nginx.sock",  # not TCP
        "127.0.0.1:8448",  # listening, holder not visible although the master's descriptors are readable
    ]
    outcome = control.check_binds(addresses, 100, str(fake_proc.root))
    assert outcome["checked"] is True
    assert outcome["notes"] == []
    assert outcome["conflicts"] == [
        {"address": "*:8444", "socket": "127.0.0.1:8444", "pid": 200, "command": "python3"},
        {"address": "127.0.0.1:9000", "socket": "0.0.0.0:9000", "pid": 201, "command": "socat"},
        {"address": "[::1]:8445", "socket": "[::1]:8445", "pid": 202, "command": "nc"},
        {"address": "192.0.2.7:9443", "socket": "[::]:9443", "pid": 203, "command": "java"},
        {"address": "127.0.0.1:8448", "socket": "127.0.0.1:8448", "pid": None, "command": None},
    ]
    # Another server instance (no master of ours): the worker's own socket is someone else's now.
    outcome = control.check_binds(["127.0.0.1:8443"], 999, str(fake_proc.root))
    assert outcome["conflicts"] == [
        {"address": "127.0.0.1:8443", "socket": "127.0.0.1:8443", "pid": 101, "command": "nginx"}
    ]


def test_proc_bind_check_unknown_holder_without_privilege_is_a_note(fake_proc):
    # Not root: the master's descriptors cannot be read, so an unattributed socket may well be its own.
    shutil.rmtree(fake_proc.root / "100" / "fd")
    outcome = control.check_binds(["127.0.0.1:8448", "127.0.0.1:8444"], 100, str(fake_proc.root))
    assert outcome["conflicts"] == [
        {"address": "127.0.0.1:8444", "socket": "127.0.0.1:8444", "pid": 200, "command": "python3"}
    ]
    assert outcome["notes"] == [
        "127.0.0.1:8448 is listening, but its holder is unknown (run as root to see whose it is)."
    ]


def test_proc_unreadable_skips_the_check_with_a_warning(tmp_path, capsys, monkeypatch):
    proc = FakeProc(tmp_path / "proc")  # no net/tcp at all
    outcome = control.check_binds(["127.0.0.1:443"], None, str(proc.root))
    assert outcome["checked"] is False
    assert outcome["conflicts"] == []
    assert outcome["notes"] == [f"the bind check was skipped: {proc.root}/net/tcp and tcp6 cannot be read."]


def test_operate_refuses_before_reloading_on_a_fake_node(fake_proc, tmp_path):
    conf = "/etc/nginx/nginx.conf"
    info = common.ServerInfo(type="nginx", master_pid=100)
    info.sites = [
        common.SiteInfo(
            server="nginx",
            site_id="a",
            source="a",
            listen=[{"address": "127.0.0.1:8443", "ssl": True}, {"address": "127.0.0.1:8444", "ssl": True}],
        )
    ]
    runner = FakeRunner({("-t", "-c", conf): (0, "", "test is successful"), ("-s", "reload"): (0, "", "")})
    env = control.Environment(
        run=runner,
        which=which_from({"nginx": "/usr/sbin/nginx"}),
        proc_root=str(fake_proc.root),
        systemd_dir=str(tmp_path / "no-systemd"),
        connect=lambda host, port, timeout: True,
        discover=lambda target: info,
    )
    params = {
        "server": "nginx",
        "state": "reloaded",
        "method": "native",
        "config": conf,
        "wait_for": [],
        "timeout": 5.0,
        "start_if_stopped": False,
    }
    for check_mode in (True, False):
        with pytest.raises(control.ReloadError) as caught:
            control.operate(params, env, check_mode=check_mode)
        assert "127.0.0.1:8444 is held by pid 200 (python3)" in str(caught.value)
        assert caught.value.result["changed"] is False
    assert [argv[1:] for argv in runner.argvs()] == [["-t", "-c", conf], ["-t", "-c", conf]]
    # with state=tested nothing but the configuration test runs
    result = control.operate(dict(params, state="tested"), env)
    assert result["bind_check"] == {"checked": False, "addresses": [], "notes": []}
