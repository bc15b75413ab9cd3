# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""servers.control with a scripted runner, a fake /proc, a fake clock and fake connects (no server runs).

systemd cannot run here (no PID 1 systemd on the test machine), so the systemd path is only exercised
through the fake runner; the native paths also run against real servers in
tests/unit/plugins/modules/test_server_reload.py.
"""

from __future__ import annotations

import shutil
import signal

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common, control
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import (
    FakeProc,
    FakeRunner,
    which_from,
)

CONF = "/etc/nginx/nginx.conf"
NGINX_MASTER = [f"nginx: master process /usr/sbin/nginx -c {CONF}"]
WHICH = which_from(
    {
        "nginx": "/usr/sbin/nginx",
        "haproxy": "/usr/sbin/haproxy",
        "apache2": "/usr/sbin/apache2",
        "apache2ctl": "/usr/sbin/apache2ctl",
        "systemctl": "/usr/bin/systemctl",
    }
)
OK_TEST = (
    0,
    "",
    f"nginx: the configuration file {CONF} syntax is ok\nnginx: configuration file {CONF} test is successful",
)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def params(**kw):
    base = {
        "server": "nginx",
        "state": "reloaded",
        "method": "auto",
        "unit": None,
        "config": None,
        "wait_for": [],
        "timeout": 5.0,
        "start_if_stopped": False,
        "config_test_command": None,
        "reload_command": None,
    }
    base.update(kw)
    return base


def make_env(proc, runner, tmp_path, connect=None, which=WHICH, **kw):
    clock = Clock()
    return control.Environment(
        run=runner,
        which=which,
        proc_root=str(proc.root),
        systemd_dir=str(tmp_path / "no-systemd"),
        connect=connect or (lambda host, port, timeout: True),
        clock=clock,
        sleep=clock.sleep,
        discover=kw.pop("discover", lambda target: None),
        **kw,
    )


def replace_workers(proc, old, new, ppid, comm="nginx", answer=(0, "", "")):
    """A runner answer that makes the master swap its workers, as a real reload does."""

    def act(argv):
        for pid in old:
            shutil.rmtree(proc.root / str(pid))
        for pid in new:
            proc.add(pid, comm, [f"{comm}: worker process"], ppid=ppid)
        return answer

    return act


@pytest.fixture
def proc(tmp_path):
    fake = FakeProc(tmp_path / "proc")
    fake.add(100, "nginx", NGINX_MASTER, ppid=1, exe="/usr/sbin/nginx")
    fake.add(101, "nginx", ["nginx: worker process"], ppid=100)
    fake.add(102, "nginx", ["nginx: worker process"], ppid=100)
    return fake


def test_failed_config_test_changes_nothing(proc, tmp_path):
    runner = FakeRunner(
        {
            ("-t", "-c", CONF): (1, "", 'nginx: [emerg] unknown directive "ssl_staplin" in /etc/nginx/x.conf:3'),
            ("-c", CONF, "-s", "reload"): (0, "", ""),
        }
    )
    env = make_env(proc, runner, tmp_path)
    with pytest.raises(control.ReloadError) as caught:
        control.operate(params(), env)
    assert "configuration test failed (exit code 1); nothing was reloaded" in str(caught.value)
    assert 'unknown directive "ssl_staplin"' in str(caught.value)
    assert runner.argvs() == [["/usr/sbin/nginx", "-t", "-c", CONF]]
    result = caught.value.result
    assert result["changed"] is False
    assert result["config_test"]["ok"] is False
    assert "ssl_staplin" in result["config_test"]["output"]
    assert result["workers_before"] == [101, 102]


def test_state_tested_only_tests(proc, tmp_path):
    runner = FakeRunner({("-t", "-c", CONF): OK_TEST})
    result = control.operate(params(state="tested"), make_env(proc, runner, tmp_path))
    assert result["changed"] is False
    assert result["config_test"] == {"ok": True, "command": f"/usr/sbin/nginx -t -c {CONF}", "output": OK_TEST[2]}
    assert result["method"] is None
    assert len(runner.calls) == 1


def test_check_mode_predicts_without_reloading(proc, tmp_path):
    runner = FakeRunner({("-t", "-c", CONF): OK_TEST})
    result = control.operate(params(), make_env(proc, runner, tmp_path), check_mode=True)
    assert result["changed"] is True
    assert result["method"] == "native"
    assert result["command"] == f"/usr/sbin/nginx -c {CONF} -s reload"
    assert runner.argvs() == [["/usr/sbin/nginx", "-t", "-c", CONF]]
    assert result["workers_after"] == [101, 102]


def test_native_reload_replaces_workers_and_waits_for_ports(proc, tmp_path):
    runner = FakeRunner(
        {
            ("-t", "-c", CONF): OK_TEST,
            ("-c", CONF, "-s", "reload"): replace_workers(proc, [101, 102], [103, 104], 100),
        }
    )
    attempts = []

    def connect(host, port, timeout):
        attempts.append((host, port))
        return len(attempts) > 2  # the port opens on the third attempt

    env = make_env(proc, runner, tmp_path, connect=connect)
    result = control.operate(params(wait_for=[443, "[::1]:8443"]), env)
    assert result["changed"] is True
    assert result["method"] == "native"
    assert result["pid_before"] == result["pid_after"] == 100
    assert result["workers_before"] == [101, 102]
    assert result["workers_after"] == [103, 104]
    assert result["workers_replaced"] is True
    assert result["wait_for"] == ["127.0.0.1:443", "[::1]:8443"]
    assert result["listening"] == ["127.0.0.1:443", "[::1]:8443"]
    assert attempts[:2] == [("127.0.0.1", 443), ("::1", 8443)]
    assert result["elapsed"] > 0


def test_reload_rejected_at_load_time_fails(proc, tmp_path):
    # nginx -s reload exits 0, but the master keeps its old workers (a bind error at load).
    runner = FakeRunner({("-t", "-c", CONF): OK_TEST, ("-c", CONF, "-s", "reload"): (0, "", "")})
    env = make_env(proc, runner, tmp_path)
    with pytest.raises(control.ReloadError) as caught:
        control.operate(params(wait_for=["443"]), env)
    assert "did not take effect within 5 s" in str(caught.value)
    assert "old workers (101, 102)" in str(caught.value)
    assert caught.value.result["workers_replaced"] is False
    assert caught.value.result["changed"] is True
    assert caught.value.result["listening"] == ["127.0.0.1:443"]


def test_master_died_fails(proc, tmp_path):
    def die(argv):
        for pid in (100, 101, 102):
            shutil.rmtree(proc.root / str(pid))
        return 0, "", ""

    runner = FakeRunner({("-t", "-c", CONF): OK_TEST, ("-c", CONF, "-s", "reload"): die})
    with pytest.raises(control.ReloadError) as caught:
        control.operate(params(), make_env(proc, runner, tmp_path))
    assert "nginx is not running after the reload (master pid 100 is gone)" in str(caught.value)
    assert caught.value.result["pid_after"] is None


def test_master_that_accepted_then_died_is_not_listening(proc, tmp_path):
    # Apache graceful with a port taken: the old listener accepts once, then the master fails to bind and exits.
    state = {"alive": True}

    def reload(argv):
        return 0, "", ""

    def connect(host, port, timeout):
        accepted = state["alive"]
        if state["alive"]:
            state["alive"] = False
            for pid in (100, 101, 102):
                shutil.rmtree(proc.root / str(pid))
        return accepted

    runner = FakeRunner({("-t", "-c", CONF): OK_TEST, ("-c", CONF, "-s", "reload"): reload})
    with pytest.raises(control.ReloadError) as caught:
        control.operate(params(wait_for=[443]), make_env(proc, runner, tmp_path, connect=connect))
    assert caught.value.result["pid_after"] is None
    assert caught.value.result["listening"] == []


def test_zombie_master_counts_as_dead(proc, tmp_path):
    stat = proc.root / "100" / "stat"
    stat.write_text(stat.read_text().replace("(nginx) S", "(nginx) Z"))
    assert control.is_alive(str(proc.root), 100) is False
    assert control.is_alive(str(proc.root), 101) is True
    assert control.is_alive(str(proc.root), None) is False


def test_reload_command_failure_fails(proc, tmp_path):
    runner = FakeRunner(
        {("-t", "-c", CONF): OK_TEST, ("-c", CONF, "-s", "reload"): (1, "", "nginx: [error] open() pid failed")}
    )
    with pytest.raises(control.ReloadError) as caught:
        control.operate(params(), make_env(proc, runner, tmp_path))
    assert "The nginx reload failed" in str(caught.value)
    assert "open() pid failed" in str(caught.value)


def test_port_that_never_opens_fails(proc, tmp_path):
    runner = FakeRunner(
        {("-t", "-c", CONF): OK_TEST, ("-c", CONF, "-s", "reload"): replace_workers(proc, [101], [105], 100)}
    )
    env = make_env(proc, runner, tmp_path, connect=lambda host, port, timeout: port == 443)
    with pytest.raises(control.ReloadError) as caught:
        control.operate(params(wait_for=[443, 444]), env)
    assert str(caught.value) == "nginx was reloaded but 127.0.0.1:444 did not accept connections within 5 s."
    assert caught.value.result["listening"] == ["127.0.0.1:443"]
    assert caught.value.result["workers_replaced"] is True


def test_not_running_fails_clearly(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    runner = FakeRunner({("-t",): (0, "", "ok")})
    with pytest.raises(control.ReloadError) as caught:
        control.operate(params(), make_env(proc, runner, tmp_path))
    assert str(caught.value).startswith("nginx is not running; start it first")
    assert runner.argvs() == [["/usr/sbin/nginx", "-t"]]


def test_start_if_stopped_native(tmp_path):
    proc = FakeProc(tmp_path / "proc")

    def start(argv):
        proc.add(200, "nginx", NGINX_MASTER, ppid=1)
        proc.add(201, "nginx", ["nginx: worker process"], ppid=200)
        return 0, "", ""

    runner = FakeRunner({("-t", "-c", CONF): OK_TEST, ("-c", CONF): start})
    result = control.operate(params(start_if_stopped=True, config=CONF), make_env(proc, runner, tmp_path))
    assert result["started"] is True
    assert result["command"] == f"/usr/sbin/nginx -c {CONF}"
    assert result["pid_before"] is None
    assert result["pid_after"] == 200
    assert result["workers_after"] == [201]


def test_several_masters_need_config(proc, tmp_path):
    proc.add(300, "nginx", ["nginx: master process /usr/sbin/nginx -c /srv/edge/nginx.conf"], ppid=1)
    proc.add(301, "nginx", ["nginx: worker process"], ppid=300)
    runner = FakeRunner({("-t", "-c", "/srv/edge/nginx.conf"): OK_TEST})
    env = make_env(proc, runner, tmp_path)
    with pytest.raises(InputError, match=r"2 nginx masters run on this node: pid 100 .*choose one with the config"):
        control.operate(params(), env)
    assert runner.calls == []
    result = control.operate(params(state="tested", config="/srv/edge/nginx.conf"), env)
    assert result["pid_before"] == 300
    assert result["workers_before"] == [301]


def test_a_config_test_run_beside_the_master_is_not_a_second_master(proc, tmp_path):
    # an operator's (or another job's) ``nginx -t`` at the moment of the reload: one master, the reload goes on
    proc.add(310, "nginx", ["/usr/sbin/nginx", "-t", "-c", CONF], ppid=1)
    proc.add(311, "nginx", ["/usr/sbin/nginx", "-c", CONF, "-s", "reload"], ppid=1)
    env = make_env(proc, FakeRunner({("-t", "-c", CONF): OK_TEST}), tmp_path)
    result = control.operate(params(state="tested"), env)
    assert result["pid_before"] == 100


def test_auto_uses_systemd_when_unit_active(proc, tmp_path):
    (tmp_path / "systemd").mkdir()
    runner = FakeRunner(
        {
            ("-t", "-c", CONF): OK_TEST,
            ("is-active", "--quiet", "nginx"): (0, "", ""),
            ("reload", "nginx"): replace_workers(proc, [101, 102], [110], 100),
        }
    )
    env = make_env(proc, runner, tmp_path)
    env.systemd_dir = str(tmp_path / "systemd")
    result = control.operate(params(), env)
    assert result["method"] == "systemd"
    assert result["unit"] == "nginx"
    assert result["command"] == "/usr/bin/systemctl reload nginx"
    assert result["workers_after"] == [110]


def test_auto_falls_back_to_native_when_unit_inactive(proc, tmp_path):
    (tmp_path / "systemd").mkdir()
    runner = FakeRunner({("-t", "-c", CONF): OK_TEST, ("is-active",): (3, "", "")})
    env = make_env(proc, runner, tmp_path)
    env.systemd_dir = str(tmp_path / "systemd")
    result = control.operate(params(unit="nginx-edge"), env, check_mode=True)
    assert result["method"] == "native"
    assert ["/usr/bin/systemctl", "is-active", "--quiet", "nginx-edge"] in runner.argvs()


def test_choose_method_without_systemd_dir(tmp_path):
    runner = FakeRunner({})
    assert control.choose_method("auto", "nginx", None, runner, WHICH, 5, str(tmp_path / "none")) == ("native", None)
    assert runner.calls == []
    assert control.choose_method("systemd", "apache", None, runner, WHICH, 5) == ("systemd", "apache2")
    assert control.choose_method("systemd", "apache", None, runner, which_from({"systemctl": "/bin/systemctl"}), 5) == (
        "systemd",
        "httpd",
    )
    with pytest.raises(InputError, match="systemctl is not installed"):
        control.choose_method("systemd", "nginx", None, runner, which_from({}), 5)


def test_reload_command_override(proc, tmp_path):
    runner = FakeRunner({("check",): OK_TEST, ("go",): replace_workers(proc, [101, 102], [120], 100)})
    result = control.operate(
        params(config_test_command=["/opt/bin/test", "check"], reload_command=["/opt/bin/reload", "go"]),
        make_env(proc, runner, tmp_path),
    )
    assert runner.argvs() == [["/opt/bin/test", "check"], ["/opt/bin/reload", "go"]]
    assert result["method"] == "command"
    assert result["command"] == "/opt/bin/reload go"
    assert result["config_test"]["command"] == "/opt/bin/test check"


def test_default_wait_for_from_discovery(proc, tmp_path):
    info = common.ServerInfo(type="nginx", master_pid=100)
    info.sites = [
        common.SiteInfo(
            server="nginx",
            site_id="a",
            source="a",
            listen=[
                {"address": "*:443", "ssl": True},
                {"address": "*:80", "ssl": False},
                {"address": "[::]:443", "ssl": True},
            ],
        ),
        common.SiteInfo(server="nginx", site_id="b", source="b", listen=[{"address": "*:443", "ssl": True}]),
    ]
    runner = FakeRunner({("-t", "-c", CONF): OK_TEST})
    env = make_env(proc, runner, tmp_path, discover=lambda target: info)
    result = control.operate(params(), env, check_mode=True)
    assert result["wait_for"] == ["127.0.0.1:443", "[::1]:443"]


def test_haproxy_master_worker_gets_sigusr2(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    cmd = ["/usr/sbin/haproxy", "-W", "-f", "/etc/haproxy/haproxy.cfg", "-p", "/run/haproxy.pid"]
    proc.add(400, "haproxy", cmd, ppid=1)
    proc.add(401, "haproxy", cmd, ppid=400)
    runner = FakeRunner({("-c", "-f", "/etc/haproxy/haproxy.cfg"): (0, "Configuration file is valid\n", "")})
    signals = []

    def send(pid, signum):
        signals.append((pid, signum))
        shutil.rmtree(proc.root / "401")
        proc.add(402, "haproxy", cmd, ppid=400)

    env = make_env(proc, runner, tmp_path, send_signal=send)
    result = control.operate(params(server="haproxy", wait_for=[8443]), env)
    assert signals == [(400, signal.SIGUSR2)]
    assert result["command"] == "kill -USR2 400"
    assert result["workers_before"] == [401]
    assert result["workers_after"] == [402]
    assert result["workers_replaced"] is True
    assert len(runner.calls) == 1


def test_haproxy_without_master_worker_is_refused(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    proc.add(500, "haproxy", ["/usr/sbin/haproxy", "-D", "-f", "/etc/haproxy/haproxy.cfg"], ppid=1)
    runner = FakeRunner({("-c",): (0, "", "")})
    env = make_env(proc, runner, tmp_path, send_signal=lambda pid, signum: pytest.fail("signalled"))
    with pytest.raises(control.ReloadError, match="does not run in master-worker mode"):
        control.operate(params(server="haproxy"), env)


def test_apache_commands():
    target = control.Target(server="apache", binary="/usr/sbin/apache2", ctl="/usr/sbin/apache2ctl")
    assert control.config_test_command(target) == ["/usr/sbin/apache2ctl", "-t"]
    assert control.native_reload_command(target) == ["/usr/sbin/apache2ctl", "graceful"]
    target.configs = ["/srv/a/httpd.conf"]
    target.server_root = "/srv/a"
    assert control.native_reload_command(target) == [
        "/usr/sbin/apache2ctl",
        "-d",
        "/srv/a",
        "-f",
        "/srv/a/httpd.conf",
        "-k",
        "graceful",
    ]
    bare = control.Target(server="apache", binary="/usr/sbin/httpd")
    assert control.native_reload_command(bare) == ["/usr/sbin/httpd", "-k", "graceful"]
    assert control.native_start_command(bare) == ["/usr/sbin/httpd", "-k", "start"]


def test_haproxy_commands_use_every_config_file(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    cmd = ["/usr/sbin/haproxy", "-Ws", "-f", "/etc/haproxy/haproxy.cfg", "-f", "/etc/haproxy/conf.d", "-p", "/x.pid"]
    proc.add(600, "haproxy", cmd, ppid=1)
    target = control.find_target("haproxy", WHICH, str(proc.root))
    assert target.master_worker is True
    assert control.config_test_command(target) == [
        "/usr/sbin/haproxy",
        "-c",
        "-f",
        "/etc/haproxy/haproxy.cfg",
        "-f",
        "/etc/haproxy/conf.d",
    ]
    assert control.native_start_command(target)[-2:] == ["-p", "/x.pid"]


def test_nginx_without_c_uses_compiled_defaults(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    proc.add(700, "nginx", ["nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"], ppid=1)
    target = control.find_target("nginx", WHICH, str(proc.root))
    assert control.config_test_command(target) == ["/usr/sbin/nginx", "-t"]
    assert control.native_reload_command(target) == ["/usr/sbin/nginx", "-s", "reload"]
    # the default config file also selects it
    assert control.find_target("nginx", WHICH, str(proc.root), config=CONF).master_pid == 700
    assert control.find_target("nginx", WHICH, str(proc.root), config="/other.conf").master_pid is None


@pytest.mark.parametrize(
    "value, expected",
    [
        (443, ("127.0.0.1", 443)),
        ("8443", ("127.0.0.1", 8443)),
        ("10.0.0.1:443", ("10.0.0.1", 443)),
        ("[2001:db8::1]:443", ("2001:db8::1", 443)),
    ],
)
def test_parse_wait_for(value, expected):
    assert control.parse_wait_for([value]) == [expected]


@pytest.mark.parametrize("value", ["https", "host:", "[::1]", "70000", "0"])
def test_parse_wait_for_rejects(value):
    with pytest.raises(InputError, match="is not a port, host:port"):
        control.parse_wait_for([value])


@pytest.mark.parametrize(
    "address, expected",
    [
        ("*:443", ("127.0.0.1", 443)),
        ("0.0.0.0:443", ("127.0.0.1", 443)),
        ("_default_:443", ("127.0.0.1", 443)),
        (":443", ("127.0.0.1", 443)),
        ("[::]:443", ("::1", 443)),
        ("198.18.0.5:8443", ("198.18.0.5", 8443)),
        ("ipv4@10.0.0.1:443", ("10.0.0.1", 443)),
        ("443", ("127.0.0.1", 443)),
        ("unix:/run/nginx.sock", None),
        ("unix@/run/x.sock", None),
        ("*:1000-1005", None),
    ],
)
def test_listen_to_wait_for(address, expected):
    assert control.listen_to_wait_for(address) == expected


def test_bad_timeout(proc, tmp_path):
    with pytest.raises(InputError, match="timeout must be a positive"):
        control.operate(params(timeout=0), make_env(proc, FakeRunner({}), tmp_path))
