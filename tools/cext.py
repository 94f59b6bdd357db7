"""Compile a C extension that is one translation unit for a given interpreter, with that
interpreter's own headers and file suffix: how the tests build the agent's extension
(``agent/native/module.c``, which includes the other parts beside it) for other CPythons
and the benchmark its C hook that only counts.  (pip builds the agent's extension for
the installing interpreter through setup.py; this is for the interpreters it doesn't.)
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path


def c_compiler() -> str | None:
    """The C compiler on PATH, or None."""
    return shutil.which("cc") or shutil.which("gcc")


def compile_extension(
    python: str, source: Path, directory: Path, name: str, flags: Sequence[str] = ()
) -> Path:
    """``directory/<name><EXT_SUFFIX>`` built from ``source`` (and what it includes from
    its own directory) for ``python``.

    FileNotFoundError where there is no compiler or ``python`` has no headers;
    CalledProcessError (with the compiler's output) where the build fails."""
    include, suffix = subprocess.run(
        [
            python,
            "-c",
            "import sysconfig as s; print(s.get_paths()['include']); "
            "print(s.get_config_var('EXT_SUFFIX'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    compiler = c_compiler()
    if compiler is None:
        raise FileNotFoundError("no C compiler on PATH")
    if not Path(include, "Python.h").exists():
        raise FileNotFoundError(f"no Python.h for {python} in {include}")
    built = directory / f"{name}{suffix}"
    subprocess.run(
        [
            compiler,
            "-shared",
            "-fPIC",
            "-O2",
            *flags,
            f"-I{include}",
            str(source),
            "-o",
            str(built),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return built
