"""The agent's optional C fast path; everything else is declared in pyproject.toml.

``optional=True``: where nothing can be compiled the install still succeeds and the
agent runs its pure-Python hook.  The extension is one translation unit,
``agent/native/module.c``, which includes the other parts of ``agent/native/``; the
build records the SHA-256 of all of them (``sources_digest``), so a test can tell a stale
extension (a failed rebuild leaves the old one in place) from a fresh one; the same for
the pure-Python agent's C helper.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NATIVE = "agent/native"  # relative: setuptools wants the sources so
PRELOAD = "agent/preload/preload.c"  # includes the other parts of agent/preload/
PRELOAD_LIBRARY = "auditmon-preload.so"  # constants.py's PRELOAD_LIBRARY
INJECT = "agent/inject/inject.c"
INJECT_LIBRARY = "auditmon-inject.so"  # constants.py's INJECT_LIBRARY
PARTS = sorted(
    p.name for p in (Path(__file__).parent / NATIVE).iterdir() if p.suffix in (".c", ".h")
)
# the pure-Python agent's C helper and the headers it includes (tests/test_helper.py's)
HELPER_PARTS = ["agent/helper/helper.c", f"{NATIVE}/constants.h", f"{NATIVE}/placement.h"]


def sources_digest(named):
    """SHA-256 over each file's name and bytes, for ``(name, path)`` pairs in their order
    (tests/test_native.py and tests/test_helper.py compute the same)."""
    digest = hashlib.sha256()
    for name, path in named:
        data = (Path(__file__).parent / path).read_bytes()
        digest.update(name.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


class BuildWithPreload(build_ext):
    """Also build the preload library (agent/preload/) and the injection library
    (agent/inject/), plain shared libraries that are no Python modules: beside the
    extension, in the agent's directory.  Optional like the extension: where the first
    can't be built, ``auditmon run`` goes without it (and says which children it then
    cannot reach); without the second, ``auditmon attach`` reaches only processes
    started with the agent."""

    def run(self) -> None:
        super().run()
        target = Path(self.get_ext_fullpath("auditmon._agent._auditmon_native")).parent
        self.library(PRELOAD, target / PRELOAD_LIBRARY)
        self.library(INJECT, target / INJECT_LIBRARY, extra=("pthread",))

    def library(self, main: str, output: Path, extra: tuple[str, ...] = ()) -> None:
        sources = [
            Path(main),
            *Path(main).parent.glob("*.[ch]"),
            *Path(PRELOAD).parent.glob("*.h"),
            Path(NATIVE) / "constants.h",
        ]
        if not self.force and output.exists():
            built = output.stat().st_mtime
            if all(source.stat().st_mtime <= built for source in sources):
                return
        try:
            objects = self.compiler.compile(
                [main],
                output_dir=self.build_temp,
                extra_postargs=[
                    "-fPIC",
                    "-fvisibility=hidden",
                    "-O2",
                    "-Werror=implicit-function-declaration",
                ],
            )
            self.compiler.link_shared_object(objects, str(output), libraries=["dl", *extra])
        except Exception as error:  # noqa: BLE001 -- optional, as the extension
            self.warn(f"{output.name} was not built: {error}")


NATIVE_DIGEST = sources_digest((name, f"{NATIVE}/{name}") for name in PARTS)
HELPER_DIGEST = sources_digest((path, path) for path in HELPER_PARTS)

setup(
    cmdclass={"build_ext": BuildWithPreload},
    ext_modules=[
        Extension(
            "auditmon._agent._auditmon_native",
            [f"{NATIVE}/module.c"],
            # The parts module.c includes: a change to any of them rebuilds it.
            depends=[f"{NATIVE}/{name}" for name in PARTS if name != "module.c"],
            define_macros=[("AUDITMON_SOURCE_SHA256", f'"{NATIVE_DIGEST}"')],
            # An undeclared function would only fail when a target imports the module.
            extra_compile_args=["-Werror=implicit-function-declaration"],
            optional=True,
        ),
        # The pure-Python agent's parts in C (its ring's writer, its socket's place),
        # built once for every CPython 3.8+ (the stable ABI): the agent does the same in
        # Python where it cannot be built.
        Extension(
            "auditmon._agent._auditmon_helper",
            ["agent/helper/helper.c"],
            depends=HELPER_PARTS[1:],
            define_macros=[("AUDITMON_SOURCE_SHA256", f'"{HELPER_DIGEST}"')],
            py_limited_api=True,
            extra_compile_args=["-Werror=implicit-function-declaration", "-fvisibility=hidden"],
            optional=True,
        ),
        # JSON Lines from the wire's bytes (auditmon/record/jsonl.py); the Python path
        # writes the same lines where it cannot be built.
        Extension(
            "auditmon.record._native_lines",
            ["auditmon/record/native/lines.c"],
            include_dirs=["auditmon/record/native"],  # (ryu/, as Ryu includes it)
            depends=[
                f"{NATIVE}/constants.h",
                *(str(p) for p in Path("auditmon/record/native/ryu").glob("*.[ch]")),
            ],
            # (Ryu's own entry points stay inside: only PyInit is the module's)
            extra_compile_args=["-Werror=implicit-function-declaration", "-fvisibility=hidden"],
            optional=True,
        ),
    ],
)
