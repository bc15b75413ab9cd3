# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Records and helpers shared by the per-server discovery modules.

The records live here rather than in ``servers/__init__.py`` because the server modules need them
and ``__init__`` imports the server modules for its registry; keeping them apart avoids an import
cycle. ``servers`` re-exports everything callers need, so import from there.

Everything here runs on managed nodes (Python 3.8+, standard library only). Nothing in this layer
raises to its caller for bad input: a broken configuration, a failing command or an unreadable
file becomes a plain sentence in an ``errors`` list, because one bad server must not hide the
others on the node.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import importlib
import os
import re
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ansible_collections.tlsfleet.stapling.plugins.module_utils import files
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError
from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record

UTC = datetime.timezone.utc

#: ``run(argv, timeout) -> (rc, stdout, stderr)``; the module passes a wrapper around its runner.
Runner = Callable[[List[str], float], Tuple[int, Any, Any]]
#: ``which(name) -> path or None``.
Which = Callable[[str], Optional[str]]

#: Default bound for one server command; ``nginx -T`` loads every certificate, so allow a while.
DEFAULT_TIMEOUT = 30.0
#: Largest command output parsed (a dump of a very large fleet config is a few MiB).
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
#: Largest single configuration file read from disk.
MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024
#: Total configuration text read from disk for one server.
MAX_CONFIG_TOTAL_BYTES = 64 * 1024 * 1024
#: Largest number of configuration files followed for one server.
MAX_CONFIG_FILES = 5000
#: Deepest include nesting followed (nginx has no limit of its own; Apache stops at 128).
MAX_INCLUDE_DEPTH = 32
#: Length kept of command output in records.
OUTPUT_TRIM = 4000

SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin", "/bin")


# ---------------------------------------------------------------------------------------------
# records


@dataclass(repr=False)
class SiteInfo(Record):
    """One TLS site as its server's configuration declares it.

    A site is the unit a handshake is aimed at: an nginx ``server`` block, an Apache
    ``<VirtualHost>`` with SSL on, a HAProxy ``frontend``/``listen`` section with ``ssl`` binds.
    ``site_id`` is ``<type>:<file>:<line>`` of the block, so it stays the same between runs as long
    as the block does not move, and the report can point at the exact place to edit.
    """

    server: str
    site_id: str
    source: str
    context: str = ""
    server_names: List[str] = field(default_factory=list)
    listen: List[Dict[str, Any]] = field(default_factory=list)
    certificate_files: List[str] = field(default_factory=list)
    key_files: List[str] = field(default_factory=list)
    chain_file: Optional[str] = None
    trusted_certificate: Optional[str] = None
    stapling: Dict[str, Any] = field(default_factory=dict)
    files: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(repr=False)
class ServerInfo(Record):
    """What one server instance on the node is, runs and declares.

    ``errors`` holds plain sentences (a failing dump, a missing include, an unreadable log); the
    record is still returned so the rest of the audit can use whatever was learned.
    ``config_files`` maps each configuration file read to its stat record, so the caller can tell a
    configuration edited after ``master_started_at`` (changed on disk, not yet loaded).
    """

    type: str
    binary: Optional[str] = None
    version: Optional[str] = None
    version_tuple: Optional[Tuple[int, ...]] = None
    running: bool = False
    master_pid: Optional[int] = None
    master_started_at: Optional[str] = None
    master_cmdline: List[str] = field(default_factory=list)
    config_file: Optional[str] = None
    config_files: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    config_test_ok: Optional[bool] = None
    config_test_output: str = ""
    config_source: str = ""
    error_logs: List[str] = field(default_factory=list)
    sites: List[SiteInfo] = field(default_factory=list)
    stapling_capable: Optional[bool] = None
    stapling_capable_reason: str = ""
    stapling_self_fetch: Optional[bool] = None
    details: Dict[str, Any] = field(default_factory=dict)
    errors: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        if self.version_tuple is not None:
            data["version_tuple"] = list(self.version_tuple)
        return data


# ---------------------------------------------------------------------------------------------
# running the server's own commands


