"""Names an expression may use besides fields: macros (a named condition, used as a bare
word: ``open_read and file.read pmatch (secret_files)``) and lists (named values, used
inside a value list or as one: ``spawn.name in (shells, busybox)``), as in Falco's rule
files.  ``expand`` replaces them in a parsed tree; ``~`` at the start of a value becomes
the home directory given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from auditmon.catalog import Catalog
from auditmon.model.query.syntax import AllOf, AnyOf, Condition, Glob, Named, Node, Not

_GLOB_CHARS = frozenset("*?[")


class UnknownName(ValueError):
    """A name that is neither a macro nor an event (strict expressions only)."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.column = column


@dataclass(frozen=True)
class Definitions:
    """What names mean: ``lists`` (their items, nested lists already expanded),
    ``macros`` (their trees, already expanded), ``home`` (what ``~`` stands for).
    ``strict``: a bare word that is not a macro, an event the catalog knows, a dotted
    name or a glob is an error ("unknown macro"), as a rule file wants; the live filter
    takes any word as an event glob."""

    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    macros: Mapping[str, Node] = field(default_factory=dict)
    home: str | None = None
    strict: bool = False


def references(tree: Node, names: Mapping[str, object]) -> Iterator[tuple[str, int]]:
    """(name, column) of each bare word in ``tree`` that is one of ``names``."""
    if isinstance(tree, Glob):
        for pattern, column in zip(tree.patterns, tree.where()):
            if pattern in names:
                yield pattern, column
    elif isinstance(tree, (AllOf, AnyOf)):
        for term in tree.terms:
            yield from references(term, names)
    elif isinstance(tree, (Not, Named)):
        yield from references(tree.term, names)


def expand(tree: Node, names: Definitions, catalog: Catalog) -> Node:
    """``tree`` with macros and lists replaced; UnknownName for an unknown bare word
    where ``names.strict``."""
    if isinstance(tree, Glob):
        return _glob(tree, names, catalog)
    if isinstance(tree, AllOf):
        return AllOf(tuple(expand(t, names, catalog) for t in tree.terms))
    if isinstance(tree, AnyOf):
        return AnyOf(tuple(expand(t, names, catalog) for t in tree.terms))
    if isinstance(tree, Not):
        return Not(expand(tree.term, names, catalog))
    if isinstance(tree, Named):
        return tree  # a macro's own tree, expanded already
    return _condition(tree, names)


def _glob(tree: Glob, names: Definitions, catalog: Catalog) -> Node:
    kept: list[tuple[str, int]] = []
    macros: list[Node] = []
    for pattern, column in zip(tree.patterns, tree.where()):
        macro = names.macros.get(pattern)
        if macro is not None:
            macros.append(Named(pattern, macro))
            continue
        if names.strict and not _event_like(pattern, catalog):
            raise UnknownName(f"unknown macro {pattern!r} (nor an event name)", column)
        kept.append((pattern, column))
    if not macros:
        return tree
    terms = list(macros)
    if kept:
        terms.insert(0, Glob(tuple(p for p, _ in kept), kept[0][1], tuple(c for _, c in kept)))
    return terms[0] if len(terms) == 1 else AnyOf(tuple(terms))


def _event_like(word: str, catalog: Catalog) -> bool:
    """An event name or glob: the catalog knows it, or it has a dot (a library's own
    ``mylib.login``) or glob characters."""
    return word in catalog or "." in word or not _GLOB_CHARS.isdisjoint(word)


def _condition(tree: Condition, names: Definitions) -> Condition:
    value = tree.value
    if value is None:
        return tree
    if isinstance(value, tuple):
        items: list[str] = []
        for item in value:
            items.extend(names.lists.get(item, (item,)))
        homed = tuple(_home(item, names.home) for item in items)
        return Condition(tree.field, tree.op, homed, tree.column)
    if value in names.lists and tree.op not in ("=", "==", "!=", "<", "<=", ">", ">=", "&"):
        homed = tuple(_home(item, names.home) for item in names.lists[value])
        return Condition(tree.field, tree.op, homed, tree.column)
    expanded = _home(value, names.home)
    return tree if expanded == value else Condition(tree.field, tree.op, expanded, tree.column)


def _home(value: str, home: str | None) -> str:
    """``~`` and ``~/…`` against ``home``."""
    if home is None or not value.startswith("~"):
        return value
    if value == "~":
        return home
    if value.startswith("~/"):
        return home.rstrip("/") + value[1:]
    return value
