"""Turning an expression's tree into a test of a ``Subject``, checked once up front.

The test answers True, False or None: None when the subject lacks what the answer
depends on (a group of events judged before their arguments are looked at).  ``and``,
``or`` and ``not`` follow Kleene's three-valued logic, so a group is decided whole
wherever it can be, and otherwise each distinct argument list is.

A field that is missing from an event (an argument it does not have) makes every
comparison false, as in Falco; ``not`` turns that around.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from auditmon.catalog import Catalog
from auditmon.model.query.fields import CATEGORY_NAMES, UNKNOWN, Field, Subject, resolve
from auditmon.model.query.syntax import AllOf, AnyOf, Condition, Glob, Named, Node, Not

Test = Callable[[Subject], "bool | None"]

_NUMERIC = frozenset(
    {
        "pid",
        "ppid",
        "thread",
        "proc.age",
        "proc.pid",
        "proc.ppid",
        "net.port",
        "evt.seq",
        "seq",
        "frame.line",
        "stack.line",
    }
)
#: Operators that take one text, or a list of them meaning "any of them".
_TEXT_OPERATORS = frozenset(
    {"~", "contains", "icontains", "startswith", "endswith", "glob", "iglob", "regex"}
)


class CompileError(ValueError):
    """A well-formed expression that asks for something that does not exist."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(f"{reason} (column {column})")
        self.reason = reason
        self.column = column


def compile_tree(tree: Node, catalog: Catalog) -> tuple[Test, frozenset[str]]:
    """The test for ``tree`` and what it needs of a subject ("args", "time")."""
    needs: set[str] = set()
    return _compile(tree, catalog, needs), frozenset(needs)


def _compile(node: Node, catalog: Catalog, needs: set[str]) -> Test:
    if isinstance(node, Glob):
        patterns = node.patterns
        return lambda s: any(fnmatch.fnmatchcase(s.name, p) for p in patterns)
    if isinstance(node, Not):
        inner = _compile(node.term, catalog, needs)

        def negated(s: Subject) -> bool | None:
            result = inner(s)
            return None if result is None else not result

        return negated
    if isinstance(node, Named):
        return _remembered("macro " + node.name, _compile(node.term, catalog, needs))
    if isinstance(node, AllOf):
        return _all_of([_compile(t, catalog, needs) for t in _flat(node, AllOf)])
    if isinstance(node, AnyOf):
        return _any_of([_compile(t, catalog, needs) for t in _flat(node, AnyOf)])
    return _condition(node, catalog, needs)


def _flat(node: AllOf | AnyOf, kind: type) -> list[Node]:
    """The terms of nested ``and``s (or ``or``s) as one list: fewer calls per event."""
    found: list[Node] = []
    for term in node.terms:
        found.extend(_flat(term, kind) if isinstance(term, kind) else [term])  # type: ignore[arg-type]
    return found


_NOT_YET = object()


def _remembered(key: str, test: Test) -> Test:
    """A macro's test, judged once per subject that keeps a memo (a rule engine's)."""

    def remembered(s: Subject) -> bool | None:
        memo = s.memo
        if memo is None:
            return test(s)
        found = memo.get(key, _NOT_YET)
        if found is _NOT_YET:
            found = memo[key] = test(s)
        return found  # type: ignore[return-value]

    return remembered


def _all_of(terms: list[Test]) -> Test:
    """Kleene's and: False as soon as a term is, None if a term was unknown."""
    terms = tuple(terms)

    def all_of(subject: Subject) -> bool | None:
        unknown = False
        for term in terms:
            result = term(subject)
            if result is False:
                return False
            if result is None:
                unknown = True
        return None if unknown else True

    return all_of


def _any_of(terms: list[Test]) -> Test:
    """Kleene's or: True as soon as a term is, None if a term was unknown."""
    terms = tuple(terms)

    def any_of(subject: Subject) -> bool | None:
        unknown = False
        for term in terms:
            result = term(subject)
            if result is True:
                return True
            if result is None:
                unknown = True
        return None if unknown else False

    return any_of


