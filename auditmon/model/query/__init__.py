"""The expression language shared by the live filter (``/``) and rule conditions.

``parse_query(text, catalog)`` gives a ``Query``: ``decide(subject)`` answers True,
False or None (the subject lacks what the answer depends on), ``holds(subject)`` only
True or False.  See ``syntax`` for the grammar, ``fields`` (and ``derived``) for what
can be asked, ``names`` for macros and lists, ``output`` for ``%field`` texts.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field

from auditmon.catalog import Catalog
from auditmon.model.query import derived_fields  # noqa: F401  (registers the rules' fields)
from auditmon.model.query.compile import CompileError, Test, compile_tree
from auditmon.model.query.fields import UNKNOWN, Subject, resolve
from auditmon.model.query.names import Definitions, UnknownName, expand
from auditmon.model.query.syntax import (
    AllOf,
    AnyOf,
    Condition,
    Glob,
    Named,
    Node,
    Not,
    QuerySyntaxError,
    parse_tree,
)

__all__ = [
    "UNKNOWN",
    "Definitions",
    "Query",
    "QueryError",
    "Subject",
    "event_patterns",
    "parse_query",
    "query_from_tree",
]


class QueryError(ValueError):
    """An expression that cannot be used: ``reason`` and the ``column`` it starts at."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.column = column


def _everything(subject: Subject) -> bool:
    return True


@dataclass(frozen=True, eq=False)
class Query:
    """A compiled expression; equal to another with the same text."""

    text: str = ""
    tree: Node | None = None
    test: Test = _everything
    needs: frozenset[str] = frozenset()
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return self.tree is None

    def decide(self, subject: Subject) -> bool | None:
        return self.test(subject)

    def holds(self, subject: Subject) -> bool:
        return self.test(subject) is True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def parse_query(text: str, catalog: Catalog, names: Definitions | None = None) -> Query:
    """Compile ``text``, with the macros and lists of ``names``; QueryError says what is
    wrong and where."""
    try:
        tree = parse_tree(text)
    except QuerySyntaxError as error:
        raise QueryError(error.reason, error.column) from None
    if tree is None:
        return Query(text.strip())
    if names is not None:
        tree = expand_names(tree, names, catalog)
    return query_from_tree(text, tree, catalog)


def expand_names(tree: Node, names: Definitions, catalog: Catalog) -> Node:
    """``tree`` with ``names``' macros and lists in place (QueryError for an unknown
    macro where ``names.strict``)."""
    try:
        return expand(tree, names, catalog)
    except UnknownName as error:
        raise QueryError(error.reason, error.column) from None


def query_from_tree(text: str, tree: Node, catalog: Catalog) -> Query:
    """Compile a tree (parsed, or built: a rule's exceptions); QueryError if it asks for
    what does not exist."""
    try:
        test, needs = compile_tree(tree, catalog)
    except CompileError as error:
        raise QueryError(error.reason, error.column) from None
    return Query(text.strip(), tree, test, needs, tuple(_notes(tree, catalog)))


def _notes(tree: Node, catalog: Catalog) -> Iterator[str]:
    """Hints that are not errors: an event glob that names nothing the catalog knows
    (a program's own events are unknown to it, so it may still match)."""
    for node in _walk(tree):
        if isinstance(node, Glob):
            for pattern in node.patterns:
                if not catalog.match(pattern) and pattern not in catalog:
                    yield f"no known event matches {pattern!r}"


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, (AllOf, AnyOf)):
        for term in node.terms:
            yield from _walk(term)
    elif isinstance(node, (Not, Named)):
        yield from _walk(node.term)


def event_patterns(tree: Node | None, catalog: Catalog | None = None) -> tuple[str, ...] | None:
    """Event-name globs every match must satisfy, where the expression says so at its
    top (``open and ...``, ``event in (a, b) and ...``, or, given the catalog, a
    condition on a field only some events carry: ``file.read pmatch (...)``); None when
    any event might match."""
    if tree is None:
        return None
    if isinstance(tree, Glob):
        return tree.patterns
    if isinstance(tree, Named):
        return event_patterns(tree.term, catalog)
    if isinstance(tree, Condition):
        return _condition_patterns(tree, catalog)
    if isinstance(tree, AllOf):
        found_any: list[tuple[str, ...]] = []
        for term in tree.terms:
            found = event_patterns(term, catalog)
            if found is not None:
                found_any.append(found)
        if found_any:
            return min(found_any, key=len)
    if isinstance(tree, AnyOf):
        branches = [event_patterns(term, catalog) for term in tree.terms]
        if all(b is not None for b in branches):
            return tuple(dict.fromkeys(p for b in branches for p in b))  # type: ignore[union-attr]
    return None


def _condition_patterns(tree: Condition, catalog: Catalog | None) -> tuple[str, ...] | None:
    if tree.field in ("event", "name", "evt.name"):
        if tree.op in ("=", "=="):
            return (str(tree.value),)
        if tree.op == "in" and isinstance(tree.value, tuple):
            return tree.value
        if tree.op == "glob" and isinstance(tree.value, str):
            return (tree.value,)
        return None
    if catalog is None:
        return None
    try:
        field = resolve(tree.field, catalog)
    except KeyError:
        return None
    # A field an event does not carry makes every comparison false, ``exists`` too.
    return tuple(sorted(field.events)) if field.events is not None else None


def matches_name(patterns: tuple[str, ...], name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)