@dataclass(repr=False)
class CommandResult(Record):
    """Outcome of one command; ``error`` is set when it could not run or timed out."""

    argv: List[str]
    rc: Optional[int]
    stdout: str
    stderr: str
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.rc == 0

    @property
    def output(self) -> str:
        """stdout and stderr together: servers print test results on either."""
        parts = [part for part in (self.stdout, self.stderr) if part]
        return "\n".join(part.rstrip("\n") for part in parts)

    def describe(self) -> str:
        """One sentence for an ``errors`` entry: command, exit code and the first useful line."""
        cmd = " ".join(self.argv)
        if self.error:
            return f"`{cmd}` could not run: {self.error}"
        first = first_meaningful_line(self.output)
        tail = f": {first}" if first else ""
        return f"`{cmd}` failed with exit code {self.rc}{tail}"


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = str(value)
    if len(value) > MAX_OUTPUT_BYTES:
        value = value[:MAX_OUTPUT_BYTES]
    return value


def run_command(run: Runner, argv: List[str], timeout: float = DEFAULT_TIMEOUT) -> CommandResult:
    """Run a server command through the injected runner and never raise.

    The runner is the module's (or a test fake); any exception it raises, including a timeout,
    becomes ``error`` so a hung or missing binary shows up as a sentence on that server.
    """
    try:
        rc, out, err = run(list(argv), timeout)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # any runner failure is data
        return CommandResult(list(argv), None, "", "", f"{type(exc).__name__}: {exc}")
    try:
        rc = int(rc)
    except (TypeError, ValueError):
        rc = None
    return CommandResult(list(argv), rc, _to_text(out), _to_text(err))


def process_runner(which: Optional[Callable[[str], Optional[str]]] = None) -> Runner:
    """The runner the modules use: :func:`run_process` with a hard timeout and the C locale.

    The command runs under coreutils ``timeout``, which kills it at the limit (and KILLs it 5 s later if it
    ignores TERM), so a server binary that hangs on a broken configuration cannot hang the audit; without
    ``timeout`` on the node, :func:`run_process` kills the command's process group at the limit itself. The C
    locale keeps the servers' messages in English, which the parsers and classifiers expect.
    """
    timeout_bin = (which or default_which)("timeout")

    def run(argv: List[str], timeout: float) -> Tuple[int, str, str]:
        command = list(argv)
        if timeout_bin:
            command = [timeout_bin, "--kill-after=5", "%g" % timeout, *command]
        limit = timeout + 10 if timeout_bin else timeout  # coreutils' own limit and kill-after come first
        done = run_process(command, {"LC_ALL": "C", "LANG": "C"}, limit, own_group=not timeout_bin)
        if done.timed_out or (timeout_bin and done.rc in (124, 137)):
            return 124, done.stdout, f"timed out after {timeout:g} s"
        return done.rc, done.stdout, done.stderr

    return run


@dataclass(repr=False)
class ProcessResult(Record):
    """What :func:`run_process` saw: exit code (negative: killed by that signal), output, and whether it killed
    the command at its limit."""

    rc: int
    stdout: str
    stderr: str
    timed_out: bool = False


# How long the output of a command that has exited is still read: what it started (a daemon) may hold its pipes.
EXITED_GRACE = 1.0


