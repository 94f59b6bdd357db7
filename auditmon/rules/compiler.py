"""Turning the items of rule files into compiled rules, once, before anything runs:
lists expanded (nested ones too), macros expanded by reference (a cycle is an error),
every condition, exception and output checked against the fields that exist.  Any
error is a ``RuleFileError`` naming the file, line and column."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from auditmon.catalog import Catalog
from auditmon.model.priority import priority_named
from auditmon.model.query import (
    Definitions,
    Query,
    QueryError,
    event_patterns,
    expand_names,
    query_from_tree,
)
from auditmon.model.query.fields import resolve
from auditmon.model.query.names import references
from auditmon.model.query.output import Output, OutputError, parse_output
from auditmon.model.query.syntax import (
    WORD_OPERATORS,
    AllOf,
    AnyOf,
    Condition,
    Node,
    Not,
    QuerySyntaxError,
    parse_tree,
)
from auditmon.rules.items import Exception_, Item, Items, Text
from auditmon.rules.source import Located, Place

_COMPARATORS = WORD_OPERATORS - {"exists"} | {"=", "==", "!=", "<", "<=", ">", ">=", "~", "&"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True)
class Rule:
    """A compiled rule.  A plain rule has one step; a sequence rule several, which must
    hold in order within ``within`` seconds in one process, the alert raised by the
    last.  ``patterns`` (per step) are the event globs a step can match (None: any)."""

    name: str
    desc: str
    priority: str
    tags: tuple[str, ...]
    enabled: bool
    steps: tuple[Query, ...]
    patterns: tuple[tuple[str, ...] | None, ...]
    output: Output
    place: Place
    within: float | None = None
    sequence: bool = False  # more than one step


@dataclass(frozen=True)
class RuleSet:
    """The rules, lists and macros of the files loaded, in order."""

    rules: tuple[Rule, ...]
    lists: Mapping[str, tuple[str, ...]]
    macros: Mapping[str, Node]
    files: tuple[str, ...]
    catalog: Catalog

    @property
    def enabled(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    def watched_events(self) -> tuple[str, ...]:
        """The event globs the enabled rules look at (rules that may match any event are
        left out: see ``unindexed``)."""
        found: dict[str, None] = {}
        for rule in self.enabled:
            for patterns in rule.patterns:
                for pattern in patterns or ():
                    found[pattern] = None
        return tuple(found)

    def unindexed(self) -> tuple[Rule, ...]:
        """Enabled rules with a step that names no event: run for every event."""
        return tuple(r for r in self.enabled if any(p is None for p in r.patterns))


def compile_items(
    items: Items, files: tuple[str, ...], catalog: Catalog, home: str | None
) -> RuleSet:
    """Compile every item (RuleFileError for the first problem)."""
    lists = _lists(items)
    macros = _macros(items, lists, catalog, home)
    names = Definitions(lists, macros, home, strict=True)
    rules = tuple(_rule(item, names, catalog) for item in items.of_kind("rule"))
    return RuleSet(rules, lists, macros, files, catalog)


def _lists(items: Items) -> dict[str, tuple[str, ...]]:
    raw: dict[str, Item] = {item.name: item for item in items.of_kind("list")}
    done: dict[str, tuple[str, ...]] = {}

    def resolve_list(item: Item, chain: tuple[str, ...]) -> tuple[str, ...]:
        if item.name in done:
            return done[item.name]
        entries = item.get("items")
        if entries is None or not isinstance(entries.value, list):
            raise item.place.error(f"list {item.name!r} needs items: [...]")
        found: list[str] = []
        for entry in entries.value:
            if isinstance(entry.value, (list, dict)) or entry.value is None:
                raise entry.error("a list item is a single value")
            value = str(entry.value) if not isinstance(entry.value, bool) else str(entry.value)
            nested = raw.get(value)
            if nested is not None:
                if value in chain:
                    cycle = " -> ".join((*chain, value))
                    raise entry.error(f"lists refer to each other in a cycle: {cycle}")
                found.extend(resolve_list(nested, (*chain, value)))
            else:
                found.append(value)
        done[item.name] = tuple(found)
        return done[item.name]

    for item in raw.values():
        resolve_list(item, (item.name,))
    return done


def _macros(
    items: Items, lists: dict[str, tuple[str, ...]], catalog: Catalog, home: str | None
) -> dict[str, Node]:
    raw = {item.name: item for item in items.of_kind("macro")}
    trees: dict[str, Node] = {}
    for item in raw.values():
        text = item.get("condition")
        if text is None:
            raise item.place.error(f"macro {item.name!r} needs a condition")
        trees[item.name] = _parse(text)
    done: dict[str, Node] = {}

    def expand_macro(name: str, chain: tuple[str, ...]) -> Node:
        if name in done:
            return done[name]
        item = raw[name]
        text = item.get("condition")
        for used, column in references(trees[name], raw):
            if used in chain:
                cycle = " -> ".join((*chain, used))
                raise text.where(column).error(f"macros refer to each other in a cycle: {cycle}")
            expand_macro(used, (*chain, used))
        names = Definitions(lists, done, home, strict=True)
        done[name] = _checked(text, trees[name], names, catalog)
        return done[name]

    for name in raw:
        expand_macro(name, (name,))
    return done


def _parse(text: Text) -> Node:
    try:
        tree = parse_tree(text.text)
    except QuerySyntaxError as error:
        raise text.where(error.column).error(error.reason) from None
    if tree is None:
        raise text.where(1).error("the condition is empty")
    return tree


def _checked(
    text: Text, tree: Node, names: Definitions, catalog: Catalog, built: Place | None = None
) -> Node:
    """``tree`` with names expanded, compiled once to find unknown fields and values.
    Nodes built from YAML (exceptions: column 0) report at ``built``."""
    try:
        expanded = expand_names(tree, names, catalog)
        query_from_tree(text.text, expanded, catalog)
    except QueryError as error:
        if error.column == 0 and built is not None:
            raise built.error(error.reason) from None
        raise text.where(error.column).error(error.reason) from None
    return expanded


def _rule(item: Item, names: Definitions, catalog: Catalog) -> Rule:
    for key in ("desc", "output", "priority"):
        if item.get(key) is None:
            raise item.place.error(f"rule {item.name!r} needs {key}:")
    source = item.get("source")
    if source is not None and source.value != "auditmon":
        raise source.error("auditmon runs rules of source auditmon (or none given)")
    condition, sequence = item.get("condition"), item.get("sequence")
    if (condition is None) == (sequence is None):
        raise item.place.error(f"rule {item.name!r} needs a condition: or a sequence:, one")
    exceptions = _exceptions(item.get("exceptions", ()), catalog)
    if condition is not None:
        texts, within = [condition], None
    else:
        texts, within = _sequence(sequence)
    steps = []
    for i, text in enumerate(texts):
        tree = _parse(text)
        if i == len(texts) - 1 and exceptions is not None:
            tree = AllOf((tree, Not(exceptions)))
        tree = _checked(text, tree, names, catalog, built=item.place)
        steps.append(query_from_tree(text.text, tree, catalog))
    return Rule(
        name=item.name,
        desc=item.get("desc").text.strip(),
        priority=_priority(item.get("priority")),
        tags=_tags(item.get("tags")),
        enabled=_enabled(item.get("enabled")),
        steps=tuple(steps),
        patterns=tuple(event_patterns(s.tree, catalog) for s in steps),
        output=_output(item.get("output"), catalog),
        place=item.place,
        within=within,
        sequence=len(steps) > 1,
    )


def _sequence(sequence: Located) -> tuple[list[Text], float]:
    keys = sequence.value
    if not isinstance(keys, dict) or "steps" not in keys or "within" not in keys:
        raise sequence.error("a sequence is {within: DURATION, steps: [CONDITION, ...]}")
    for key in keys:
        if key not in ("within", "steps"):
            raise sequence.key_error(key, f"unknown key {key!r} in a sequence")
    steps = keys["steps"]
    if not isinstance(steps.value, list) or len(steps.value) < 2:
        raise steps.error("a sequence has two steps or more")
    return [Text.of(step) for step in steps.value], _duration(keys["within"])


def _duration(value: Located) -> float:
    """Seconds from ``30``, ``30s``, ``500ms``, ``2m`` or ``1h``."""
    if isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
        seconds = float(value.value)
    else:
        found = _DURATION.match(str(value.value))
        if found is None:
            raise value.error(f"within is a duration (30s, 500ms, 2m), not {value.value!r}")
        seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds <= 0:
        raise value.error("within must be more than zero")
    return seconds


def _priority(value: Located) -> str:
    try:
        return priority_named(str(value.value))
    except ValueError as error:
        raise value.error(str(error)) from None


def _tags(value: Located | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value.value, list):
        raise value.error("tags is a list")
    return tuple(str(tag.value) for tag in value.value)


def _enabled(value: Located | None) -> bool:
    if value is None:
        return True
    if not isinstance(value.value, bool):
        raise value.error("enabled is true or false")
    return value.value


def _output(text: Text, catalog: Catalog) -> Output:
    try:
        return parse_output(" ".join(text.text.split()), catalog)
    except OutputError as error:
        # Columns count in the text with its runs of spaces made one: find the field.
        name = error.reason.split("'")[1] if "'" in error.reason else ""
        column = text.text.find("%" + name) + 1 if name else 1
        raise text.where(max(column, 1)).error(error.reason) from None


def _exceptions(exceptions: tuple[Exception_, ...], catalog: Catalog) -> Node | None:
    """The exceptions as one tree (any of them holding spares the event)."""
    alternatives: list[Node] = []
    for exception in exceptions:
        alternatives.extend(_exception(exception, catalog))
    return AnyOf(tuple(alternatives)) if alternatives else None


def _exception(exception: Exception_, catalog: Catalog) -> list[Node]:
    if exception.fields is None:
        raise exception.place.error(f"exception {exception.name!r} needs fields")
    single = not isinstance(exception.fields.value, list)
    fields = [exception.fields] if single else exception.fields.value
    for name in fields:
        try:
            resolve(str(name.value), catalog)
        except KeyError as error:
            raise name.error(str(error.args[0])) from None
    comps = _comps(exception, len(fields), single)
    names = [str(f.value) for f in fields]
    found: list[Node] = []
    if single:
        values = tuple(str(v.value) for v in exception.values)
        if not values:
            return []
        if comps[0] in ("in", "pmatch") or comps[0] in _LISTED_TEXT:
            return [Condition(names[0], comps[0], values, 0)]
        return [Condition(names[0], comps[0], v, 0) for v in values]
    for row in exception.values:
        if not isinstance(row.value, list) or len(row.value) != len(fields):
            raise row.error(f"each value of exception {exception.name!r} has {len(fields)} items")
        terms = [
            Condition(name, comp, _operand(value, comp), 0)
            for name, comp, value in zip(names, comps, row.value)
        ]
        found.append(AllOf(tuple(terms)) if len(terms) > 1 else terms[0])
    return found


_LISTED_TEXT = frozenset({"startswith", "endswith", "contains", "glob"})


def _comps(exception: Exception_, count: int, single: bool) -> list[str]:
    given = exception.comps
    if given is None:
        return ["in" if single else "="] * count
    comps = [given] if not isinstance(given.value, list) else given.value
    if len(comps) != count:
        raise given.error(f"comps has {len(comps)} items for {count} fields")
    for comp in comps:
        if comp.value not in _COMPARATORS:
            raise comp.error(f"unknown comparison {comp.value!r}")
    return [str(c.value) for c in comps]


def _operand(value: Located, comp: str) -> str | tuple[str, ...]:
    if isinstance(value.value, list):
        return tuple(str(v.value) for v in value.value)
    return str(value.value)
