"""Paths named by what they are: home, venv, site-packages, stdlib, temporary names and
the working directory, the longest root winning; ports and URLs for keys."""

from __future__ import annotations

from auditmon.report.paths import Root, Roots, RootsFinder, is_ephemeral, port_key

PYTHON = "/opt/python/3.11"
SYS_PATH = [
    "/work/app",
    f"{PYTHON}/lib/python311.zip",
    f"{PYTHON}/lib/python3.11",
    f"{PYTHON}/lib/python3.11/lib-dynload",
    "/work/app/.venv/lib/python3.11/site-packages",
]


def roots() -> Roots:
    finder = RootsFinder()
    finder.process("/work/app/.venv/bin/python", "/work/app")
    finder.process(f"{PYTHON}/bin/python3.11", "/work/app")  # an interpreter, not a venv
    finder.sys_path(SYS_PATH)
    finder.temp("/tmp/tmpab12_xyz")  # tempfile.mkdtemp
    finder.made_here("/tmp/k3j2h1g0")  # an exclusive create directly in /tmp
    finder.made_here("/work/app/build")  # made, but not in a temporary directory
    return finder.roots()


def test_the_standard_library_site_packages_and_the_venv():
    named = roots()
    assert named.path(f"{PYTHON}/lib/python3.11/json/__init__.py") == "<stdlib>/json/__init__.py"
    assert named.path(f"{PYTHON}/lib/python3.11/lib-dynload/_json.so") == (
        "<stdlib>/lib-dynload/_json.so"
    )
    assert named.path(f"{PYTHON}/bin/python3.11") == f"{PYTHON}/bin/python3.11"  # no venv
    site = "/work/app/.venv/lib/python3.11/site-packages"
    assert named.path(f"{site}/requests/api.py") == "<site-packages>/requests/api.py"
    assert named.path("/work/app/.venv/bin/pip") == "<venv>/bin/pip"  # venv inside cwd


def test_the_working_directory_and_relative_paths():
    named = roots()
    assert named.path("/work/app/data/in.csv") == "<cwd>/data/in.csv"
    assert named.path("data/in.csv", "/work/app") == "<cwd>/data/in.csv"
    assert named.path("../other/x", "/work/app") == "/work/other/x"
    assert named.path("/work/app") == "<cwd>"
    assert named.path("/work/application") == "/work/application"  # a prefix, not a parent


def test_temporary_names_the_run_made_and_the_usual_forms():
    named = roots()
    assert named.path("/tmp/tmpab12_xyz/settings.json") == "<tmp>/settings.json"
    assert named.path("/tmp/k3j2h1g0") == "<tmp>"
    assert named.path("/tmp/pip-build-env-a1b2c3d4/overlay/bin") == "<tmp>/overlay/bin"
    assert named.path("/tmp/tmp.Xa81kQ2ZbC/x") == "<tmp>/x"  # mktemp's form
    assert named.path("/tmp/settings") == "/tmp/settings"  # not made by the run
    assert named.path("/work/app/build/lib") == "<cwd>/build/lib"  # not in a temp dir
    hexname = "753f2892d3e188c998e7c961ddc5d94fb2efd9ef68268048d4dc4fab"
    assert named.path(f"/tmp/tmpab12_xyz/{hexname}") == "<tmp>/<hex>"
    pyc = "/work/app/.venv/lib/python3.11/site-packages/m/__pycache__/m.cpython-311.pyc"
    assert named.path(pyc + ".140501733045376") == (
        "<site-packages>/m/__pycache__/m.cpython-311.pyc.<n>"
    )


def test_homes():
    named = roots()
    assert named.path("/home/ana/.ssh/id_rsa") == "~/.ssh/id_rsa"
    assert named.path("/root/.cache/pip") == "~/.cache/pip"
    assert named.text("cat /home/ana/.netrc") == "cat ~/.netrc"


def test_the_longest_root_names_a_path():
    named = Roots([Root("<tmp>", "/tmp/pytest-1"), Root("<cwd>", "/tmp/pytest-1/test0")])
    assert named.path("/tmp/pytest-1/test0/out") == "<cwd>/out"
    assert named.path("/tmp/pytest-1/other") == "<tmp>/other"


def test_paths_inside_text_are_named():
    named = roots()
    line = "/work/app/.venv/bin/python -c 'open(\"/work/app/x\")' --out=/tmp/tmpab12_xyz/o"
    assert named.text(line) == "<venv>/bin/python -c 'open(\"<cwd>/x\")' --out=<tmp>/o"
    assert named.text("/work/apple") == "/work/apple"


def test_ephemeral_ports():
    assert is_ephemeral(45043) and port_key(45043) == "<port>"
    assert not is_ephemeral(443) and port_key(443) == "443"
    assert port_key(0) == "0" and not is_ephemeral("45043")
