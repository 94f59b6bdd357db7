"""Bringing the agent into a CPython 3.14+ process by its own remote execution
(``sys.remote_exec``, PEP 768): no debugger, and nothing stopped.

The target's own interpreter binary asks the target to run a small script (below) at
its main thread's next safe point, as it runs a signal handler.  The script removes
itself, takes the claim this monitor left beside it, and starts the agent as the
injection library's thread does (``_auditmon_bootstrap.inject``).  A main thread that
sleeps or waits in a call runs it only when it wakes: after ``REACH`` the monitor takes
the claim back (the script, when it runs, then does nothing at all) and a debugger can
do it instead.  The script stays in the runtime directory until the process runs it or
ends (``<pid>.<token>.remote``: the agent's rendezvous clears those of ended processes),
as the interpreter would print a missing one's error to the target's stderr.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import time
from pathlib import Path

from auditmon.protocol import agent_constants as _agent

#: How long a main thread has to run the script before a debugger is asked to.
REACH = 1.0

#: What the target runs: every failure kept inside it (an exception that escaped would be
#: printed to the target's stderr).
_SCRIPT = """\
def _auditmon_remote(script, claim, agent_dir, settings, outcome):
    import posix
    try:
        posix.unlink(script)
    except OSError:
        pass
    try:
        posix.rename(claim, claim + ".taken")  # else the monitor gave up, or took over
    except OSError:
        return
    try:
        import _frozen_importlib_external

        name = "_auditmon_bootstrap"
        path = agent_dir + "/" + name + ".py"
        code = _frozen_importlib_external.SourceFileLoader(name, path).get_code(name)
        names = {"__builtins__": __builtins__, "__name__": name, "__file__": path}
        exec(code, names)
        names["inject"](agent_dir, settings, outcome)
    except BaseException as error:
        try:
            fd = posix.open(outcome, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL, 0o600)
            posix.write(fd, ("error: %s: %s\\n" % (type(error).__name__, error)).encode())
            posix.close(fd)
        except BaseException:
            pass

"""

#: Run by the target's own executable, the caller of ``sys.remote_exec`` (its version
#: must be the target's).
_CALLER = """\
import sys
remote_exec = getattr(sys, "remote_exec", None)
if remote_exec is None:
    sys.exit(3)
try:
    remote_exec(int(sys.argv[1]), sys.argv[2])
except Exception as error:
    print("%s: %s" % (type(error).__name__, error))
    sys.exit(4)
"""


class RemoteDisabled(Exception):
    """The process turned remote debugging off: no way in is to be forced."""


class Pending:
    """A script handed to a process, until it runs it or the monitor takes it back."""

    def __init__(self, pid: int, runtime_dir: Path, claim: Path) -> None:
        self.claim = claim
        token = secrets.token_hex(4)
        self.script = runtime_dir / f"{pid}.{token}{_agent.ATTACH_REMOTE}"

    def taken(self) -> bool:
        return not self.claim.exists()

    def take_back(self) -> bool:
        """True where the script will now do nothing; False where it has started."""
        try:
            self.claim.unlink()
        except FileNotFoundError:
            return False
        return True


def script_text(pending: Pending, agent_dir: Path, settings: dict[str, str], outcome: Path) -> str:
    """The script that starts the agent from ``agent_dir`` with ``settings`` and writes
    how it went to ``outcome``, if ``pending``'s claim is still there when it runs."""
    lines = "".join(f"{k}={v}\n" for k, v in settings.items())
    arguments = (str(pending.script), str(pending.claim), str(agent_dir), lines, str(outcome))
    return f"{_SCRIPT}\n\n_auditmon_remote(*{arguments!r})\n"


def hand_over(
    pid: int,
    runtime_dir: Path,
    scratch: Path,
    settings: dict[str, str],
    outcome: Path,
    agent_dir: Path,
    timeout: float = 30.0,
) -> Pending | str:
    """Ask ``pid`` to run the agent's start: its Pending, or why it could not be asked
    (``unsupported``: not a 3.14+; another sentence: the call failed).  Raise
    RemoteDisabled where the process forbids it."""
    try:
        executable = os.readlink(f"/proc/{pid}/exe")
    except OSError as error:
        return f"its executable cannot be read ({error.strerror})"
    if executable.endswith(" (deleted)") or not os.access(executable, os.X_OK):
        return f"its executable {executable} cannot be run"
    unsafe = _private(runtime_dir)
    if unsafe is not None:
        return unsafe
    claim = scratch / "claim"
    claim.write_bytes(b"")
    pending = Pending(pid, runtime_dir, claim)
    fd = os.open(pending.script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(script_text(pending, agent_dir, settings, outcome))
    try:
        result = subprocess.run(
            [executable, "-I", "-S", "-c", _CALLER, str(pid), str(pending.script)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        # It may have asked: the script stays (a missing one would be reported on the
        # target's stderr), and does nothing when it runs.
        claim.unlink(missing_ok=True)
        return f"{executable} did not finish asking it"
    except OSError as error:
        said = f"{executable} could not ask it ({error})"
    else:
        if result.returncode == 0:
            return pending
        said = "unsupported" if result.returncode == 3 else _last_line(result)
    pending.script.unlink(missing_ok=True)
    claim.unlink(missing_ok=True)
    if "Remote debugging is not enabled" in said:
        raise RemoteDisabled(said)
    return said


def wait_until_taken(pending: Pending, reach: float = REACH) -> bool:
    """Whether the process ran the script within ``reach`` seconds; where it did not,
    the script is taken back (it will do nothing) unless it started meanwhile."""
    deadline = time.monotonic() + reach
    while time.monotonic() < deadline:
        if pending.taken():
            return True
        time.sleep(0.01)
    return not pending.take_back()


def _private(directory: Path) -> str | None:
    """Why ``directory`` (made 0700 where missing) can't hold the script, or None."""
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(directory)
    except OSError as error:
        return f"{directory}: {error.strerror}"
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return f"{directory} is not a directory of this user's alone"
    return None


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    text = (result.stdout.strip() or result.stderr.strip() or "no output").splitlines()
    return text[-1]
