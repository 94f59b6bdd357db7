"""The monitor's layers, as the data flows: import-linter's contracts (pyproject.toml),
and the pure layers importable in a bare interpreter without what they must not use."""

from __future__ import annotations

import subprocess
import sys

from helpers import AGENT_DIR, ROOT, clean_env

LINT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from importlinter.cli import lint_imports_command; "
    "sys.argv[1:] = ['--no-cache']; lint_imports_command()"
)


def test_the_import_contracts_are_kept():
    """Layers one way, nothing below the UI draws, the model does no I/O, the agent never
    imports auditmon.  (The agent's directory goes on sys.path by hand: on PYTHONPATH,
    its sitecustomize would take it off again.)"""
    result = subprocess.run(
        [sys.executable, "-c", LINT, str(AGENT_DIR)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_model_and_views_load_without_io_or_drawing():
    code = (
        "import sys, auditmon.model, auditmon.views.snapshot, auditmon.views.detail; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'textual', 'rich', 'socket', 'selectors', 'subprocess', 'psutil'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=clean_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_every_package_of_the_monitor_is_shipped():
    """pyproject.toml lists the packages by hand (the agent's directory is mapped in as
    auditmon._agent): a package left off would be missing from a wheel."""
    text = (ROOT / "pyproject.toml").read_text()
    listing = text[text.index("packages = [") : text.index("]", text.index("packages = ["))]
    listed = {line.strip().strip('",') for line in listing.splitlines()[1:]}
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "auditmon").rglob("__init__.py")
    }
    assert found - listed == set(), "packages missing from pyproject.toml"