def _condition(node: Condition, catalog: Catalog, needs: set[str]) -> Test:
    try:
        field = resolve(node.field, catalog)
    except KeyError as error:
        raise CompileError(str(error.args[0]), node.column) from None
    if field.needs:
        needs.add(field.needs)
    compare = _comparison(node, field, catalog)
    read = field.read
    if not field.listed:

        def test(s: Subject) -> bool | None:
            value = read(s)
            return None if value is UNKNOWN else compare(value)

        return test
    # On a list (argv, or a value's text and its readable form), != holds when no item
    # equals; every other operator when any item matches.
    every = node.op == "!="

    def test_items(s: Subject) -> bool | None:
        value = read(s)
        if value is UNKNOWN:
            return None
        if value is None:
            return compare(value)
        for item in value:
            if compare(item) is not every:
                return not every
        return every

    return test_items


def _comparison(node: Condition, field: Field, catalog: Catalog) -> Callable[[Any], bool]:
    """``value -> bool`` for the condition's operator and operand, checked now."""
    op, operand, column = node.op, node.value, node.column
    if op == "exists":
        return lambda v: v is not None
    if node.field in CATEGORY_NAMES:
        operand = _categories(operand, catalog, column)
    elif field.ordered:
        operand = _levels(operand, field, column)
    elif node.field in _NUMERIC:
        operand = _numbers(operand, node, column)
    if op in ("in", "pmatch"):
        if not isinstance(operand, tuple):
            operand = (operand,)
        if op == "pmatch":
            return _pmatch(tuple(p.rstrip("/") for p in operand))
        choices = frozenset(operand)
        return lambda v: v is not None and _plain(v) in choices
    if op == "&":
        if isinstance(operand, tuple):
            raise CompileError("'&' takes one number, not a list", column)
        bits = _bits(str(operand), node, column)
        return lambda v: v is not None and bool(_integer(v) & bits)
    if isinstance(operand, tuple) and op in _TEXT_OPERATORS:
        test = _any_text_test(op, tuple(str(o) for o in operand), column)
        return lambda v: v is not None and test(v if type(v) is str else str(v))
    if isinstance(operand, tuple):
        raise CompileError(f"{op!r} takes one value, not a list", column)
    if op in ("=", "=="):
        return lambda v: v is not None and _plain(v) == operand
    if op == "!=":
        return lambda v: v is not None and _plain(v) != operand
    if op in ("<", "<=", ">", ">="):
        return _ordering(op, operand, field, node, column)
    if op in _TEXT_OPERATORS:
        test = _text_test(op, str(operand), column)
        return lambda v: v is not None and test(str(v))
    raise CompileError(f"unknown operator {op!r}", column)


def _any_text_test(op: str, texts: tuple[str, ...], column: int) -> Callable[[str], bool]:
    """``text -> bool``: the operator holds for any of ``texts`` (one call where the
    operator allows: a prefix tuple, one regular expression for globs)."""
    if op == "startswith":
        return lambda v: v.startswith(texts)
    if op == "endswith":
        return lambda v: v.endswith(texts)
    if op in ("glob", "iglob"):
        folded = op == "iglob"
        joined = "|".join(f"(?:{fnmatch.translate(t.casefold() if folded else t)})" for t in texts)
        match = re.compile(joined).match
        return (
            (lambda v: match(v.casefold()) is not None)
            if folded
            else (lambda v: match(v) is not None)
        )
    tests = [_text_test(op, t, column) for t in texts]
    return lambda v: any(t(v) for t in tests)