def run_process(argv: List[str], environ_update: Dict[str, str], limit: float, own_group: bool = False):
    """Run ``argv`` with no stdin; a :class:`ProcessResult` with its output (each cut at MAX_OUTPUT_BYTES).

    Not ``AnsibleModule.run_command()``: once the last pipe closes, it asks twice whether the child has exited,
    and when the child exits between the two questions it sleeps a second on an empty selector (ansible-core
    2.19-2.21): two commands in a hundred like ``timeout nginx -V`` (docs/performance.md, benchmark 6). Here the
    output is read until both pipes close, or for at most EXITED_GRACE seconds after the command exits (a daemon
    it started may keep them open, silent or writing). The command gets ``/dev/null`` as stdin, not the module's
    (under pipelining that is the SSH channel). Output is decoded as run_command() did (UTF-8, undecodable bytes
    kept as surrogates), so a file name a server prints maps back to the file. When the command itself still
    runs at ``limit`` seconds it is killed (its whole process group with ``own_group``, which starts it in a
    session of its own) and ``timed_out`` is set. Raises OSError when the command cannot start;
    :func:`run_command` turns that into a sentence.
    """
    environ = dict(os.environ)
    environ.update(environ_update)
    # Not run_command() (see above); closed below, on every path.
    proc = subprocess.Popen(  # pylint: disable=consider-using-with,ansible-bad-function
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environ,
        close_fds=True,
        start_new_session=own_group,
    )
    stdout_fd, stderr_fd = proc.stdout.fileno(), proc.stderr.fileno()
    output: Dict[int, List[bytes]] = {stdout_fd: [], stderr_fd: []}
    kept = {stdout_fd: 0, stderr_fd: 0}
    deadline = time.monotonic() + limit
    exited_at = None
    timed_out = False

    def kill():
        try:
            if own_group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except OSError:  # already gone
            pass

    try:
        with selectors.DefaultSelector() as selector:
            for pipe in (proc.stdout, proc.stderr):
                selector.register(pipe, selectors.EVENT_READ)
            while selector.get_map():
                now = time.monotonic()
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                if exited_at is not None:
                    wait = exited_at + EXITED_GRACE - now
                    if wait <= 0:
                        break  # what still holds the pipes is not the command: stop reading
                elif now >= deadline:
                    timed_out = True
                    kill()
                    break
                else:
                    wait = min(EXITED_GRACE, deadline - now)
                for key, _mask in selector.select(wait):
                    data = os.read(key.fd, 65536)
                    if not data:
                        selector.unregister(key.fileobj)
                    elif kept[key.fd] < MAX_OUTPUT_BYTES:
                        output[key.fd].append(data)
                        kept[key.fd] += len(data)
        if not timed_out and proc.poll() is None:
            # Both pipes closed and the command still runs (it closed them itself): it keeps its limit.
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
                kill()
        rc = proc.wait()
    finally:
        if proc.returncode is None:
            kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    out, err = (b"".join(output[fd]).decode("utf-8", "surrogateescape") for fd in (stdout_fd, stderr_fd))
    return ProcessResult(rc, out, err, timed_out)


def default_which(name: str) -> Optional[str]:
    """``shutil.which`` that also looks in the sbin directories a non-login SSH session may lack."""
    found = shutil.which(name)
    if found:
        return found
    path = os.pathsep.join(SBIN_DIRS)
    return shutil.which(name, path=path)


# ---------------------------------------------------------------------------------------------
# text helpers


def trim(text: Optional[str], limit: int = OUTPUT_TRIM) -> str:
    """Shorten long output, keeping the start (where servers print the first error)."""
    if not text:
        return ""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 20].rstrip() + " ... [trimmed]"


def first_meaningful_line(text: str) -> str:
    """The first line that says something (skips blank lines and HAProxy's version NOTICEs)."""
    fallback = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not fallback:
            fallback = line
        if "[NOTICE]" in line and ("haproxy version is" in line or "path to executable" in line):
            continue
        return trim(line, 300)
    return trim(fallback, 300)


_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version(text: Optional[str]) -> Tuple[Optional[str], Optional[Tuple[int, ...]]]:
    """``"1.22.1"`` and ``(1, 22, 1)`` from the first dotted number in ``text``."""
    if not text:
        return None, None
    match = _VERSION_RE.search(text)
    if not match:
        return None, None
    numbers = tuple(int(group) for group in match.groups() if group is not None)
    return ".".join(str(number) for number in numbers), numbers


def iso_utc(timestamp: Optional[float]) -> Optional[str]:
    """A POSIX timestamp as ``2026-11-23T19:31:00Z``, the time format used across the collection."""
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


_GLOB_CACHE: Dict[str, re.Pattern[str]] = {}


