"""The agent's optional C fast path; everything else is declared in pyproject.toml.

``optional=True``: where nothing can be compiled the install still succeeds and the
agent runs its pure-Python hook.  The build records its source's SHA-256, so a test can
tell a stale extension (a failed rebuild leaves the old one in place) from a fresh one.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "agent/_auditmon_native.c"
DIGEST = hashlib.sha256((Path(__file__).parent / SOURCE).read_bytes()).hexdigest()

setup(
    ext_modules=[
        Extension(
            "auditmon._agent._auditmon_native",
            [SOURCE],
            define_macros=[("AUDITMON_SOURCE_SHA256", f'"{DIGEST}"')],
            # An undeclared function would only fail when a target imports the module.
            extra_compile_args=["-Werror=implicit-function-declaration"],
            optional=True,
        )
    ],
)
