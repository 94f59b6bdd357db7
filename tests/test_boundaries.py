"""Layer boundaries: the agent is stdlib-only 3.8 code; the model and ingest never need Textual."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import AGENT_DIR, ROOT, clean_env, facts_of

AGENT_FILES = sorted(AGENT_DIR.rglob("*.py"))
STDLIB = set(sys.stdlib_module_names) | {"_frozen_importlib", "_frozen_importlib_external"}
AGENT_OWN = {"_auditmon_agent", "_auditmon_native"}  # its package and its C extension


def imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name.split(".")[0], 0
        elif isinstance(node, ast.ImportFrom):
            yield node, (node.module or "").split(".")[0], node.level


def guarded_by_import_error(tree: ast.AST, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(target in ast.walk(stmt) for stmt in node.body):
            for handler in node.handlers:
                if isinstance(handler.type, ast.Name) and handler.type.id == "ImportError":
                    return True
    return False


# What setuptools' build_py would put in a wheel, read from the packaging configuration
# by setuptools itself (nothing is built or written).
SHIPPED_MODULES = """
import json
from setuptools.dist import Distribution
dist = Distribution({"script_name": "setup.py"})
dist.parse_config_files()
build_py = dist.get_command_obj("build_py")
build_py.ensure_finalized()
print(json.dumps([[package, path] for package, _, path in build_py.find_all_modules()]))
"""


def shipped_agent_files() -> list[Path]:
    """The agent's Python files that the installed package ships (as auditmon/_agent)."""
    result = subprocess.run(
        [sys.executable, "-c", SHIPPED_MODULES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout)
    return sorted(ROOT / path for package, path in modules if package.startswith("auditmon._agent"))


def test_the_agent_files_checked_here_are_the_files_the_package_ships():
    """The checks below read every .py file under agent/: that must be exactly what the
    package ships to targets, so no shipped module escapes them (a subpackage missing
    from pyproject's package list would not ship at all) and none checked is left out."""
    shipped = shipped_agent_files()
    assert {"sitecustomize.py", "core.py", "wire.py"} <= {p.name for p in shipped}
    assert shipped == AGENT_FILES


def test_the_agent_imports_only_the_standard_library():
    for path in AGENT_FILES:
        tree = ast.parse(path.read_text(), str(path))
        for node, module, level in imports(tree):
            if level or module in STDLIB or module in AGENT_OWN:
                continue
            assert module == "msgpack" and guarded_by_import_error(tree, node), (
                f"{path.relative_to(ROOT)} imports {module!r}"
            )


def test_the_agent_is_python_38_syntax():
    for path in AGENT_FILES:
        ast.parse(path.read_text(), str(path), feature_version=(3, 8))


def test_model_ingest_and_catalog_never_import_textual():
    code = (
        "import sys, auditmon.model, auditmon.ingest, auditmon.record, auditmon.protocol, "
        "auditmon.catalog, auditmon.views.snapshot, auditmon.model.filtering, "
        "auditmon.monitor.headless; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    )
    loaded = eval(result.stdout)  # a printed list of module names
    assert not [m for m in loaded if m.startswith("textual")], loaded


@pytest.mark.system
@pytest.mark.parametrize("kind", ["native", "python"])
def test_the_agent_starts_in_a_bare_interpreter(no_msgpack_python, tmp_path, kind):
    """Attach mode is started by the agent's Python package (run mode may start in C
    without it): under an interpreter with nothing installed it loads, listens, and
    hands over to the interpreter's own sitecustomize."""
    code = (
        "import os, sys, sitecustomize\n"
        "print(sitecustomize.__file__)\n"
        "print(any('agent' == p.rstrip('/').split('/')[-1] for p in sys.path))\n"
        "print('_auditmon_agent.core' in sys.modules, '_auditmon_agent.attach' in sys.modules)\n"
        # the target waits for its own socket: it runs without our helpers
        "import time\n"
        "sock = os.path.join(os.environ['AUDITMON_RUNTIME_DIR'], '%d.sock' % os.getpid())\n"
        "deadline = time.monotonic() + 10\n"
        "while not os.path.exists(sock) and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"  # the writer thread listens
        "print(os.path.exists(sock))\n"
    )
    runtime = tmp_path / "rt"
    result = subprocess.run(
        [no_msgpack_python, "-c", code],
        capture_output=True,
        text=True,
        env=clean_env(
            PYTHONPATH=str(AGENT_DIR),
            AUDITMON_MODE="attach",
            AUDITMON_RUNTIME_DIR=str(runtime),
            AUDITMON_AGENT=kind,
            AUDITMON_DEBUG="1",
        ),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    first, agent_on_path, core, attach, listening = result.stdout.split()
    own = facts_of(no_msgpack_python).sitecustomize
    if own is not None:  # Debian's python3 has its own, which the agent ran in its place
        assert first != str(AGENT_DIR / "sitecustomize.py")
        assert first == own
    assert agent_on_path == "False"
    assert (core, attach, listening) == ("True", "True", "True")
