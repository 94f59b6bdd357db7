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
