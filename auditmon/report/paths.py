"""Paths shown relative to what they are, so that two runs of the same work read the same:
``<stdlib>``, ``<site-packages>``, ``<venv>``, ``<tmp>``, ``<cwd>`` and ``~``.

The roots come from the recording itself (see docs/report-schema.md, "Paths"):

* ``<stdlib>``: the ``sys.path`` entries of the interpreters' own library (``…/lib/
  pythonX.Y``, its ``lib-dynload``, ``…/pythonXY.zip``), as ``import`` events carry them;
* ``<site-packages>``: ``sys.path`` entries named ``site-packages`` or ``dist-packages``;
* ``<venv>``: the directory above the ``bin`` of a process's executable, unless it is an
  interpreter's own prefix (the one its ``<stdlib>`` is in) or ``/usr``, ``/usr/local``;
* ``<tmp>``: each temporary directory or file the run made: ``tempfile.mkdtemp`` and
  ``mkstemp``'s, what it made (``os.mkdir``, an exclusive create) directly in a temporary
  directory (``/tmp``, ``/var/tmp``, ``/dev/shm`` or one the run made), and names of the
  usual temporary forms there (``tmp…``, pip's ``pip-build-env-…`` and kin);
* ``<cwd>``: the working directory of the first process (the command auditmon ran);
* ``~``: ``/root`` and ``/home/NAME`` (the usual homes; the agent does not send HOME).

The longest root that contains a path names it: ``<cwd>`` under ``/tmp`` stays ``<cwd>``,
a venv made in the working directory is ``<venv>``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

STDLIB, SITE, VENV, TMP, CWD, HOME = "<stdlib>", "<site-packages>", "<venv>", "<tmp>", "<cwd>", "~"
TEMP_ROOTS = ("/tmp", "/var/tmp", "/dev/shm")
SYSTEM_PREFIXES = frozenset({"/", "/usr", "/usr/local"})
_TEMP_NAME = re.compile(
    r"tmp[A-Za-z0-9_.-]{6,}"  # tempfile's tmpXXXXXXXX, mktemp's tmp.XXXXXXXXXX
    r"|pip-[a-z-]+-[a-z0-9_]{8}"  # pip-build-env-…, pip-req-build-…, pip-unpack-…
)
_STDLIB_DIR = re.compile(r"/lib/python\d+\.\d+[a-z]*$")
_STDLIB_ZIP = re.compile(r"/python\d+\.zip$")
_HOME = re.compile(r"^(/root|/home/[^/]+)(?=/|$)")
# An atomic write's temporary (importlib writes FILE.pyc.<id>, then renames it).
_ATOMIC_SUFFIX = re.compile(r"(\.[A-Za-z0-9]+)\.\d{6,}$")
# A random name in a temporary directory: 32 or more hex digits (pip makes such names).
_HEX_NAME = re.compile(r"/[0-9a-f]{32,}(?=/|$)")
_EPHEMERAL_PORTS = range(32768, 61000)  # Linux's default ip_local_port_range


def is_ephemeral(port: object) -> bool:
    """A port the system hands out for the asking (which differs from run to run)."""
    return type(port) is int and port in _EPHEMERAL_PORTS


def port_key(port: object) -> str:
    return "<port>" if is_ephemeral(port) else str(port)


@dataclass(frozen=True)
class Root:
    label: str
    path: str


class RootsFinder:
    """Gathers what says where things are while a recording is read."""

    def __init__(self) -> None:
        self.cwd: str | None = None
        self.executables: set[str] = set()
        self.stdlib: set[str] = set()
        self.site: set[str] = set()
        self.temp_dirs: set[str] = set(TEMP_ROOTS)
        self.temps: set[str] = set()
        self.made: set[str] = set()  # made with mkdir or an exclusive create
        self._seen_paths: set[int] = set()

    def process(self, executable: str, cwd: str | None) -> None:
        if self.cwd is None and cwd:
            self.cwd = posixpath.normpath(cwd)
        if executable.startswith("/"):
            self.executables.add(executable)

    def sys_path(self, entries: object) -> None:
        """An ``import`` event's ``sys.path`` (each distinct list is looked at once)."""
        if type(entries) not in (list, tuple):
            return
        key = hash(tuple(e for e in entries if type(e) is str))
        if key in self._seen_paths:
            return
        self._seen_paths.add(key)
        for entry in entries:
            if type(entry) is not str or not entry.startswith("/"):
                continue
            entry = posixpath.normpath(entry)
            name = posixpath.basename(entry)
            if name in ("site-packages", "dist-packages"):
                self.site.add(entry)
            elif _STDLIB_DIR.search(entry) or _STDLIB_ZIP.search(entry):
                self.stdlib.add(entry)
            elif name == "lib-dynload" and _STDLIB_DIR.search(posixpath.dirname(entry)):
                self.stdlib.add(posixpath.dirname(entry))

    def temp(self, path: str) -> None:
        """A temporary file or directory the run made (``tempfile.mk*temp``)."""
        path = posixpath.normpath(path)
        self.temps.add(path)
        self.temp_dirs.add(posixpath.dirname(path))

    def made_here(self, path: str) -> None:
        """A file or directory the run made; temporary if made in a temporary directory."""
        self.made.add(posixpath.normpath(path))

    def roots(self) -> Roots:
        roots: list[Root] = [Root(STDLIB, p) for p in self.stdlib]
        roots += [Root(SITE, p) for p in self.site]
        prefixes = {_prefix_of(p) for p in self.stdlib}
        for executable in self.executables:
            bin_dir = posixpath.dirname(executable)
            if posixpath.basename(bin_dir) != "bin":
                continue
            venv = posixpath.dirname(bin_dir)
            if venv not in prefixes and venv not in SYSTEM_PREFIXES:
                roots.append(Root(VENV, venv))
        temps = set(self.temps)
        for path in self.made:
            if posixpath.dirname(path) in self.temp_dirs:
                temps.add(path)
        roots += [Root(TMP, p) for p in temps]
        if self.cwd and self.cwd != "/":
            roots.append(Root(CWD, self.cwd))
        return Roots(roots, self.temp_dirs)


