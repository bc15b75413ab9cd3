# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""zip_import's code cache on the node: a second run takes the collection's compiled module_utils from
``<home>/.cache/tlsfleet-stapling-code/<cache tag>``, and a cache it cannot trust is neither read nor written.

Each run is a child Python (the node's /usr/bin/python3 where there is one) importing from its own copy of a zip laid
out as AnsiballZ lays it out, in a new directory each time as AnsiballZ's are; its passwd entry names a home of the
test's. A planted entry is code that writes a marker file: where the cache must not be trusted, the marker must not
appear.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import time
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[4]
UTILS = "ansible_collections.tlsfleet.stapling.plugins.module_utils"
UTILS_DIR = UTILS.replace(".", "/")
NODE_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def find_python(version: str) -> str | None:
    """A working ``python<version>``: on PATH, or one pyenv built (its shims run only the selected versions)."""
    candidates = [shutil.which("python" + version)]
    candidates += sorted(pathlib.Path("~/.pyenv/versions").expanduser().glob(version + ".*/bin/python" + version))
    for python in filter(None, candidates):
        if subprocess.run([python, "-c", ""], capture_output=True, check=False).returncode == 0:
            return str(python)
    return None


# The node's Python and this one; the oldest and newest others that a node may have, where this machine has them.
PYTHONS = sorted({sys.executable, NODE_PYTHON} | set(filter(None, map(find_python, ["3.10", "3.13"]))))
OTHER_UID = 65534  # nobody

# The modules the child imports: a module, a package with a submodule, and one whose annotations show that it was
# compiled without the future import of the module that compiled it (zip_import has "annotations").
DEMO = {
    "cache_demo_a.py": 'VALUE = "genuine %d" % sum(range(10))\n\n\ndef boom():\n    raise RuntimeError("boom")\n',
    "cache_demo_pkg/__init__.py": "from . import sub\n\nVALUE = sub.VALUE * 2\n",
    "cache_demo_pkg/sub.py": "VALUE = 21\n",
    "cache_demo_ann.py": "def f(x: int) -> str:\n    return str(x)\n\n\nVALUE = repr(f.__annotations__)\n",
}
INNER = {name: "%s/%s" % (UTILS_DIR, name) for name in DEMO}
A = INNER["cache_demo_a.py"]

CHILD = r"""
import builtins, importlib, json, pwd, sys, traceback
archive, home = sys.argv[1], sys.argv[2]
real_getpwuid = pwd.getpwuid
def getpwuid(uid):  # the node's passwd entry, with this test's home
    entry = real_getpwuid(uid)
    return pwd.struct_passwd(tuple(entry)[:5] + (home,) + tuple(entry)[6:])
pwd.getpwuid = getpwuid
compiled = []
real_compile = builtins.compile
def counting(source, filename, *args, **kwargs):
    if isinstance(filename, str) and filename.startswith(archive + "/"):
        compiled.append(filename[len(archive) + 1:])
    return real_compile(source, filename, *args, **kwargs)
if sys.argv[3:] != ["uncounted"]:  # counting compiles through a function of its own hides what flags it inherits
    builtins.compile = counting
sys.path.insert(0, archive)
utils = "ansible_collections.tlsfleet.stapling.plugins.module_utils"
importlib.import_module(utils + ".zip_import")
names = ("cache_demo_a", "cache_demo_pkg", "cache_demo_ann")
values = {name: importlib.import_module(utils + "." + name).VALUE for name in names}
demo = sys.modules[utils + ".cache_demo_a"]
try:
    demo.boom()
except RuntimeError:
    frame = traceback.extract_tb(sys.exc_info()[2])[-1]
except TypeError:  # planted code: boom is None
    frame = None
print(json.dumps({
    "compiled": sorted(path for path in compiled if "/cache_demo" in path),
    "values": values,
    "sub": sys.modules[utils + ".cache_demo_pkg.sub"].VALUE,
    "traceback": frame and [frame.filename, frame.lineno, frame.line],
    "file": demo.__file__,
    "loader": type(demo.__loader__).__name__,
}))
"""
GENUINE = {
    "cache_demo_a": "genuine 45",
    "cache_demo_pkg": 42,
    "cache_demo_ann": "{'x': <class 'int'>, 'return': <class 'str'>}",
}


def make_zip(path: pathlib.Path, demo: dict) -> pathlib.Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        parents = ["ansible_collections", "ansible_collections/tlsfleet", "ansible_collections/tlsfleet/stapling"]
        for parent in [*parents, "ansible_collections/tlsfleet/stapling/plugins", UTILS_DIR]:
            archive.writestr(parent + "/__init__.py", "")
        archive.write(ROOT / "plugins" / "module_utils" / "zip_import.py", UTILS_DIR + "/zip_import.py")
        for name, source in demo.items():
            archive.writestr(INNER[name], source)
    return path


class Node:
    """A home, the cache under it and a way to run the child as a module run on this node would."""

    def __init__(self, tmp_path: pathlib.Path, python: str = NODE_PYTHON, home: pathlib.Path | None = None):
        self.tmp = tmp_path
        self.python = python
        self.home = home or tmp_path / "home"
        for directory in reversed([self.home, *self.home.relative_to(tmp_path).parents][:-1]):
            path = tmp_path / directory
            path.mkdir()
            path.chmod(0o700 if path == self.home else 0o755)  # whatever the umask
        self.parent = self.home / ".cache" / "tlsfleet-stapling-code"
        self.zip = make_zip(tmp_path / "payload.zip", DEMO)
        self.runs = 0
        self.marker = tmp_path / "planted-code-ran"

    @property
    def dir(self) -> pathlib.Path:
        (tag,) = os.listdir(self.parent)
        return self.parent / tag

    def run(self, *options: str, env=None, archive=None, counted: bool = True) -> dict:
        # A new directory each run, as AnsiballZ's temporary payload directory is: the cache must not care.
        self.runs += 1
        run_dir = self.tmp / ("run%d" % self.runs)
        run_dir.mkdir()
        payload = shutil.copy(archive or self.zip, run_dir / "payload.zip")
        base = {key: value for key, value in os.environ.items() if not key.startswith("TLSFLEET_")}
        base["HOME"] = str(self.tmp / "env-home")  # not where the cache goes: become can keep another user's HOME
        out = subprocess.run(
            [
                self.python,
                "-I",
                *options,
                "-c",
                CHILD,
                str(payload),
                str(self.home),
                "counted" if counted else "uncounted",
            ],
            capture_output=True,
            text=True,
            check=False,
            env=dict(base, **(env or {})),
            cwd=self.tmp,  # where a cache would land if a relative home were taken as it is
        )
        assert out.returncode == 0, out.stderr
        assert out.stderr == "" and out.stdout.count("\n") == 1, out  # the cache never prints: stdout is the JSON
        result = json.loads(out.stdout)
        result["payload"] = str(payload)
        assert not (self.tmp / "env-home").exists()
        return result

    def entry(self, inner: str) -> pathlib.Path:
        return self.dir / (key(self.magic(), inner, DEMO[inner.rpartition(UTILS_DIR + "/")[2]]) + ".code")

    def magic(self) -> bytes:
        script = "import importlib.util, sys; sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER)"
        return subprocess.run([self.python, "-c", script], capture_output=True, check=True).stdout

    def plant(self, inner: str) -> pathlib.Path:
        """Replace a module's entry with a valid one whose code writes the marker and sets VALUE to "planted"."""
        path = self.entry(inner)
        source = "open(%r, 'w').write('ran')\nVALUE = 'planted'\nboom = None\n" % str(self.marker)
        payload = subprocess.run(
            [
                self.python,
                "-c",
                "import marshal, sys; sys.stdout.buffer.write(marshal.dumps(compile(sys.argv[1], 'x', 'exec')))",
                source,
            ],
            capture_output=True,
            check=True,
        ).stdout
        write_entry(path, path.read_bytes()[:44], payload)
        return path


def key(magic: bytes, inner: str, source: str) -> str:
    """The entry name for a source, as the design states it: SHA-256 of magic, optimization level, name, source."""
    return hashlib.sha256(b"%s%d\0%s\0%s" % (magic, 0, inner.encode(), source.encode())).hexdigest()


def write_entry(path: pathlib.Path, head: bytes, payload: bytes) -> None:
    """An entry with the format, magic and key of ``head`` (its first 44 bytes) and a correct length and CRC."""
    import zlib

    path.write_bytes(head + len(payload).to_bytes(8, "little") + zlib.crc32(payload).to_bytes(4, "little") + payload)


def snapshot(top: pathlib.Path) -> dict:
    """Everything under ``top`` (not following symlinks): mode, owner, size, mtime, link target."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = pathlib.Path(dirpath, name)
            st = path.lstat()
            target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            found[str(path.relative_to(top))] = (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns, target)
    return found


@pytest.mark.parametrize("python", PYTHONS)
def test_a_second_run_takes_the_code_from_the_cache(tmp_path, python):
    node = Node(tmp_path, python)
    first = node.run()
    assert first["loader"] == "_CachingZipImporter"
    assert first["compiled"] == sorted(INNER.values())  # each once
    assert first["values"] == GENUINE and first["sub"] == 21
    entries = sorted(node.dir.iterdir())
    assert len(entries) == len(DEMO)
    # Private: the directories 0700 and the entries 0600, owned by the effective user.
    for path in [node.parent, node.dir, *entries]:
        st = path.lstat()
        assert st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == (0o700 if path.is_dir() else 0o600)
    assert node.entry(A) in entries

    second = node.run()
    assert second["compiled"] == []  # nothing compiled: every module came from the cache
    assert second["values"] == first["values"] and second["sub"] == 21
    assert sorted(node.dir.iterdir()) == entries
    # The code names this run's file, as zipimport would: tracebacks show the right path and line.
    for run in (first, second):
        assert run["file"] == run["payload"] + "/" + A
        assert run["traceback"] == [run["file"], 5, 'raise RuntimeError("boom")']
    # Compiled by zip_import itself (not by the test's counting function), a module still gets no future flag of
    # zip_import's: its annotations are objects, not strings. Cold and warm.
    shutil.rmtree(node.parent)
    assert node.run(counted=False)["values"] == node.run(counted=False)["values"] == GENUINE


def test_a_damaged_entry_is_compiled_and_rewritten(tmp_path):
    node = Node(tmp_path)
    node.run()
    path = node.entry(A)
    good = path.read_bytes()
    damages = {
        "truncated": good[:-7],
        "header only": good[:56],
        "empty": b"",
        "another format": b"X" + good[1:],
        "another magic": good[:8] + b"\0\0\0\0" + good[12:],
        "another key": good[:12] + bytes(32) + good[44:],
        "a flipped payload byte": good[:-1] + bytes([good[-1] ^ 0xFF]),
    }
    for name, data in damages.items():
        path.write_bytes(data)
        run = node.run()
        assert run["compiled"] == [A], name
        assert run["values"] == GENUINE, name
        assert_rewritten(node, path, good, name)
    # A payload with the right length and CRC that marshal cannot read, or reads as something else than code.
    for name, payload in {"not marshal": b"\xff" * 40, "not code": b"N"}.items():
        write_entry(path, good[:44], payload)
        run = node.run()
        assert run["compiled"] == [A], name
        assert_rewritten(node, path, good, name)


def assert_rewritten(node: Node, path: pathlib.Path, good: bytes, case: str) -> None:
    # A valid entry again (its code names the run that wrote it, so the bytes differ): the next run takes it.
    assert path.read_bytes()[:44] == good[:44], case
    assert node.run()["compiled"] == [], case


def test_a_changed_source_is_a_new_entry(tmp_path):
    node = Node(tmp_path)
    node.run()
    before = snapshot(node.dir)
    changed = dict(DEMO)
    changed["cache_demo_a.py"] = DEMO["cache_demo_a.py"].replace("genuine", "changed")
    run = node.run(archive=make_zip(tmp_path / "changed.zip", changed))
    assert run["compiled"] == [A]
    assert run["values"]["cache_demo_a"] == "changed 45"
    after = snapshot(node.dir)
    assert set(after) - set(before) == {key(node.magic(), A, changed["cache_demo_a.py"]) + ".code"}
    assert all(after[name] == before[name] for name in before)  # the old entry is left, unchanged


def test_a_planted_entry_runs_where_the_cache_is_trusted(tmp_path):
    # The control for the hostile cases below: a planted entry in a trusted cache is what the child runs.
    node = Node(tmp_path)
    node.run()
    node.plant(A)
    run = node.run()
    assert run["values"]["cache_demo_a"] == "planted" and node.marker.exists()
    assert run["compiled"] == []


def _chown(path: pathlib.Path) -> None:
    os.chown(path, OTHER_UID, OTHER_UID, follow_symlinks=False)


def _symlink_to_a_copy(path: pathlib.Path) -> None:
    # The real thing moves beside it (owned by us, 0700 or 0600, planted entry inside) and a symlink takes its place.
    real = path.with_name(path.name + ".real")
    path.rename(real)
    path.symlink_to(real.name)


HOSTILE = {
    "cache dir owned by another user": (lambda node: _chown(node.dir), True),
    "its parent owned by another user": (lambda node: _chown(node.parent), True),
    "cache dir mode 0777": (lambda node: node.dir.chmod(0o777), False),
    "cache dir mode 0750": (lambda node: node.dir.chmod(0o750), False),
    "its parent mode 0755": (lambda node: node.parent.chmod(0o755), False),
    "entry mode 0666": (lambda node: node.entry(A).chmod(0o666), False),
    "entry mode 0620": (lambda node: node.entry(A).chmod(0o620), False),
    "entry owned by another user": (lambda node: _chown(node.entry(A)), True),
    "entry is a symlink": (lambda node: _symlink_to_a_copy(node.entry(A)), False),
    "cache dir is a symlink": (lambda node: _symlink_to_a_copy(node.dir), False),
    "its parent is a symlink": (lambda node: _symlink_to_a_copy(node.parent), False),
    ".cache writable by others": (lambda node: (node.home / ".cache").chmod(0o777), False),
    ".cache owned by another user": (lambda node: _chown(node.home / ".cache"), True),
    "home writable by its group": (lambda node: node.home.chmod(0o770), False),
    "home owned by another user": (lambda node: _chown(node.home), True),
    "an ancestor of home writable by others": (lambda node: node.home.parent.chmod(0o777), False),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_an_untrusted_cache_is_neither_read_nor_written(tmp_path, case):
    hostile, needs_root = HOSTILE[case]
    if needs_root and os.geteuid() != 0:
        pytest.skip("needs root to make files owned by another user")
    node = Node(tmp_path, home=tmp_path / "ancestor" / "home")
    node.run()  # every entry written: nothing is left to write unless the cache is used
    node.plant(A)
    # Old enough for a read to mark it used, were it trusted (the others are, in the cases about this entry).
    os.utime(node.entry(A), ns=(time.time_ns() - 2 * 86400 * 10**9,) * 2)
    hostile(node)
    before = snapshot(node.home)
    run = node.run()
    assert not node.marker.exists(), "the planted code ran"
    assert run["values"] == GENUINE
    # An untrusted entry is compiled; in an untrusted directory every module is.
    assert run["compiled"] == ([A] if case.startswith("entry") else sorted(INNER.values()))
    assert snapshot(node.home) == before  # nothing written, created, removed, chmod-ed or chown-ed


def test_a_sticky_ancestor_writable_by_others_is_trusted(tmp_path):
    # As /tmp is: others can create names there but not replace ours, and the name's owner is checked next.
    node = Node(tmp_path, home=tmp_path / "ancestor" / "home")
    node.run()
    node.plant(A)
    node.home.parent.chmod(0o1777)
    assert node.run()["values"]["cache_demo_a"] == "planted"


@pytest.mark.parametrize("value", ["off", "0", "false", "no", " OFF ", "No"])
def test_the_opt_out_stops_reads_and_writes(tmp_path, value):
    node = Node(tmp_path)
    env = {"TLSFLEET_STAPLING_CODE_CACHE": value}
    run = node.run(env=env)
    assert run["compiled"] == sorted(INNER.values()) and run["values"] == GENUINE
    assert os.listdir(node.home) == []  # not even the directories
    node.run(env={"TLSFLEET_STAPLING_CODE_CACHE": "on"})  # any other value: on
    node.plant(A)
    before = snapshot(node.home)
    run = node.run(env=env)
    assert not node.marker.exists() and run["values"] == GENUINE
    assert snapshot(node.home) == before


def test_without_bytecode_writes_the_cache_is_read_not_written(tmp_path):
    node = Node(tmp_path)
    assert node.run("-B")["compiled"] == sorted(INNER.values())
    assert os.listdir(node.home) == []
    node.run()
    node.entry(A).unlink()
    before = snapshot(node.home)
    assert node.run("-B")["compiled"] == [A]
    assert snapshot(node.home) == before


def test_a_home_that_is_missing_means_no_cache(tmp_path):
    node = Node(tmp_path)
    node.home.rmdir()
    for _run in range(2):
        run = node.run()
        assert run["compiled"] == sorted(INNER.values()) and run["values"] == GENUINE
    assert not node.home.exists()


@pytest.mark.parametrize("home", ["a file", "/proc"])
def test_a_home_that_cannot_hold_a_cache_means_no_cache(tmp_path, home):
    node = Node(tmp_path)
    if home == "a file":
        node.home.rmdir()
        node.home.write_text("")
    else:  # a real directory owned by root in which not even root can create one
        node.home = pathlib.Path(home)
    run = node.run()
    assert run["compiled"] == sorted(INNER.values()) and run["values"] == GENUINE
    assert not (node.home / ".cache").exists()


@pytest.mark.parametrize("home", ["", ".", "home"])
def test_an_empty_or_relative_home_means_no_cache(tmp_path, home):
    node = Node(tmp_path)
    node.home = home  # the passwd entry's home, as the child's getpwuid gives it
    for _run in range(2):
        run = node.run()
        assert run["compiled"] == sorted(INNER.values()) and run["values"] == GENUINE
    assert not (tmp_path / ".cache").exists() and not (tmp_path / "home" / ".cache").exists()


@pytest.mark.parametrize("owner", ["ours", "another user's, in a sticky directory"])
def test_a_home_reached_through_a_symlink_gets_no_cache(tmp_path, owner):
    """A symlink in the home's path is never followed: whoever placed it would choose the tree to trust."""
    node = Node(tmp_path)
    node.run()
    node.plant(A)  # a trusted home holding a planted entry: the symlink below points at it
    if owner == "ours":
        link = tmp_path / "link-home"
    else:
        if os.geteuid() != 0:
            pytest.skip("needs root to make a symlink owned by another user")
        shared = tmp_path / "shared"
        shared.mkdir()
        shared.chmod(0o1777)
        link = shared / "svc"
    link.symlink_to(node.home)
    if owner != "ours":
        os.chown(link, OTHER_UID, OTHER_UID, follow_symlinks=False)
    before = snapshot(node.home)
    node.home = link
    run = node.run()
    assert not node.marker.exists(), "the planted code ran"
    assert run["values"] == GENUINE and run["compiled"] == sorted(INNER.values())
    assert snapshot(link.resolve()) == before


def test_a_full_cache_is_pruned_to_the_newest_of_its_own_files(tmp_path):
    node = Node(tmp_path)
    node.run()
    cache = node.dir
    for path in cache.iterdir():
        path.unlink()
    # 310 files of the cache's own (entries and leftover temporary files), oldest first; and files it must keep.
    own = ["%064x.code" % number if number % 2 else "%064x.%016x.tmp" % (number, number) for number in range(310)]
    for age, name in enumerate(own):
        (cache / name).write_bytes(b"old")
        os.utime(cache / name, ns=(10**18 + age * 10**9, 10**18 + age * 10**9))
    (cache / "notes.txt").write_bytes(b"not ours")
    (cache / ("%064x.code" % 999)).symlink_to("notes.txt")
    others = cache / ("%064x.code" % 998)
    if os.geteuid() == 0:  # the oldest name of the cache's, but another user's file
        others.write_bytes(b"someone else's")
        os.utime(others, ns=(1, 1))
        _chown(others)
    run = node.run()
    assert run["compiled"] == sorted(INNER.values())
    left = set(os.listdir(cache))
    written = {node.entry(inner).name for inner in INNER.values()}
    assert written <= left
    assert {"notes.txt", "%064x.code" % 999} <= left
    # Pruned at the first write from 311 to 200 (the oldest 111 gone), then 3 more written.
    assert [name for name in own if name in left] == own[111:]
    if os.geteuid() == 0:
        assert others.name in left  # another user's file is not the cache's to remove


def test_an_entry_read_is_marked_used_at_most_once_a_day_and_outlives_newer_unused_ones(tmp_path):
    node = Node(tmp_path)
    node.run()
    day, now = 86400 * 10**9, time.time_ns()
    sub = INNER["cache_demo_pkg/sub.py"]
    # Written days ago, except sub: marked half a day ago.
    for inner in INNER.values():
        os.utime(node.entry(inner), ns=(now - (day // 2 if inner == sub else 3 * day),) * 2)
    before = {inner: node.entry(inner).stat().st_mtime_ns for inner in INNER.values()}
    # -B reads the cache and writes nothing, not even a mark.
    assert node.run("-B")["compiled"] == []
    assert {inner: node.entry(inner).stat().st_mtime_ns for inner in INNER.values()} == before
    assert node.run()["compiled"] == []
    after = {inner: node.entry(inner).stat().st_mtime_ns for inner in INNER.values()}
    assert after[sub] == before[sub]  # marked less than a day ago: left as it is
    marked = set(INNER.values()) - {sub}
    assert all(after[inner] >= now for inner in marked), (now, after)
    # A full cache: 310 entries of other versions written a day ago and never used since (their access times, which
    # a file system may not keep, say now). The pruning at the next write (sub, removed) goes by use: the marked
    # entries stay, though written before every one of the 310.
    unused = ["%064x.code" % number for number in range(310)]
    for age, name in enumerate(unused):
        (node.dir / name).write_bytes(b"old")
        os.utime(node.dir / name, ns=(now - age * 10**9, now - day + age * 10**9))
    node.entry(sub).unlink()
    assert node.run()["compiled"] == [sub]
    left = set(os.listdir(node.dir))
    assert {node.entry(inner).name for inner in INNER.values()} <= left
    # 314 files pruned to 200: the 114 least recently used went.
    assert [name for name in unused if name in left] == unused[114:]


@pytest.mark.parametrize("version", ["3.9", "3.8"])
def test_before_python_3_10_the_cache_is_not_used(tmp_path, version):
    # There the import system calls zipimport's load_module, which compiles without get_code: no cache, as before.
    python = find_python(version)
    if python is None:
        pytest.skip("no Python %s here" % version)
    node = Node(tmp_path, python)
    for _run in range(2):
        run = node.run()
        assert run["compiled"] == sorted(INNER.values()) and run["values"]["cache_demo_a"] == GENUINE["cache_demo_a"]
    assert os.listdir(node.home) == []


@pytest.mark.skipif(os.geteuid() != 0 or sys.executable == NODE_PYTHON, reason="needs root and a system Python")
def test_a_become_user_gets_a_cache_of_its_own_under_search_only_ancestors():
    # As a module run with become_user: the effective user is not root, its home's parent is only searchable (0711)
    # and owned by root. The pytest directories are root's own (0700), so this one lives in a directory of its own.
    import tempfile

    top = pathlib.Path(tempfile.mkdtemp(prefix="tlsfleet-cache-test-"))
    try:
        top.chmod(0o711)
        home = top / "home"
        home.mkdir(mode=0o700)
        os.chown(home, OTHER_UID, OTHER_UID)
        payload = make_zip(top / "payload.zip", DEMO)
        payload.chmod(0o644)
        runs = []
        for _run in range(2):
            out = subprocess.run(
                [NODE_PYTHON, "-I", "-c", CHILD, str(payload), str(home)],
                capture_output=True,
                text=True,
                check=False,
                user=OTHER_UID,
                group=OTHER_UID,
                extra_groups=[],
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
            assert out.returncode == 0, out.stderr
            runs.append(json.loads(out.stdout))
        assert runs[0]["compiled"] == sorted(INNER.values()) and runs[1]["compiled"] == []
        assert runs[1]["values"] == GENUINE
        for path in [home / ".cache", *(home / ".cache").rglob("*")]:
            assert path.lstat().st_uid == OTHER_UID and not path.lstat().st_mode & 0o077
    finally:
        shutil.rmtree(top)