def _text_test(op: str, text: str, column: int) -> Callable[[str], bool]:
    """``text -> bool`` for a text operator and one operand."""
    if op in ("~", "contains"):
        return lambda v: text in v
    if op == "icontains":
        folded = text.casefold()
        return lambda v: folded in v.casefold()
    if op == "startswith":
        return lambda v: v.startswith(text)
    if op == "endswith":
        return lambda v: v.endswith(text)
    if op == "glob":
        match = re.compile(fnmatch.translate(text)).match
        return lambda v: match(v) is not None
    if op == "iglob":
        match = re.compile(fnmatch.translate(text.casefold())).match
        return lambda v: match(v.casefold()) is not None
    try:
        pattern = re.compile(text)
    except re.error as error:
        raise CompileError(f"bad regular expression {text!r}: {error}", column) from None
    return lambda v: pattern.search(v) is not None


def _bits(text: str, node: Condition, column: int) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise CompileError(
            f"'&' needs a number (0o6000, 0x800, 2048), not {text!r}", column
        ) from None


def _integer(value: Any) -> int:
    """An argument's value as a number, from its text (``33261``) or readable form
    (``0o100755``); 0 where it is none."""
    if type(value) is int:
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        return 0


def _plain(value: Any) -> Any:
    """Numbers stay numbers; anything else compares as its text."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _pmatch(prefixes: tuple[str, ...]) -> Callable[[Any], bool]:
    """``pmatch``: the path is one of the prefixes or lies below one (an empty prefix,
    ``/`` stripped, holds for any path)."""
    if "" in prefixes:
        return lambda v: v is not None
    exact = frozenset(prefixes)
    below = tuple(p + "/" for p in prefixes)

    def test(v: Any) -> bool:
        if v is None:
            return False
        path = v if type(v) is str else str(v)
        return path in exact or path.startswith(below)

    return test


def _ordering(
    op: str, operand: Any, field: Field, node: Condition, column: int
) -> Callable[[Any], bool]:
    if field.ordered:
        ranks = {level: i for i, level in enumerate(field.ordered)}
        bound = ranks[operand]

        def key(v: Any) -> Any:
            return ranks.get(v)

    else:
        if not isinstance(operand, (int, float)):
            operand = _number(str(operand), node, column)
        bound = operand

        def key(v: Any) -> Any:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return v
            try:
                return float(v)
            except (TypeError, ValueError):
                return None

    compare = {
        "<": lambda a: a < bound,
        "<=": lambda a: a <= bound,
        ">": lambda a: a > bound,
        ">=": lambda a: a >= bound,
    }[op]

    def test(v: Any) -> bool:
        k = key(v) if v is not None else None
        return k is not None and compare(k)

    return test


def _levels(operand: Any, field: Field, column: int) -> Any:
    names = operand if isinstance(operand, tuple) else (operand,)
    for name in names:
        if name not in field.ordered:
            raise CompileError(
                f"{field.name} is one of {', '.join(field.ordered)}, not {name!r}", column
            )
    return operand


def _numbers(operand: Any, node: Condition, column: int) -> Any:
    if isinstance(operand, tuple):
        return tuple(_number(v, node, column) for v in operand)
    return _number(operand, node, column)


def _number(text: str, node: Condition, column: int) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise CompileError(
            f"{node.field} needs a number: {node.field}=123, not {text!r}", column
        ) from None


def _categories(operand: Any, catalog: Catalog, column: int) -> Any:
    if isinstance(operand, tuple):
        return tuple(category_named(v, catalog, column) for v in operand)
    return category_named(operand, catalog, column)


def category_named(text: str, catalog: Catalog, column: int = 1) -> str:
    """A category by its name or title, in any case, or a prefix of one that names
    just one category (``files``, ``Network``, ``net``)."""
    wanted = text.casefold()
    categories = catalog.categories()
    for category in categories:
        if wanted in (category.name.casefold(), category.title.casefold()):
            return category.name
    starting = {
        c.name
        for c in categories
        if wanted
        and (c.name.casefold().startswith(wanted) or c.title.casefold().startswith(wanted))
    }
    if len(starting) == 1:
        return starting.pop()
    known = ", ".join(sorted(c.name for c in categories))
    if starting:
        raise CompileError(
            f"category {text!r} could be any of {', '.join(sorted(starting))}", column
        )
    raise CompileError(f"unknown category {text!r} (one of: {known})", column)
