# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Import the collection's module_utils from a module's payload compiling each at most once, and cache the result.

On the node a module runs from the zip AnsiballZ sends, and Python imports from a zip with ``zipimport``, which
compiles a module's source twice: once when the import machinery asks for its file name while making the module's
spec (``zipimporter.get_filename`` compiles to learn whether the name is a source or a bytecode file) and once to run
it (CPython issue 141276, still open). Nothing in the payload is ever precompiled, so for the collection's own
modules that doubled work was 0.04-0.07 s of CPU in each node_audit run of 0.55-0.68 s on the lab's nodes
(docs/performance.md, "fifth round").

Importing this module installs, first on ``sys.meta_path``, a finder for the payload's Python files (SERVED: the
collection's ``module_utils`` and modules, and ansible's own ``module_utils`` that AnsiballZ ships) that finds each in
the same zip without compiling it; its loader (zipimport's own, with ``get_code`` replaced) then compiles it once, to
run it, or takes the compiled code from the node's code cache. It acts only when this module itself was loaded by
``zipimport`` (the payload); on the controller, in tests and in a payload run with ``explode`` it does nothing. Every
module imports it before any other part of the collection (a unit test checks that). A name it cannot find in the
zip is left to Python's own finders. Still compiled twice: what is imported before it (the parent packages of this
module and this module itself) and ansible's two package ``__init__`` files, whose ``pkgutil.extend_path`` asks
zipimport for them again. Unless the payload imports this module earlier, ansible's ``module_utils`` come before it
too: the AnsiballZ wrapper imports ansible's loader, and through it ``basic``, before it runs the module.
node_audit's action makes its wrapper import this module first (plugin_utils/ansiballz.py), which saves the node
about 0.1 s of CPU per run (docs/performance.md, "ninth round"); the other modules serve and cache only what they
import after it.

The code cache (Python 3.10+, where imports run ``exec_module``) is what ``__pycache__`` is for files: compiled code
of the files this finder serves, marshalled, in
``<home>/.cache/tlsfleet-stapling-code/<sys.implementation.cache_tag>`` where ``<home>`` is the effective user's
home from the password database (not ``$HOME``, which ``become`` may keep from another user). An entry is named by
the SHA-256 of the interpreter's bytecode magic number, its optimization level, the file's name inside the zip and
its source, so a changed source is a new entry and a stale one is never used. Code on a managed node that runs with
``become`` must not come from a place another user can write, so the cache is read only when (checked on every run,
through descriptors, ``/`` down, the home as the password database names it and no symlink followed on the way):
every directory from ``/`` to ``.cache`` is owned by root or the effective user and not writable by group or others
unless sticky; the last two are real directories (not symlinks) owned by the effective user with no group or other
permission at all (created 0700 when absent, never chmod-ed or chown-ed when they exist otherwise); an entry is a
regular file (not a symlink) owned by the effective user and not writable by group or others. Entries are written
through a new 0600 file renamed into place, and the directory is pruned to 200 entries, least recently used first,
when it holds more than 300 (an entry's mtime says when it was last used: set on a hit when it is over a day old, so
the code every run reads outlives the entries of versions no longer run, unless over 200 newer ones are written the
same day). Anything unexpected (an error, an untrusted path, a truncated or corrupt entry) means compiling as if
there were no cache: the cache never fails a module and never prints (a module's stdout is its JSON result). An
untrusted entry is left as it is; a damaged one of ours is overwritten.

``TLSFLEET_STAPLING_CODE_CACHE=off`` (or ``0``, ``false``, ``no``) in the module's environment (Ansible's
``environment`` keyword) turns the cache off: nothing read, nothing written. Python's own ``-B`` /
``PYTHONDONTWRITEBYTECODE`` stop its writes, use marks included. The cache is not managed state: like
``__pycache__`` it is written in check mode too and never makes a task ``changed``.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import re
import stat
import sys
import time
import types
import zipimport
import zlib
from importlib.machinery import ModuleSpec
from importlib.util import MAGIC_NUMBER

