"""The repository is ruff-clean: lint and format, with pyproject's settings.

Part of the quick loop (not a system test): ruff takes well under a second here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import ROOT, clean_env


@pytest.mark.parametrize(
    "command",
    [["check", "--no-fix"], ["format", "--check", "--diff"]],
    ids=["check", "format"],
)
def test_ruff_finds_nothing(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    assert result.returncode == 0, f"ruff {' '.join(command)}:\n{result.stdout}{result.stderr}"


def test_no_union_operator_is_evaluated_at_import():
    """Python 3.9, the oldest the package supports, has no ``X | Y`` of types: module
    code (a type alias, say) that evaluates one fails to import there, which ruff does
    not see (annotations are never evaluated: ``from __future__ import annotations``)."""
    import ast

    found = []
    for path in sorted((ROOT / "auditmon").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for statement in tree.body:
            if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is None:
                continue
            for node in ast.walk(statement.value):
                if isinstance(node, ast.Subscript) and any(
                    isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.BitOr)
                    for inner in ast.walk(node.slice)
                ):
                    found.append(f"{path.relative_to(ROOT)}:{statement.lineno}")
                    break
    assert found == []
