# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import types

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import common
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import (
    FakeProc,
    FakeRunner,
    which_from,
)


def test_stat_record(tmp_path):
    target = tmp_path / "archive" / "cert1.pem"
    target.parent.mkdir()
    target.write_text("pem")
    os.chmod(target, 0o640)
    os.utime(target, (1_795_000_000, 1_795_000_000))
    link = tmp_path / "live.pem"
    link.symlink_to(target)
    record = common.stat_record(str(link))
    assert record["exists"] and record["is_file"] and record["readable"] and record["is_symlink"]
    assert (record["size"], record["mode"], record["mtime"]) == (3, "0640", "2026-11-18T11:06:40Z")
    assert record["realpath"] == str(target)
    missing = common.stat_record(str(tmp_path / "nope"))
    assert (missing["exists"], missing["error"], missing["size"]) == (False, "does not exist", None)


def test_read_text_file_bounds(tmp_path):
    path = tmp_path / "big.conf"
    path.write_text("x" * 100)
    assert common.read_text_file(str(path), 100) == ("x" * 100, None)
    text, error = common.read_text_file(str(path), 99)
    assert text is None
    assert error == f"{path} is larger than 99 bytes; it was not read."
    assert common.read_text_file(str(tmp_path))[1] == f"{tmp_path} is a directory, not a file."


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/etc/nginx/sites-enabled/*", "/etc/nginx/sites-enabled/a.conf", True),
        ("/etc/nginx/sites-enabled/*", "/etc/nginx/sites-enabled/sub/a.conf", False),
        ("/etc/nginx/conf.d/*.conf", "/etc/nginx/conf.d/x.conf", True),
        ("/etc/nginx/conf.d/?.conf", "/etc/nginx/conf.d/xy.conf", False),
        ("/etc/nginx/[ab].conf", "/etc/nginx/b.conf", True),
        ("/etc/nginx/[!ab].conf", "/etc/nginx/b.conf", False),
        ("/etc/nginx/a+b.conf", "/etc/nginx/a+b.conf", True),
    ],
)
def test_glob_match(pattern, path, expected):
    assert common.glob_match(pattern, path) is expected


def test_parse_version():
    assert common.parse_version("nginx/1.25.3") == ("1.25.3", (1, 25, 3))
    assert common.parse_version("2.6.12-1+deb12u4") == ("2.6.12", (2, 6, 12))
    assert common.parse_version("none") == (None, None)
    assert common.version_at_least((2, 8, 0), 2, 8) is True
    assert common.version_at_least(None, 2, 8) is None


def test_parse_env_file(tmp_path):
    path = tmp_path / "envvars"
    path.write_text(
        "unset HOME\nSUFFIX=\nexport APACHE_RUN_DIR=/var/run/apache2$SUFFIX\nexport A='lit $X'\n"
        'export B="${APACHE_RUN_DIR}/b" # comment\nC=plain # comment\nif [ x ]; then\n'
    )
    assert common.parse_env_file(str(path)) == {
        "SUFFIX": "",
        "APACHE_RUN_DIR": "/var/run/apache2",
        "A": "lit $X",
        "B": "/var/run/apache2/b",
        "C": "plain",
    }
    assert common.parse_env_file(str(tmp_path / "none")) == {}


def test_run_command_never_raises():
    result = common.run_command(FakeRunner({("-x",): OSError("exec format error")}), ["srv", "-x"], 5)
    assert (result.ok, result.rc) == (False, None)
    assert result.describe() == "`srv -x` could not run: OSError: exec format error"
    result = common.run_command(FakeRunner({("-y",): (2, b"\n\nfirst line\nsecond", b"")}), ["srv", "-y"], 5)
    assert result.describe() == "`srv -y` failed with exit code 2: first line"


PARENT_NAME = "import os; print(open('/proc/%d/comm' % os.getppid()).read().strip(), flush=True)"


def test_process_runner_bounds_the_command_and_sets_the_c_locale():
    run = common.process_runner()
    started = time.monotonic()
    rc, out, err = run([sys.executable, "-c", "import time; print('x', flush=True); time.sleep(5)"], 0.5)
    assert (rc, out, err) == (124, "x\n", "timed out after 0.5 s")
    assert time.monotonic() - started < 3
    if sys.platform.startswith("linux") and shutil.which("timeout"):
        assert run([sys.executable, "-c", PARENT_NAME], 10)[1].strip() == "timeout"  # coreutils holds the limit
    rc, out, err = run([sys.executable, "-c", "import os; print(os.environ['LC_ALL'], os.environ['LANG'])"], 10)
    assert (rc, out.strip(), err) == (0, "C C", "")


def test_process_runner_without_timeout_binary_kills_the_command_itself():
    run = common.process_runner(which=lambda name: None)
    rc, out, _err = run([sys.executable, "-c", "import sys; print(1); sys.stderr.write('e'); sys.exit(3)"], 5)
    assert (rc, out.strip(), _err) == (3, "1", "e")
    started = time.monotonic()
    rc, _out, err = run([sys.executable, "-c", "import time; time.sleep(30)"], 0.5)
    assert (rc, err) == (124, "timed out after 0.5 s")
    assert time.monotonic() - started < 3


def test_run_process_returns_when_the_child_exits_between_two_polls(monkeypatch):
    """AnsibleModule.run_command() sleeps a second on an empty selector when the child's exit is seen only by the
    second of its two polls after the pipes close; here the pipes' end ends the reading, whatever poll says."""

    class LatePoll(subprocess.Popen):
        polls = 0

        def poll(self):
            LatePoll.polls += 1
            return None if LatePoll.polls == 1 else super().poll()

    monkeypatch.setattr(common.subprocess, "Popen", LatePoll)
    started = time.monotonic()
    for _attempt in range(5):
        LatePoll.polls = 0
        done = common.run_process([sys.executable, "-c", "print('done')"], {}, 10)
        assert (done.rc, done.stdout, done.stderr, done.timed_out) == (0, "done\n", "", False)
    assert time.monotonic() - started < 4


def test_run_process_does_not_wait_for_a_daemon_holding_its_pipes():
    """A start command whose daemon keeps stdout open, silent or writing: read for a second after the command
    exits, then its own exit code (not a timeout)."""
    started = time.monotonic()
    done = common.run_process(["/bin/sh", "-c", "sleep 5 & echo started"], {}, 30)
    assert (done.rc, done.stdout, done.timed_out) == (0, "started\n", False)
    assert time.monotonic() - started < 3
    started = time.monotonic()
    chatty = "( while :; do echo tick; done ) & echo started; exit 0"  # dies of SIGPIPE once no longer read
    done = common.process_runner()(["/bin/sh", "-c", chatty], 1)
    assert done[0] == 0
    assert "started" in done[1].splitlines()  # anywhere: the loop may write before the echo
    assert time.monotonic() - started < 4


def test_run_process_keeps_undecodable_bytes_and_at_most_the_output_limit(monkeypatch):
    done = common.run_process([sys.executable, "-c", "import os; os.write(1, b'caf\\xe9.conf')"], {}, 10)
    assert done.stdout == "caf\udce9.conf"  # as run_command gave it: the file's real name on the way back
    assert done.stdout.encode("utf-8", "surrogateescape") == b"caf\xe9.conf"
    monkeypatch.setattr(common, "MAX_OUTPUT_BYTES", 10)
    done = common.run_process([sys.executable, "-c", "print('x' * 200000)"], {}, 10)
    assert done.rc == 0
    assert 10 <= len(done.stdout) <= 10 + 65536  # whole reads are kept until the limit is passed
    with pytest.raises(OSError):
        common.run_process(["/nonexistent/binary"], {}, 5)
    result = common.run_command(common.process_runner(), ["/nonexistent/binary", "-v"], 5)
    assert result.ok is False


def test_without_timeout_binary_the_limit_holds_for_the_whole_group_and_a_real_124_stays():
    run = common.process_runner(which=lambda name: None)
    started = time.monotonic()
    rc, _out, err = run(["/bin/sh", "-c", "exec >&- 2>&-; sleep 5"], 0.5)  # closes its pipes, keeps running
    assert (rc, err) == (124, "timed out after 0.5 s")
    assert time.monotonic() - started < 3
    rc, out, err = run(["/bin/sh", "-c", "echo real >&2; exit 124"], 5)
    assert (rc, out, err) == (124, "", "real\n")
    rc, out, _err = run(["/bin/sh", "-c", "sleep 30 & echo $!; wait"], 0.5)
    assert rc == 124
    pid = int(out.split()[0])
    for _wait in range(40):  # the grandchild went with the group
        try:
            with open("/proc/%d/stat" % pid, encoding="ascii") as stat_file:
                if stat_file.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except OSError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the command's child outlived the timeout")


def test_processes_masters_and_namespaces(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    proc.add(10, "haproxy", ["/usr/sbin/haproxy", "-W", "-f", "/etc/haproxy/haproxy.cfg"], start_ticks=500)
    proc.add(11, "haproxy", ["/usr/sbin/haproxy", "-W"], ppid=10)
    proc.add(12, "nginx", ["nginx: master process /usr/sbin/nginx"])
    proc.add(13, "haproxy", ["/usr/sbin/haproxy"], netns="net:[1]")
    (proc.root / "14").mkdir()  # a process that exited while we looked
    found = common.list_processes(str(proc.root), ("haproxy",))
    assert [(item.pid, item.ppid) for item in found] == [(10, 1), (11, 10)]
    assert found[0].started_at == common.iso_utc(proc.btime + 5)
    assert [item.pid for item in common.masters(found)] == [10]
    assert common.option_values(found[0].cmdline, "-f") == ["/etc/haproxy/haproxy.cfg"]
    assert common.option_values(["x", "-fa.cfg", "--f", "-f"], "-f") == ["a.cfg"]


def test_processes_exited_between_reads_are_not_masters(tmp_path, monkeypatch):
    """A neighbour's short-lived ``apache2 -t`` on a shared /proc, gone before its namespace is read."""
    proc = FakeProc(tmp_path / "proc")
    proc.add(30, "apache2", ["/usr/sbin/apache2", "-t"], netns="net:[9]")
    proc.add(31, "apache2", ["/usr/sbin/apache2", "-k", "start"])
    (proc.root / "30" / "ns" / "net").unlink()  # exited: its /proc entry is going away
    assert [item.pid for item in common.list_processes(str(proc.root), ("apache2",))] == [31]
    # unreadable for lack of privilege (EACCES) is not "gone": the process is kept
    real = os.readlink

    def denied(path, *args, **kwargs):
        if str(path).endswith("31/ns/net"):
            raise PermissionError(13, "Permission denied")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "readlink", denied)
    assert [item.pid for item in common.list_processes(str(proc.root), ("apache2",))] == [31]


def test_process_table_reads_each_stat_once_per_block(tmp_path, monkeypatch):
    """Within ``process_table`` the stat files are read once for every question; outside, at each call."""
    proc = FakeProc(tmp_path / "proc")
    proc.add(40, "nginx", ["nginx: master process /usr/sbin/nginx"])
    proc.add(41, "apache2", ["/usr/sbin/apache2", "-k", "start"])
    proc.add(42, "haproxy", ["/usr/sbin/haproxy", "-W"])
    reads = []
    real = common._read_small  # pylint: disable=protected-access

    def counted(path, *args, **kwargs):
        if str(path).endswith("/stat") and not str(path).endswith("proc/stat"):
            reads.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(common, "_read_small", counted)
    root = str(proc.root)
    with common.process_table(root):
        with common.process_table(root):  # a nested block keeps the outer table
            assert [p.pid for p in common.list_processes(root, ("nginx",))] == [40]
        proc.add(43, "nginx", ["nginx: worker process"], ppid=40)  # started after the table was read
        assert [p.pid for p in common.list_processes(root, ("apache2",))] == [41]
        assert [p.pid for p in common.list_processes(root, ("nginx",))] == [40]
    assert len(reads) == 3
    assert [p.pid for p in common.list_processes(root, ("nginx",))] == [40, 43]  # outside: the node as it is
    assert len(reads) == 7
    assert not common._TABLES  # pylint: disable=protected-access


def test_discover_reads_the_process_table_once(tmp_path, monkeypatch):
    proc = FakeProc(tmp_path / "proc")
    proc.add(50, "haproxy", ["/usr/sbin/haproxy", "-W", "-f", "/nonexistent/haproxy.cfg"])
    calls = []
    real = common._process_stats  # pylint: disable=protected-access
    monkeypatch.setattr(common, "_process_stats", lambda root: calls.append(root) or real(root))
    servers.discover(lambda argv, timeout: (127, "", "not here"), lambda name: None, proc_root=str(proc.root))
    assert calls == [str(proc.root)]


def test_stat_parsing_with_odd_comm(tmp_path):
    proc = FakeProc(tmp_path / "proc")
    proc.add(20, "nginx) (x", ["nginx"])
    assert common._parse_stat((proc.root / "20" / "stat").read_bytes())[0] == "nginx) (x"  # pylint: disable=protected-access


def test_discover_registry_isolates_failures(tmp_path, monkeypatch):
    proc = FakeProc(tmp_path / "proc")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(servers.apache, "discover", broken)
    installed = which_from({"apache2ctl": "/usr/sbin/apache2ctl"})
    found = servers.discover(FakeRunner({}), installed, proc_root=str(proc.root))
    assert [(info.type, info.errors) for info in found] == [
        ("apache", ["apache discovery failed unexpectedly: RuntimeError: boom"])
    ]
    # A type neither installed nor running is not read at all.
    assert servers.discover(FakeRunner({}), which_from({}), proc_root=str(proc.root)) == []
    assert servers.discover(FakeRunner({}), which_from({}), proc_root=str(proc.root), types=["nginx"]) == []
    assert list(servers.REGISTRY) == ["nginx", "apache", "haproxy"]
    with pytest.raises(KeyError, match="unknown server type 'caddy'"):
        servers.server_module("caddy")


def test_records_serialise_to_json(tmp_path):
    info = servers.ServerInfo(type="nginx", version_tuple=(1, 22, 1))
    info.sites.append(servers.SiteInfo(server="nginx", site_id="nginx:/a:1", source="/a:1"))
    data = json.loads(json.dumps(info.to_dict()))
    assert data["version_tuple"] == [1, 22, 1]
    assert data["sites"][0]["site_id"] == "nginx:/a:1"
    assert servers.counts_by_code([]) == {}


def test_default_which_finds_sbin(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert common.default_which("sh") in ("/usr/sbin/sh", "/sbin/sh", "/usr/local/sbin/sh", "/usr/bin/sh", "/bin/sh")
    assert common.default_which("no-such-binary-here") is None


@pytest.mark.parametrize(
    "server, cmdline, expected",
    [
        ("nginx", ["nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf"], False),
        ("nginx", ["nginx: worker process"], False),
        ("nginx", ["/usr/sbin/nginx", "-t", "-c", "/x.conf"], True),
        ("nginx", ["/usr/sbin/nginx", "-tq"], True),
        ("nginx", ["/usr/sbin/nginx", "-c", "/x.conf", "-s", "reload"], True),
        ("nginx", ["/usr/sbin/nginx", "-T"], True),
        ("nginx", ["/usr/sbin/nginx", "-c", "/t.conf", "-g", "daemon off;"], False),  # -c's value is no flag
        ("nginx", ["/usr/sbin/nginx", "-c/tmp/t.conf"], False),
        ("nginx", ["/usr/sbin/nginx"], False),  # started, not yet retitled
        ("apache", ["/usr/sbin/apache2", "-k", "start"], False),
        ("apache", ["/usr/sbin/apache2", "-d", "/srv/a", "-f", "/srv/a/httpd.conf"], False),
        ("apache", ["/usr/sbin/apache2", "-t"], True),
        ("apache", ["/usr/sbin/apache2", "-k", "graceful"], True),
        ("apache", ["/usr/sbin/apache2", "-t", "-D", "DUMP_INCLUDES"], True),
        ("apache", ["/usr/sbin/apache2", "-D", "DUMP_VHOSTS"], True),
        ("apache", ["/usr/sbin/apache2", "-D", "FOREGROUND"], False),
        ("haproxy", ["/usr/sbin/haproxy", "-Ws", "-f", "/etc/haproxy/haproxy.cfg", "-p", "/run/haproxy.pid"], False),
        ("haproxy", ["/usr/sbin/haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"], True),
        ("haproxy", ["/usr/sbin/haproxy", "-vv"], True),
    ],
)
def test_one_shot_commands_are_told_from_servers(server, cmdline, expected):
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import servers

    assert servers.REGISTRY[server].one_shot(cmdline) is expected


def test_an_operators_config_test_beside_the_server_is_not_a_second_master(tmp_path):
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import nginx

    proc = FakeProc(tmp_path / "proc")
    proc.add(40, "nginx", ["nginx: master process /usr/sbin/nginx -c /t/nginx.conf"])
    proc.add(41, "nginx", ["nginx: worker process"], ppid=40)
    proc.add(42, "nginx", ["/usr/sbin/nginx", "-t", "-c", "/t/nginx.conf"])  # run by hand meanwhile
    found = common.list_processes(str(proc.root), ("nginx",))
    assert [p.pid for p in common.masters(found)] == [40, 42]
    assert [p.pid for p in common.masters(found, nginx.one_shot)] == [40]


def test_lazy_parts_import_on_first_use_once_and_only_the_names_given(monkeypatch):
    module = type(sys)("tlsfleet_lazy_parts_probe")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    loads = []
    reader = type(sys)("tlsfleet_lazy_parts_probe.reader")
    reader.discover, reader.parse_line = "discover part", "parse_line part"

    def load_reader():
        loads.append("reader")
        return reader

    def import_module(name):
        loads.append(name.rpartition(".")[2])
        return "control part"

    # The other parts are imported by name (a computed one, which AnsiballZ does not follow: servers/parts.py).
    monkeypatch.setattr(common, "importlib", types.SimpleNamespace(import_module=import_module))
    module.__getattr__ = common.lazy_parts(module.__name__, load_reader, {"CONTROL": "control"})
    with pytest.raises(AttributeError, match="OTHER"):
        assert module.OTHER
    assert not hasattr(module, "__path__")
    assert loads == []  # an unknown name imports nothing
    assert module.CONTROL == "control part"
    assert loads == ["control"]  # the control part does not bring the reader
    assert module.discover == "discover part"
    assert module.parse_line == "parse_line part"
    assert module.CONTROL == "control part"  # kept in the module by the first use: no second import
    assert loads == ["control", "reader", "reader"]


@pytest.mark.parametrize("type_name", ["nginx", "apache", "haproxy"])
def test_server_packages_import_control_and_editor_on_first_use(type_name):
    package = __import__(
        "ansible_collections.tlsfleet.stapling.plugins.module_utils.servers." + type_name, fromlist=["CONTROL"]
    )
    assert package.CONTROL.__name__ == package.__name__ + ".control"
    assert package.EDITOR is None or package.EDITOR.__name__ == package.__name__ + ".edit"