def glob_match(pattern: str, path: str) -> bool:
    """``glob(3)`` matching of a whole path: wildcards never cross a ``/``, as the servers' globs behave."""
    regex = _GLOB_CACHE.get(pattern)
    if regex is None:
        parts = []
        index = 0
        while index < len(pattern):
            char = pattern[index]
            if char == "*":
                parts.append("[^/]*")
            elif char == "?":
                parts.append("[^/]")
            elif char == "[":
                end = pattern.find("]", index + 2 if pattern[index + 1 : index + 2] in ("!", "^") else index + 1)
                if end == -1:
                    parts.append(re.escape(char))
                else:
                    body = pattern[index + 1 : end]
                    if body[:1] in ("!", "^"):
                        body = "^" + body[1:]
                    parts.append("[" + body.replace("\\", "\\\\") + "]")
                    index = end
            else:
                parts.append(re.escape(char))
            index += 1
        regex = re.compile("".join(parts) + r"\Z")
        if len(_GLOB_CACHE) < 1000:
            _GLOB_CACHE[pattern] = regex
    return regex.match(path) is not None


def resolve_path(path: str, base: Optional[str]) -> str:
    """``path`` made absolute against ``base`` (a server's prefix or ServerRoot), normalised."""
    if not path:
        return path
    if not os.path.isabs(path) and base:
        path = os.path.join(base, path)
    return os.path.normpath(path)


# ---------------------------------------------------------------------------------------------
# files


def stat_record(path: str) -> Dict[str, Any]:
    """What the caller needs to judge a referenced file without this layer reading secrets.

    ``mtime`` (ISO UTC) against the master's start time tells a renewed-but-not-reloaded
    certificate; ``realpath`` follows certbot's ``live/`` symlinks to the ``archive/`` file that
    is really served; ``readable`` is judged for the user the module runs as.
    """
    record: Dict[str, Any] = {
        "path": path,
        "exists": False,
        "readable": False,
        "is_file": False,
        "size": None,
        "mtime": None,
        "mode": None,
        "uid": None,
        "gid": None,
        "is_symlink": False,
        "realpath": None,
        "error": None,
    }
    try:
        record["is_symlink"] = os.path.islink(path)
        info = os.stat(path)
    except FileNotFoundError:
        record["error"] = "does not exist"
        return record
    except OSError as exc:
        record["error"] = exc.strerror or str(exc)
        return record
    record.update(
        exists=True,
        is_file=stat.S_ISREG(info.st_mode),
        size=info.st_size,
        mtime=iso_utc(info.st_mtime),
        mode="%04o" % stat.S_IMODE(info.st_mode),
        uid=info.st_uid,
        gid=info.st_gid,
        readable=os.access(path, os.R_OK),
        realpath=os.path.realpath(path),
    )
    return record


def read_text_file(path: str, max_bytes: int = MAX_CONFIG_FILE_BYTES) -> Tuple[Optional[str], Optional[str]]:
    """``(text, None)`` or ``(None, sentence)``; never raises, never reads more than ``max_bytes``."""
    try:
        with files.open_regular(path) as handle:  # never blocks on a FIFO or device an include names
            data = handle.read(max_bytes + 1)
    except InputError as exc:
        return None, str(exc)
    except FileNotFoundError:
        return None, f"{path} does not exist."
    except PermissionError:
        return None, f"{path} cannot be read: permission denied."
    except OSError as exc:
        return None, f"{path} cannot be read: {exc.strerror or exc}."
    if len(data) > max_bytes:
        return None, f"{path} is larger than {max_bytes} bytes; it was not read."
    return data.decode("utf-8", "replace"), None


def parse_env_file(path: str) -> Dict[str, str]:
    """Simple ``NAME=value`` / ``export NAME=value`` assignments from a shell environment file.

    Apache's ``envvars`` and ``/etc/default/haproxy`` are shell scripts; only plain assignments
    (quoted or not, with ``$NAME``/``${NAME}`` references to earlier ones) are understood, which
    is what those files contain in practice. Anything else is ignored rather than executed.
    """
    text, error = read_text_file(path, 1024 * 1024)
    values: Dict[str, str] = {}
    if error or text is None:
        return values
    assign = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
    for raw in text.splitlines():
        match = assign.match(raw)
        if not match:
            continue
        name, value = match.group(1), match.group(2).strip()
        if value[:1] in ("'", '"'):
            quote = value[0]
            end = value.find(quote, 1)
            value = value[1:end] if end != -1 else value[1:]
            if quote == "'":
                values[name] = value
                continue
        else:
            value = value.split("#", 1)[0].strip().split()[0] if value.split() else ""

        def _sub(match_obj: re.Match[str]) -> str:
            ref = match_obj.group(1) or match_obj.group(2)
            return values.get(ref, os.environ.get(ref, ""))

        values[name] = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", _sub, value)
    return values


