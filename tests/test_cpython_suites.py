"""CPython's own regression suites that look at processes and descriptors pass under
auditmon exactly as without it: run plainly, under ``auditmon run --headless`` and under
``auditmon env``'s settings (attach mode), the same tests fail (none, normally).

The agent's descriptors sit at or above the soft RLIMIT_NOFILE, where the scans of
``test_subprocess`` (``fd_status.py``, up to ``SC_OPEN_MAX``) never look.  Where that
limit cannot be raised for a moment (soft equals hard and no CAP_SYS_RESOURCE, as in
many containers), the agent keeps no socket: run mode's (tests/test_lone_agent.py) and
attach mode's until a monitor calls it (tests/test_attach.py).
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from helpers import attach_env, clean_env

pytestmark = pytest.mark.system

SUITES = ["test_subprocess", "test_fcntl", "test_pty", "test_selectors"]


def failed_tests(junit: Path) -> set[str]:
    """The ids of the failed and errored test cases in regrtest's JUnit XML."""
    tree = ElementTree.parse(junit)
    return {
        str(case.get("name"))
        for case in tree.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    }


def regrtest(tmp_path: Path, name: str, prefix: list[str], env: dict[str, str]) -> set[str]:
    junit = tmp_path / f"{name}.xml"
    command = [*prefix, sys.executable, "-m", "test", "--junit-xml", str(junit), *SUITES]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert junit.is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    return failed_tests(junit)


@pytest.fixture(scope="module")
def plain_failures(tmp_path_factory) -> set[str]:
    return regrtest(tmp_path_factory.mktemp("plain"), "plain", [], clean_env())


def test_under_auditmon_run(tmp_path, plain_failures):
    prefix = [sys.executable, "-m", "auditmon", "run", "--headless", "--"]
    under = regrtest(tmp_path, "run", prefix, clean_env())
    assert under == plain_failures


def test_under_auditmon_env(tmp_path, plain_failures):
    under = regrtest(tmp_path, "env", [], attach_env(tmp_path / "runtime"))
    assert under == plain_failures
