"""Layer boundaries: the agent is stdlib-only 3.8 code; the model and ingest never need Textual."""

from __future__ import annotations

import ast
import subprocess
import sys

from conftest import AGENT_DIR, ROOT, SYSTEM_PYTHON, clean_env

AGENT_FILES = sorted(AGENT_DIR.rglob("*.py"))
STDLIB = set(sys.stdlib_module_names) | {"_frozen_importlib", "_frozen_importlib_external"}


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


def test_agent_files_exist():
    names = {p.name for p in AGENT_FILES}
    assert {"sitecustomize.py", "core.py", "wire.py", "transport.py", "summarize.py"} <= names


def test_the_agent_imports_only_the_standard_library():
    for path in AGENT_FILES:
        tree = ast.parse(path.read_text(), str(path))
        for node, module, level in imports(tree):
            if level or module in STDLIB or module == "_auditmon_agent":
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
        "auditmon.catalog, auditmon.snapshot, auditmon.filtering, auditmon.headless; "
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


def test_the_agent_loads_in_a_bare_interpreter(no_msgpack_python):
    code = (
        "import sys, sitecustomize, _auditmon_agent.core, _auditmon_agent.transport; "
        "print(sitecustomize.__file__); print(any('agent' == p.rstrip('/').split('/')[-1] "
        "for p in sys.path))"
    )
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", code],
        capture_output=True,
        text=True,
        env=clean_env(PYTHONPATH=str(AGENT_DIR)),
    )
    assert result.returncode == 0, result.stderr
    # Debian's python3 has its own sitecustomize, which the agent ran in its place
    first, agent_on_path = result.stdout.split()
    assert first != str(AGENT_DIR / "sitecustomize.py")
    assert agent_on_path == "False"
