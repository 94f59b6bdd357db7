"""CPython's own regression suites that look at processes and descriptors pass under
auditmon exactly as without it: run plainly, under ``auditmon run --headless`` and under
``auditmon env``'s settings (attach mode), the same tests fail (none, normally).

The agent's descriptors sit at or above the soft RLIMIT_NOFILE, where the scans of
``test_subprocess`` (``fd_status.py``, up to ``SC_OPEN_MAX``) never look.  Where that
limit cannot be raised for a moment (soft equals hard and no CAP_SYS_RESOURCE, as in
many containers), run mode's agent keeps no socket (tests/test_lone_agent.py), but
attach mode's listener sits under the limit, and ``test_pass_fds_redirected``, whose
child lists its own descriptors, sees it: the README's known limit, and the one
difference allowed, there only.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from helpers import attach_env, clean_env

from auditmon.protocol import agent_constants as _agent

pytestmark = pytest.mark.system

SUITES = ["test_subprocess", "test_fcntl", "test_pty", "test_selectors"]


def agent_socket_above_the_limit() -> bool:
    """Whether the agent's descriptors go at or above the soft limit here (the rule of
    out_of_the_way in the agent's transport.py)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if not 0 <= soft <= _agent.FD_HIGHEST:
        return False
    raised = max(soft, _agent.FD_FLOOR) + _agent.FD_ROOM
    if hard == resource.RLIM_INFINITY or hard >= raised:
        return True
    code = f"import resource as r; r.setrlimit(r.RLIMIT_NOFILE, ({raised}, {raised}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


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


def allowed_differences() -> set[str]:
    if agent_socket_above_the_limit():
        return set()
    return {"test.test_subprocess.POSIXProcessTestCase.test_pass_fds_redirected"}


def test_under_auditmon_run(tmp_path, plain_failures):
    prefix = [sys.executable, "-m", "auditmon", "run", "--headless", "--"]
    under = regrtest(tmp_path, "run", prefix, clean_env())
    assert under == plain_failures


def test_under_auditmon_env(tmp_path, plain_failures):
    under = regrtest(tmp_path, "env", [], attach_env(tmp_path / "runtime"))
    assert under ^ plain_failures <= allowed_differences(), (under, plain_failures)
