"""The expression language shared by the live filter (``/``) and rule conditions.

``parse_query(text, catalog)`` gives a ``Query``: ``decide(subject)`` answers True,
False or None (the subject lacks what the answer depends on), ``holds(subject)`` only
True or False.  See ``syntax`` for the grammar and ``fields`` for what can be asked.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field

from auditmon.catalog import Catalog
from auditmon.model.query.compile import CompileError, Test, compile_tree
from auditmon.model.query.fields import UNKNOWN, Subject
from auditmon.model.query.syntax import (
    AllOf,
    AnyOf,
    Condition,
    Glob,
    Node,
    Not,
    QuerySyntaxError,
    parse_tree,
)

__all__ = ["UNKNOWN", "Query", "QueryError", "Subject", "parse_query"]


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


def parse_query(text: str, catalog: Catalog) -> Query:
    """Compile ``text``; QueryError says what is wrong and where."""
    try:
        tree = parse_tree(text)
    except QuerySyntaxError as error:
        raise QueryError(error.reason, error.column) from None
    if tree is None:
        return Query(text.strip())
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
    elif isinstance(node, Not):
        yield from _walk(node.term)


def event_patterns(tree: Node | None) -> tuple[str, ...] | None:
    """Event-name globs every match must satisfy, where the expression says so at its
    top (``open and ...``, ``event in (a, b) and ...``); None when any event might match."""
    if tree is None:
        return None
    if isinstance(tree, Glob):
        return tree.patterns
    if isinstance(tree, Condition) and tree.field in ("event", "name", "evt.name"):
        if tree.op in ("=", "=="):
            return (str(tree.value),)
        if tree.op == "in" and isinstance(tree.value, tuple):
            return tree.value
        if tree.op == "glob" and isinstance(tree.value, str):
            return (tree.value,)
    if isinstance(tree, AllOf):
        for term in tree.terms:
            found = event_patterns(term)
            if found is not None:
                return found
    if isinstance(tree, AnyOf):
        branches = [event_patterns(term) for term in tree.terms]
        if all(b is not None for b in branches):
            return tuple(p for b in branches for p in b)  # type: ignore[union-attr]
    return None


def matches_name(patterns: tuple[str, ...], name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)
