"""A plain (non-editable) install carries the agent: a fresh venv's `auditmon run` works."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile

import pytest
from helpers import ROOT, clean_env, events_of, read_jsonl

pytestmark = pytest.mark.system


def test_wheel_ships_the_agent_and_a_fresh_venv_runs_it(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    (wheel,) = dist.glob("auditmon-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for part in (
        "sitecustomize.py",
        "_auditmon_agent/core.py",
        "_auditmon_agent/wire.py",
        "_auditmon_agent/transport.py",
        "_auditmon_agent/attach.py",
        "_auditmon_agent/summarize.py",
    ):
        assert f"auditmon/_agent/{part}" in names
    assert "auditmon/ui/app.tcss" in names and "auditmon/data/catalog.json" in names
    assert "auditmon/rules/builtin/10-secrets.yaml" in names  # --rules default
    assert "sitecustomize.py" not in names  # nothing lands at site-packages' top level
    for extension in (
        "auditmon/_agent/_auditmon_native.",
        "auditmon/_agent/_auditmon_helper.abi3",
        "auditmon/record/_native_lines.",
    ):
        assert any(n.startswith(extension) and n.endswith(".so") for n in names), extension

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies come from our environment, without the network.
    ours = sysconfig.get_paths()["purelib"]
    with open(f"{site}/zz_deps.pth", "w") as pth:
        pth.write(ours + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import auditmon.agentpath as a; print(a.agent_dir())"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    ).stdout.strip()
    assert where.startswith(site) and where.endswith("auditmon/_agent")
    record = tmp_path / "rec.jsonl"
    result = subprocess.run(
        [
            str(env_dir / "bin" / "auditmon"),
            "run",
            "--record",
            str(record),
            "--",
            str(python),
            "-c",
            "open('/dev/null').close()",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    opens = [e for e in events_of(read_jsonl(record)) if e["event"] == "open"]
    assert any(e["args"][0] == "/dev/null" for e in opens)
    (process,) = [r for r in read_jsonl(record) if r["type"] == "process"]
    assert process["agent"] == "native"


def test_the_sdist_carries_every_c_source_the_build_compiles(tmp_path):
    """An install from the source distribution builds what one from the tree does: the
    preload and injection libraries' sources and the renderer's vendored parts (and
    their licence) are in it, not only the extensions' own files."""
    subprocess.run(
        [sys.executable, "-c",
         "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
         str(tmp_path)],
        cwd=ROOT, check=True, capture_output=True, env=clean_env(),
    )  # fmt: skip
    (sdist,) = tmp_path.glob("auditmon-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    wanted = {
        str(path.relative_to(ROOT))
        for folder in (
            "agent/native",
            "agent/preload",
            "agent/inject",
            "agent/helper",
            "auditmon/record/native",
        )
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert (
        "agent/preload/preload.c" in wanted and "auditmon/record/native/ryu/LICENSE-Boost" in wanted
    )
    assert sorted(wanted - names) == []