class Roots:
    """Names paths by the longest root that holds them (see the module's docstring)."""

    def __init__(self, roots: Iterable[Root], temp_dirs: Iterable[str] = TEMP_ROOTS) -> None:
        # Longest first; on a tie, the first label in the order given.
        self.roots = sorted(
            {r.path: r for r in reversed(list(roots))}.values(), key=lambda r: -len(r.path)
        )
        self.temp_dirs = frozenset(temp_dirs)
        self._by_path = {r.path: r.label for r in self.roots}
        self._cache: dict[str, str] = {}
        pattern = "|".join(re.escape(r.path) for r in self.roots if r.path != "/")
        self._in_text = re.compile(f"(?:{pattern})(?=/|$|[^\\w.-])") if pattern else None

    def path(self, path: str, cwd: str | None = None) -> str:
        """``path`` (relative ones against ``cwd``) named by its root."""
        if not path:
            return path
        if not path.startswith("/"):
            if cwd is None:
                return path
            path = posixpath.join(cwd, path)
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        shown = _ATOMIC_SUFFIX.sub(r"\1.<n>", self._name(posixpath.normpath(path)))
        if shown.startswith(TMP):
            shown = _HEX_NAME.sub("/<hex>", shown)
        if len(self._cache) < 200_000:
            self._cache[path] = shown
        return shown

    def _name(self, path: str) -> str:
        probe = path
        while True:
            label = self._by_path.get(probe)
            if label is not None:
                rest = path[len(probe) :]
                return label + rest
            parent = posixpath.dirname(probe)
            if parent == probe:
                break
            if parent in self.temp_dirs and _TEMP_NAME.fullmatch(posixpath.basename(probe)):
                return TMP + path[len(probe) :]
            probe = parent
        home = _HOME.match(path)
        if home:
            return HOME + path[home.end() :]
        return path

    def text(self, text: str) -> str:
        """``text`` with every root's path in it named (for command lines, code, URLs)."""
        if self._in_text is None or "/" not in text:
            return _homes_in(text)
        return _homes_in(self._in_text.sub(lambda m: self._by_path[m.group(0)], text))

    def listing(self) -> list[dict[str, str]]:
        return [{"label": r.label, "path": r.path} for r in sorted(self.roots, key=_order)]


def _homes_in(text: str) -> str:
    return re.sub(r"(?<![\w.-])(/root|/home/[^/\s'\"]+)(?=/|$|[\s'\"])", HOME, text)


def _prefix_of(stdlib: str) -> str:
    """``/usr`` for ``/usr/lib/python3.11`` or ``/usr/lib/python311.zip``."""
    return posixpath.dirname(posixpath.dirname(stdlib))


def _order(root: Root) -> tuple[int, str]:
    order = (STDLIB, SITE, VENV, TMP, CWD, HOME)
    return (order.index(root.label) if root.label in order else 9, root.path)