# The names this finder serves: the collection's module_utils (which every module imports after this one) and modules
# (runpy runs the module from the payload by its name), and ansible's package and module_utils in the payload.
PREFIX = __name__.rpartition(".")[0] + "."
MODULES = PREFIX[: -len("module_utils.")] + "modules"
SERVED = (PREFIX, MODULES + ".", "ansible.module_utils.")
SERVED_PACKAGES = ("ansible", "ansible.module_utils", MODULES)

CACHE_DIR = "tlsfleet-stapling-code"  # not tools/ansible-test's build directory, .cache/tlsfleet-stapling (0755)
CACHE_ENV = "TLSFLEET_STAPLING_CODE_CACHE"
_OFF = ("off", "0", "false", "no")
_MAX_ENTRIES, _KEEP_ENTRIES = 300, 200
# An entry read is marked used (its mtime set to now) when its mark is over a day old: pruning goes by the mark,
# and a run that only reads the cache touches each entry at most once a day.
_TOUCH_AFTER = 86400
_MAX_ENTRY_SIZE = 16 << 20
# An entry: format, magic, key, payload length and CRC-32 (a torn write is caught before marshal sees it), payload.
_FORMAT = b"TFSCODE1"
_HEADER_SIZE = len(_FORMAT) + len(MAGIC_NUMBER) + 32 + 8 + 4
# The cache's own files: entries and the temporary files they are written through (pruned alike).
_OWN_NAME = re.compile(r"[0-9a-f]{64}(\.code|\.[0-9a-f]{16}\.tmp)\Z")
_NOFOLLOW, _DIRECTORY = getattr(os, "O_NOFOLLOW", 0), getattr(os, "O_DIRECTORY", 0)
_DIR_FLAGS = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
# The directories above the cache's own need only be searchable (a 0711 home): O_PATH where there is one (Linux).
_PATH_FLAGS = _DIR_FLAGS | getattr(os, "O_PATH", 0)
_ENTRY_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0)
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW

# Per process: the cache directory's descriptor (None: no cache) once looked up, and a count of its files.
_cache: dict = {}


def _trusted_dir(st: os.stat_result, euid: int, private: bool) -> bool:
    """A cache directory (private: the user's alone) or one of its ancestors (no one else may write it; a sticky one,
    like /tmp, lets others add names but not replace ours, and the next step checks the name's owner)."""
    if not stat.S_ISDIR(st.st_mode):
        return False
    if private:
        return st.st_uid == euid and not st.st_mode & 0o077
    return st.st_uid in (0, euid) and (not st.st_mode & 0o022 or bool(st.st_mode & stat.S_ISVTX))


def _open_cache_dir():
    """A descriptor of the checked cache directory (creating what is missing from ``.cache`` on), or None."""
    if os.environ.get(CACHE_ENV, "").strip().lower() in _OFF or not sys.implementation.cache_tag:
        return None
    if not (_NOFOLLOW and _DIRECTORY and {os.open, os.mkdir, os.stat, os.rename} <= os.supports_dir_fd):
        return None
    import pwd  # noqa: PLC0415 - here, not at the top: a node without it just has no cache

    euid = os.geteuid()
    # The home as the password database names it, walked as it is: not realpath()-ed, which would follow symlinks
    # that no check below sees (one in a directory another user can write picks the tree to trust). A symlink on the
    # way fails the walk (O_NOFOLLOW): no cache. An empty or relative home (realpath: the cwd) means no cache too.
    # (So a home reached through a symlink, as /root -> var/roothome on some systems, gets no cache.)
    home = pwd.getpwuid(euid).pw_dir
    names = [name for name in home.split("/") if name not in ("", ".")]
    if not home.startswith("/") or ".." in names:
        return None
    names += [".cache", CACHE_DIR, sys.implementation.cache_tag]
    fd = os.open("/", _PATH_FLAGS)
    try:
        if not _trusted_dir(os.fstat(fd), euid, private=False):
            raise PermissionError("/")
        # Each step opens the next name relative to the directory just checked, refusing symlinks: nothing can be
        # swapped in between the check and the use.
        for index, name in enumerate(names):
            parent, fd = fd, -1
            try:
                create = index >= len(names) - 3 and not sys.dont_write_bytecode
                fd = _open_dir(name, parent, create, _DIR_FLAGS if index == len(names) - 1 else _PATH_FLAGS)
            finally:
                os.close(parent)
            if not _trusted_dir(os.fstat(fd), euid, private=index >= len(names) - 2):
                raise PermissionError(name)
        return fd
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise


