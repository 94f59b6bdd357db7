"""pip's default, isolated build under ``auditmon run``: the build backend's processes,
where an sdist's own code runs, are monitored (pip replaces their PYTHONPATH; the preload
library brings the agent in all the same).

Real ``pip install``s into fresh venvs, with ``--no-index``: nothing leaves the machine.
One project has an in-tree build backend (it needs nothing installed in the build
environment); the other is a classic ``setup.py`` sdist, built with a setuptools wheel
from this machine's own package index (a ``file://`` index in pip's configuration).
"""

from __future__ import annotations

import tarfile
import textwrap
import venv
from pathlib import Path

import pytest
from helpers import clean_env, events_of, local_index_options_or_skip, read_jsonl, run_recorded

pytestmark = pytest.mark.system

BACKEND = textwrap.dedent(
    '''
    """A PEP 517 backend in the project itself: each hook raises demo.backend."""
    import base64, hashlib, os, sys, zipfile

    NAME, VERSION = "demo_backend_project", "1.0"
    METADATA = "Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (NAME, VERSION)
    DIST_INFO = "%s-%s.dist-info" % (NAME, VERSION)

    def get_requires_for_build_wheel(config_settings=None):
        sys.audit("demo.backend", "get_requires_for_build_wheel")
        return []

    def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
        sys.audit("demo.backend", "prepare_metadata_for_build_wheel")
        os.makedirs(os.path.join(metadata_directory, DIST_INFO))
        with open(os.path.join(metadata_directory, DIST_INFO, "METADATA"), "w") as f:
            f.write(METADATA)
        return DIST_INFO

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        sys.audit("demo.backend", "build_wheel")
        name = "%s-%s-py3-none-any.whl" % (NAME, VERSION)
        files = {
            "demo_backend_module.py": "VALUE = 1\\n",
            DIST_INFO + "/METADATA": METADATA,
            DIST_INFO + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: demo\\n"
            "Root-Is-Purelib: true\\nTag: py3-none-any\\n",
        }
        record = []
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as wheel:
            for path, text in files.items():
                data = text.encode()
                wheel.writestr(path, data)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
                record.append("%s,sha256=%s,%d" % (path, digest.rstrip(b"=").decode(), len(data)))
            record.append(DIST_INFO + "/RECORD,,")
            wheel.writestr(DIST_INFO + "/RECORD", "\\n".join(record) + "\\n")
        return name
    '''
)

PYPROJECT = textwrap.dedent(
    """
    [build-system]
    requires = []
    build-backend = "demo_backend"
    backend-path = ["."]
    """
)

SETUP_PY = textwrap.dedent(
    """
    import sys
    from setuptools import setup
    sys.audit("demo.setup_py", sys.argv[1:])
    setup(name="demo_setup_py_project", version="1.0", py_modules=["demo_setup_py_module"])
    """
)


def sdist(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    """A ``name-1.0.tar.gz`` holding ``files`` and a PKG-INFO, as an sdist does."""
    root = tmp_path / f"{name}-1.0"
    root.mkdir()
    files = dict(files, **{"PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"})
    for path, text in files.items():
        (root / path).write_text(text)
    archive = tmp_path / f"{name}-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname=root.name)
    return archive


def fresh_venv(tmp_path: Path) -> Path:
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    return target / "bin" / "python"


def backend_processes(records: list[dict], event: str) -> dict[str, dict]:
    """The process record behind each ``event``, by its first argument."""
    processes = {r["pid"]: r for r in records if r["type"] == "process"}
    return {
        str(e["args"][0]): processes[e["pid"]] for e in events_of(records) if e["event"] == event
    }


def pip_install(tmp_path: Path, python: Path, archive: Path, *options: str) -> list[dict]:
    record = tmp_path / "r.jsonl"
    result = run_recorded(
        record,
        str(python),
        "-m",
        "pip",
        "install",
        "--no-deps",
        *options,
        str(archive),
        env=clean_env(),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "not monitored" not in result.stderr
    return read_jsonl(record)


def test_the_build_backends_processes_of_an_isolated_build_are_monitored(tmp_path):
    archive = sdist(
        tmp_path, "demo_backend_project", {"demo_backend.py": BACKEND, "pyproject.toml": PYPROJECT}
    )
    records = pip_install(tmp_path, fresh_venv(tmp_path), archive, "--no-index")
    hooks = backend_processes(records, "demo.backend")
    assert sorted(hooks) == [
        "build_wheel",
        "get_requires_for_build_wheel",
        "prepare_metadata_for_build_wheel",
    ]
    pids = {p["pid"] for p in hooks.values()}
    assert len(pids) == 3  # pip runs each hook in a process of its own
    pip = next(r for r in records if r["type"] == "process" and "pip" in r["argv"])
    for hook, process in hooks.items():
        assert process["ppid"] == pip["pid"], hook
        assert "PYTHONPATH" not in " ".join(process["argv"])
    assert not [r for r in records if r["type"] == "process" and r.get("monitored") is False]


def test_a_setup_py_sdist_built_in_isolation_is_monitored(tmp_path):
    index = local_index_options_or_skip()
    archive = sdist(
        tmp_path,
        "demo_setup_py_project",
        {"setup.py": SETUP_PY, "demo_setup_py_module.py": "X = 1\n"},
    )
    records = pip_install(tmp_path, fresh_venv(tmp_path), archive, *index)
    processes = {r["pid"]: r for r in records if r["type"] == "process"}
    setup_runs = [e for e in events_of(records) if e["event"] == "demo.setup_py"]
    # setuptools' backend runs setup.py in get_requires, prepare_metadata and build_wheel
    runners = {e["pid"] for e in setup_runs}
    assert len(runners) >= 3, [processes[p]["argv"] for p in runners]
    monitored = set(processes)
    for pid in runners:
        assert processes[pid]["ppid"] in monitored