# ---------------------------------------------------------------------------------------------
# processes


@dataclass(repr=False)
class ProcInfo(Record):
    """A process as /proc shows it; ``started_at`` is ISO UTC."""

    pid: int
    ppid: int
    comm: str
    cmdline: List[str]
    exe: Optional[str]
    started_at: Optional[str]
    stdout: Optional[str] = None
    stderr: Optional[str] = None
    cwd: Optional[str] = None


def _read_small(path: str, limit: int = 65536) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return None


def boot_time(proc_root: str = "/proc") -> Optional[float]:
    data = _read_small(os.path.join(proc_root, "stat"), 1024 * 1024)
    if not data:
        return None
    for line in data.decode("ascii", "replace").splitlines():
        if line.startswith("btime "):
            try:
                return float(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def _clock_ticks() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK")) or 100
    except (ValueError, OSError, AttributeError):
        return 100


def _parse_stat(data: bytes) -> Optional[Tuple[str, int, int]]:
    """``(comm, ppid, starttime_ticks)`` from /proc/<pid>/stat; comm may hold spaces and parentheses."""
    text = data.decode("utf-8", "replace")
    start = text.find("(")
    end = text.rfind(")")
    if start == -1 or end == -1:
        return None
    comm = text[start + 1 : end]
    rest = text[end + 2 :].split()
    # rest[0] is the state (field 3); ppid is field 4, starttime field 22.
    try:
        return comm, int(rest[1]), int(rest[19])
    except (IndexError, ValueError):
        return None


_GONE = "gone"


def _netns(proc_root: str, pid: str) -> Optional[str]:
    """The process's network namespace; None when unreadable (no privilege), ``_GONE`` when it has exited."""
    try:
        return os.readlink(os.path.join(proc_root, pid, "ns", "net"))
    except FileNotFoundError:
        return _GONE
    except OSError as exc:
        return _GONE if exc.errno == errno.ESRCH else None


def _link(path: str) -> Optional[str]:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _fd_target(proc_root: str, pid: int, fd: int) -> Optional[str]:
    try:
        target = os.readlink(os.path.join(proc_root, str(pid), "fd", str(fd)))
    except OSError:
        return None
    return target if target.startswith("/") else None


def _process_stats(proc_root: str) -> List[Tuple[str, Tuple[str, int, int]]]:
    """``(pid, (comm, ppid, starttime_ticks))`` of every process in ``proc_root``, in ``os.listdir`` order."""
    try:
        entries = [entry for entry in os.listdir(proc_root) if entry.isdigit()]
    except OSError:
        return []
    stats = []
    for entry in entries:
        data = _read_small(os.path.join(proc_root, entry, "stat"), 4096)
        parsed = _parse_stat(data) if data else None
        if parsed:
            stats.append((entry, parsed))
    return stats


# The process table of the discovery in progress, by proc root (``process_table``).
_TABLES: Dict[str, List[Tuple[str, Tuple[str, int, int]]]] = {}


@contextlib.contextmanager
def process_table(proc_root: str) -> Iterator[None]:
    """Within the block, ``list_processes`` reads ``proc_root``'s process table once, not once per call.

    Discovery asks about the processes of each server type in turn; every ask read the ``stat`` file of every
    process on the node (hundreds where /proc is shared, as on the lab's machine). The table is read when the
    block starts: the servers' masters and their command lines are still read at each call. Calls outside a block
    (server_reload waiting for a master to come back) always read the node as it is.
    """
    outer = _TABLES.get(proc_root)
    _TABLES[proc_root] = outer if outer is not None else _process_stats(proc_root)
    try:
        yield
    finally:
        if outer is None:
            _TABLES.pop(proc_root, None)


def list_processes(proc_root: str, names: Tuple[str, ...]) -> List[ProcInfo]:
    """Processes whose ``comm`` is one of ``names``, in this node's network namespace.

    On a lab machine (and in containers sharing a PID namespace) several nodes' servers are
    visible in one /proc; the ones in our own network namespace are the ones this node serves
    with. When namespaces cannot be read (no privilege), every match is kept.
    """
    table = _TABLES.get(proc_root)
    if table is None:
        table = _process_stats(proc_root)
    own_ns = _netns(proc_root, "self")
    ticks = _clock_ticks()
    btime = boot_time(proc_root)
    found = []
    for entry, parsed in table:
        if parsed[0] not in names:
            continue
        other = _netns(proc_root, entry)
        if other == _GONE:
            # a short-lived process (another node's config test on a shared /proc) that exited
            # between two reads: it serves nothing, and its namespace can no longer be told
            continue
        if own_ns not in (None, _GONE) and other is not None and other != own_ns:
            continue
        comm, ppid, start_ticks = parsed
        raw = _read_small(os.path.join(proc_root, entry, "cmdline")) or b""
        cmdline = [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
        try:
            exe: Optional[str] = os.readlink(os.path.join(proc_root, entry, "exe"))
        except OSError:
            exe = None
        if exe and exe.endswith(" (deleted)"):
            exe = exe[: -len(" (deleted)")]
        started = iso_utc(btime + start_ticks / ticks) if btime is not None else None
        pid = int(entry)
        found.append(
            ProcInfo(
                pid=pid,
                ppid=ppid,
                comm=comm,
                cmdline=cmdline,
                exe=exe,
                started_at=started,
                stdout=_fd_target(proc_root, pid, 1),
                stderr=_fd_target(proc_root, pid, 2),
                cwd=_link(os.path.join(proc_root, entry, "cwd")),
            )
        )
    return sorted(found, key=lambda proc: proc.pid)


def field(record: Any, name: str, default: Any = None) -> Any:
    """``name`` of an audit record (plugins/module_utils/evidence.py) or of its dict form; ``default`` when absent.

    The facts functions of each server type read the audit's records on the node and their dict form where the
    controller has only that.
    """
    if record is None:
        return default
    if isinstance(record, dict):
        return record.get(name, default)
    return getattr(record, name, default)


def masters(processes: List[ProcInfo], one_shot: Optional[Callable[[List[str]], bool]] = None) -> List[ProcInfo]:
    """The processes whose parent is not one of them: nginx/Apache/HAProxy masters.

    ``one_shot(cmdline)`` tells the server's commands that run and exit (``nginx -t``, ``apache2 -S``,
    ``haproxy -c``, a signal sent with ``nginx -s reload``): an operator's configuration test running beside
    the server is not a second instance of it.
    """
    if one_shot is not None:
        processes = [proc for proc in processes if not one_shot(proc.cmdline)]
    pids = {proc.pid for proc in processes}
    return [proc for proc in processes if proc.ppid not in pids]


def option_values(argv: List[str], flag: str) -> List[str]:
    """Values of ``flag`` in a command line (``-c X`` and ``-cX`` forms)."""
    values = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == flag and index + 1 < len(argv):
            values.append(argv[index + 1])
            index += 2
            continue
        if arg.startswith(flag) and len(arg) > len(flag) and not arg.startswith("--"):
            values.append(arg[len(flag) :])
        index += 1
    return values


def add_files(site: SiteInfo, paths: List[Optional[str]]) -> None:
    """Record the stat data of every referenced file once (variables and inline data are skipped)."""
    for path in paths:
        if not path or "$" in path or path.startswith("data:") or path in site.files:
            continue
        site.files[path] = stat_record(path)


def version_at_least(version: Optional[Tuple[int, ...]], *wanted: int) -> Optional[bool]:
    if version is None:
        return None
    return tuple(version[: len(wanted)]) >= wanted


# ---------------------------------------------------------------------------------------------
# the discovery skeleton every server type shares


def discover_instances(
    which: Which,
    proc_root: str,
    process_names: Tuple[str, ...],
    binary_names: Tuple[str, ...],
    instance_key: Callable[[Optional[ProcInfo]], Any],
    inspect_one: Callable[[Optional[ProcInfo], Optional[str]], ServerInfo],
    installed: bool = False,
    one_shot: Optional[Callable[[List[str]], bool]] = None,
) -> List[ServerInfo]:
    """One record per running master (masters with the same ``instance_key`` count once), or the installed one.

    ``inspect_one(master, binary)`` reads one instance; ``master`` is None for an installed server that does not
    run, and ``binary`` is the master's own executable when it still exists, else the first of ``binary_names``
    on the PATH (None when none is). ``installed`` says the server is present although none of its binaries is
    (Apache's ctl script alone). ``one_shot`` tells the type's run-and-exit commands (see ``masters``). The
    master's pid, start time and command line are filled in here.
    """
    found_masters = masters(list_processes(proc_root, process_names), one_shot)
    binary = next((path for path in (which(name) for name in binary_names) if path), None)
    if not found_masters and not binary and not installed:
        return []
    results: List[ServerInfo] = []
    seen = set()
    for master in found_masters or [None]:
        key = instance_key(master)
        if key in seen:
            continue
        seen.add(key)
        exe = master.exe if master and master.exe and os.path.exists(master.exe) else None
        info = inspect_one(master, exe or binary)
        if master:
            info.running = True
            info.master_pid = master.pid
            info.master_started_at = master.started_at
            info.master_cmdline = master.cmdline
        results.append(info)
    return results


def paired_certificate_units(site: SiteInfo) -> List[Tuple[Optional[str], Optional[str], Dict[str, Any]]]:
    """``(certificate file, key file, stapling)`` for sites that list certificates and keys side by side.

    The n-th key goes with the n-th certificate; a certificate without its own key takes the last one.
    """
    keys = list(site.key_files)
    return [
        (cert, keys[index] if index < len(keys) else (keys[-1] if keys else None), dict(site.stapling))
        for index, cert in enumerate(site.certificate_files)
    ]


#: What a server type's reader (``servers/<type>/reader.py``) gives the registry through the type's package.
READER_PARTS = ("discover", "inspect", "parse_line", "make_classifier", "one_shot")


def lazy_parts(module_name: str, reader: Callable[[], Any], parts: Dict[str, str]) -> Callable[[str], Any]:
    """A server type package's ``__getattr__`` (PEP 562): its parts, each imported on first use.

    ``READER_PARTS`` come from the module ``reader()`` imports, each other name is the submodule ``parts`` names for
    it (``{"CONTROL": "control"}``); any other name is an AttributeError, without importing anything. What is loaded
    is then kept in the package. A module runs from a zip on the node, and every module it imports is compiled
    there at every run, and every byte of its payload read: node_audit imports only the readers of the server types
    the node has (docs/performance.md, "What limits the figures"). ``reader()`` holds a literal import, so AnsiballZ
    ships every reader with every module that imports the package; the other parts are imported by a computed name,
    which AnsiballZ does not follow, so only the modules that import ``servers/parts.py`` carry them.
    """

    def __getattr__(name: str) -> Any:
        if name in READER_PARTS:
            value = getattr(reader(), name)
        elif name in parts:
            value = importlib.import_module("%s.%s" % (module_name, parts[name]))
        else:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        setattr(sys.modules[module_name], name, value)
        return value

    return __getattr__


def installed_or_running(
    which: Which, proc_root: str, installed_names: Tuple[str, ...], process_names: Tuple[str, ...]
) -> bool:
    """Whether one of ``installed_names`` is on the PATH or a process named one of ``process_names`` runs here.

    A server type for which neither holds has nothing to discover (``discover_instances`` finds no master, no
    binary, nothing installed), so its reader need not even be imported.
    """
    return any(which(name) for name in installed_names) or bool(list_processes(proc_root, process_names))