def _open_dir(name: str, parent: int, create: bool, flags: int) -> int:
    try:
        return os.open(name, flags, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(name, 0o700, dir_fd=parent)
    except FileExistsError:  # another run made it meanwhile
        pass
    return os.open(name, flags, dir_fd=parent)


def _cache_dir():
    if "fd" not in _cache:
        _cache["fd"] = None
        try:
            _cache["fd"] = _open_cache_dir()
        except Exception:  # noqa: S110 - any failure means no cache, silently
            pass
    return _cache["fd"]


def _load(fd: int, key: bytes, filename: str):
    """(code, writable): the entry's code (None if there is none to use) and whether writing one is allowed."""
    try:
        entry = os.open(key.hex() + ".code", _ENTRY_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        return None, True
    try:  # fstat before fdopen: fdopen of a directory raises and leaves the descriptor open
        st = os.fstat(entry)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None, False  # not ours to read, nor to replace
        with os.fdopen(entry, "rb", closefd=False) as handle:
            data = handle.read(_MAX_ENTRY_SIZE)
        code = _decode(data, key)
        if code is not None and not sys.dont_write_bytecode and time.time() - st.st_mtime > _TOUCH_AFTER:
            _touch(entry)  # only a whole entry of ours (checked above), through the descriptor it was read from
    finally:
        os.close(entry)
    if code is None:
        return None, True
    # The code was compiled in another run's payload (another temporary directory): give it this run's file name,
    # as importlib does for a moved __pycache__ entry, so that tracebacks and coverage name the file they always did.
    import _imp  # noqa: PLC0415 - importlib's own helper, only needed on a cache hit

    _imp._fix_co_filename(code, filename)
    return code, False


def _decode(data: bytes, key: bytes):
    """The code an entry's bytes hold, or None when they are not a whole, undamaged entry for ``key``."""
    payload = memoryview(data)[_HEADER_SIZE:]
    header = _FORMAT + MAGIC_NUMBER + key + len(payload).to_bytes(8, "little")
    if data[: _HEADER_SIZE - 4] != header or data[_HEADER_SIZE - 4 : _HEADER_SIZE] != _crc(payload):
        return None
    try:
        code = marshal.loads(payload)  # noqa: S302 - our own file, checked above (owner, mode, key, length, CRC)
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _touch(entry: int) -> None:
    """Mark an entry used: set its mtime, which pruning goes by, to now."""
    if os.utime in os.supports_fd:  # futimens; without it the entry is only pruned a little early
        try:
            os.utime(entry)
        except OSError:  # a read-only or immutable file: the same
            pass


def _crc(payload) -> bytes:
    return zlib.crc32(payload).to_bytes(4, "little")


def _store(fd: int, key: bytes, code: types.CodeType) -> None:
    """Write an entry through a new private file renamed over the old one; prune the directory when it is full.

    Not files.replace_atomically: this module runs before any other part of the collection may be imported."""
    payload = marshal.dumps(code)
    data = _FORMAT + MAGIC_NUMBER + key + len(payload).to_bytes(8, "little") + _crc(payload) + payload
    temporary = "%s.%s.tmp" % (key.hex(), os.urandom(8).hex())
    with os.fdopen(os.open(temporary, _NEW_FLAGS, 0o600, dir_fd=fd), "wb") as handle:
        try:
            handle.write(data)
            handle.flush()
            os.replace(temporary, key.hex() + ".code", src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            os.unlink(temporary, dir_fd=fd)
            raise
    if "count" in _cache:
        _cache["count"] += 1
    else:  # the entry just written included
        _cache["count"] = sum(1 for name in os.listdir(fd) if _OWN_NAME.match(name))
    if _cache["count"] > _MAX_ENTRIES:
        _cache["count"] = _prune(fd)


def _prune(fd: int) -> int:
    """Remove the least recently used (oldest mtime) of the cache's own files down to _KEEP_ENTRIES; return how many
    are left."""
    euid, files = os.geteuid(), []
    for name in os.listdir(fd):
        if _OWN_NAME.match(name):
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_uid == euid:
                files.append((st.st_mtime_ns, name))
    files.sort()
    for _mtime, name in files[: max(0, len(files) - _KEEP_ENTRIES)]:
        try:
            os.unlink(name, dir_fd=fd)
        except OSError:
            pass
    return min(len(files), _KEEP_ENTRIES)


def _key(inner: str, source: bytes) -> bytes:
    # The optimization level too: -O compiles asserts out, and that code must not be served to a run without it.
    digest = hashlib.sha256(b"%s%d\0%s\0" % (MAGIC_NUMBER, sys.flags.optimize, inner.encode()))
    digest.update(source)
    return digest.digest()


def _compile(inner: str, source: bytes, filename: str) -> types.CodeType:
    """The code of ``source`` (``inner``, its name in the zip), from the cache when it holds it, else compiled."""
    fd, code, writable = _cache_dir(), None, False
    key = b""
    if fd is not None:
        try:
            key = _key(inner, source)
            code, writable = _load(fd, key, filename)
        except Exception:  # any failure: compile, and leave the entry alone
            code, writable = None, False
    if code is None:
        # As zipimport compiles it: the same file name, newlines and flags (none inherited from this module).
        code = compile(source.replace(b"\r\n", b"\n").replace(b"\r", b"\n"), filename, "exec", dont_inherit=True)
        if writable and not sys.dont_write_bytecode:
            try:
                _store(fd, key, code)
            except Exception:  # noqa: S110 - an unwritable cache is no cache, silently
                pass
    return code


class _CachingZipImporter(zipimport.zipimporter):
    """zipimport's loader with ``get_code`` served from the code cache; everything else (``get_source``,
    ``get_data``, resources, ``is_package``) is zipimport's own."""

    def get_code(self, fullname):
        inner = self.prefix + fullname.rpartition(".")[2]
        inner += "/__init__.py" if self.is_package(fullname) else ".py"
        try:
            source = self.get_data(inner)
        except OSError:  # no source (bytecode only): zipimport's own way
            return super().get_code(fullname)
        return _compile(inner, source, "%s/%s" % (self.archive, inner))


class _ZipFinder:
    """A ``sys.meta_path`` finder for the names SERVED in one zip; None for anything else.

    The spec it returns has the caching zipimport loader for the module's directory, so running the module compiles
    it once at most (``exec_module``, or ``load_module`` before Python 3.10, which bypasses the cache) and everything
    else a zip import offers stays as it was: ``get_source`` for tracebacks, ``get_data`` and resources, ``__file__``
    and ``__path__``. What it skips is the ``get_filename`` call that ``zipimporter.find_spec`` makes, which compiles
    the source only to return the name.
    """

    def __init__(self, archive: str) -> None:
        self._archive = archive

    def find_spec(self, fullname: str, path=None, target=None):
        if not fullname.startswith(SERVED) and fullname not in SERVED_PACKAGES:
            return None
        parent, _dot, last = fullname.rpartition(".")
        directory = parent.replace(".", "/")
        try:
            importer = _CachingZipImporter("%s/%s" % (self._archive, directory) if directory else self._archive)
            is_package = importer.is_package(fullname)  # looks the name up without compiling it
        except (OSError, ImportError):  # not in the zip (or the zip is gone): Python's own finders decide
            return None
        inner = "%s/%s" % (directory, last) if directory else last
        origin = "%s/%s" % (self._archive, inner + ("/__init__.py" if is_package else ".py"))
        spec = ModuleSpec(fullname, importer, origin=origin, is_package=is_package)
        spec.has_location = True
        if is_package:
            spec.submodule_search_locations = ["%s/%s" % (self._archive, inner)]
        return spec


def install() -> bool:
    """Put the finder first on ``sys.meta_path`` when this module came from a zip; True if it is (now) there."""
    loader = getattr(__spec__, "loader", None)
    if not isinstance(loader, zipimport.zipimporter):
        return False
    if not any(isinstance(finder, _ZipFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ZipFinder(loader.archive))
    return True


install()
