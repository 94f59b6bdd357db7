"""The agent's optional C fast path; everything else is declared in pyproject.toml.

``optional=True``: where nothing can be compiled the install still succeeds and the
agent runs its pure-Python hook.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "auditmon._agent._auditmon_native",
            ["agent/_auditmon_native.c"],
            # An undeclared function would only fail when a target imports the module.
            extra_compile_args=["-Werror=implicit-function-declaration"],
            optional=True,
        )
    ]
)
