"""Loading rule files: ``default`` (the built-in set, shipped in ``builtin/``) or paths,
later files changing the items of earlier ones."""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from auditmon.catalog import Catalog, load_catalog
from auditmon.rules.compiler import RuleSet, compile_items
from auditmon.rules.items import Items, read_items
from auditmon.rules.source import load_file

DEFAULT = "default"


def builtin_files() -> list[Path]:
    """The built-in rule files, in the order they load (by name)."""
    folder = resources.files("auditmon.rules").joinpath("builtin")
    return sorted(
        (Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".yaml")),
        key=lambda path: path.name,
    )


def expand_specs(specs: Sequence[str]) -> list[str]:
    """File paths for ``--rules`` values: ``default`` is the built-in files."""
    paths: list[str] = []
    for spec in specs:
        if spec == DEFAULT:
            paths.extend(str(path) for path in builtin_files())
        else:
            paths.append(spec)
    return paths


def home_directory() -> str | None:
    """What ``~`` means in rules: this monitor's home ($HOME).  A target started by
    ``auditmon run`` inherits it; see the README for processes with another home."""
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return home if home and home != "~" else None


def load_rules(
    specs: Sequence[str], catalog: Catalog | None = None, home: str | None = None
) -> RuleSet:
    """Read and compile the rule files ``specs`` name (RuleFileError on the first
    problem, naming its file, line and column)."""
    catalog = catalog or load_catalog()
    items = Items()
    files = expand_specs(specs)
    for path in files:
        for item, entry in read_items(load_file(path), path):
            items.add(item, entry)
    return compile_items(
        items, tuple(files), catalog, home if home is not None else home_directory()
    )
