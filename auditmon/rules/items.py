"""The items of rule files (``list``, ``macro``, ``rule``) as Falco writes them, and how
later files change earlier items: ``override: {condition: append, priority: replace}``
(or the older ``append: true``), ``enabled: false`` alone, or a whole new definition.

Texts that may be appended to (conditions, outputs) are ``Text``: pieces that each
remember where they came from, so an error's column maps back to the right file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from auditmon.rules.source import Located, Place

#: Keys of Falco's rule items that auditmon reads, per kind, and those it accepts
#: and leaves alone (Falco features that have no meaning here).
KEYS = {
    "list": {"list", "items", "override", "append"},
    "macro": {"macro", "condition", "override", "append"},
    "rule": {
        "rule",
        "desc",
        "condition",
        "sequence",
        "output",
        "priority",
        "tags",
        "enabled",
        "exceptions",
        "override",
        "append",
        "source",
    },
}
IGNORED_KEYS = {"warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration"}
IGNORED_ITEMS = {"required_engine_version", "required_plugin_versions"}
#: What ``override`` may do to each key (Falco's, plus ``sequence``).
APPENDABLE = {"condition", "output", "desc", "tags", "exceptions", "items"}
REPLACEABLE = APPENDABLE | {"priority", "enabled", "sequence"}


@dataclass(frozen=True)
class Text:
    """A text made of pieces from one or more YAML scalars (an appended condition)."""

    pieces: tuple[tuple[str, Located | None], ...]

    @classmethod
    def of(cls, scalar: Located) -> Text:
        if not isinstance(scalar.value, str):
            raise scalar.error("expected text here")
        return cls(((scalar.value, scalar),))

    @property
    def text(self) -> str:
        return "".join(piece for piece, _ in self.pieces)

    def appended(self, other: Text) -> Text:
        return Text((*self.pieces, (" ", None), *other.pieces))

    def where(self, column: int) -> Place:
        """The place of the text's ``column`` (from 1)."""
        offset = column - 1
        last: Place | None = None
        for piece, scalar in self.pieces:
            if scalar is not None:
                last = scalar.where(min(offset, max(len(piece) - 1, 0)))
                if offset < len(piece):
                    return scalar.where(offset)
            offset -= len(piece)
        assert last is not None
        return last


@dataclass(frozen=True)
class Exception_:
    """A Falco exception: ``fields`` compared by ``comps`` to each of ``values``."""

    name: str
    fields: Located | None
    comps: Located | None
    values: tuple[Located, ...]
    place: Place


@dataclass(frozen=True)
class Item:
    """A list, macro or rule after every file's changes; ``keys`` holds its Located
    values by key (``condition`` as a ``Text``, ``exceptions`` as a tuple)."""

    kind: str
    name: str
    place: Place
    keys: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.keys.get(key, default)


def read_items(document: Located | None, path: str) -> Iterator[tuple[Item, Located]]:
    """Each item of a rule file with its YAML mapping (for overrides)."""
    if document is None:
        return
    if not isinstance(document.value, list):
        raise document.error("a rule file is a list of items (- rule:, - macro:, - list:)")
    for entry in document.value:
        if not isinstance(entry.value, dict):
            raise entry.error("an item is a mapping (rule:, macro: or list:, and its keys)")
        kinds = [k for k in ("rule", "macro", "list") if k in entry.value]
        if not kinds:
            if IGNORED_ITEMS.intersection(entry.value):
                continue
            raise entry.error("an item needs rule:, macro: or list:")
        if len(kinds) > 1:
            raise entry.value[kinds[1]].error(f"an item is one of rule, macro or list: {kinds}")
        kind = kinds[0]
        for key in entry.value:
            if key not in KEYS[kind] and key not in IGNORED_KEYS:
                raise entry.key_error(key, f"unknown key {key!r} in a {kind}")
        name = entry.value[kind]
        if not isinstance(name.value, str) or not name.value.strip():
            raise name.error(f"a {kind} needs a name")
        yield Item(kind, name.value, name.place, _keys(kind, entry.value)), entry


def _keys(kind: str, mapping: dict[str, Located]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in mapping.items():
        if key in ("condition", "output", "desc"):
            found[key] = Text.of(value)
        elif key == "exceptions":
            found[key] = tuple(_exceptions(value))
        elif key not in (kind, "override", "append"):
            found[key] = value
    return found


def _exceptions(value: Located) -> Iterator[Exception_]:
    if not isinstance(value.value, list):
        raise value.error("exceptions is a list of {name, fields, comps, values}")
    for entry in value.value:
        keys = entry.value
        if not isinstance(keys, dict) or "name" not in keys:
            raise entry.error("an exception needs a name")
        for key in keys:
            if key not in ("name", "fields", "comps", "values"):
                raise entry.key_error(key, f"unknown key {key!r} in an exception")
        values = keys.get("values")
        if values is not None and not isinstance(values.value, list):
            raise values.error("values is a list")
        yield Exception_(
            str(keys["name"].value),
            keys.get("fields"),
            keys.get("comps"),
            tuple(values.value) if values is not None else (),
            entry.place,
        )


class Items:
    """Every file's items in order, later ones changing earlier ones."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Item] = {}

    def add(self, item: Item, entry: Located) -> None:
        key = (item.kind, item.name)
        known = self.items.get(key)
        override = _override(item, entry)
        if override is None:
            if known is not None and set(item.keys) == {"enabled"}:
                self.items[key] = replace(known, keys={**known.keys, **item.keys})
            elif item.kind == "rule" and set(item.keys) <= {"enabled"} and known is None:
                raise item.place.error(f"no earlier rule {item.name!r} to enable or disable")
            else:
                self.items.pop(key, None)  # a new definition goes last, as if first seen
                self.items[key] = item
            return
        if known is None:
            raise item.place.error(f"no earlier {item.kind} {item.name!r} to override")
        keys = dict(known.keys)
        for name, how in override.items():
            if name not in item.keys:
                raise entry.place.error(f"override of {name!r} but the item gives no {name}")
            new = item.keys[name]
            if how == "replace" or name not in keys:
                keys[name] = new
            elif name in ("condition", "output", "desc"):
                keys[name] = keys[name].appended(new)
            elif name == "exceptions":
                keys[name] = _append_exceptions(keys[name], new)
            else:  # items, tags: lists
                keys[name] = _append_list(keys[name], new)
        self.items[key] = replace(known, keys=keys)

    def of_kind(self, kind: str) -> list[Item]:
        return [item for (k, _), item in self.items.items() if k == kind]


def _override(item: Item, entry: Located) -> dict[str, str] | None:
    """{key: append|replace} the item asks for, or None for a definition."""
    mapping = entry.value
    if "append" in mapping and mapping["append"].value is True:
        appendable = [k for k in ("condition", "items", "exceptions", "output") if k in item.keys]
        return {key: "append" for key in appendable}
    override = mapping.get("override")
    if override is None:
        return None
    if not isinstance(override.value, dict):
        raise override.error("override maps keys to append or replace")
    found = {}
    for key, how in override.value.items():
        if how.value not in ("append", "replace"):
            raise how.error(f"override of {key!r} is append or replace, not {how.value!r}")
        allowed = APPENDABLE if how.value == "append" else REPLACEABLE
        if key not in allowed:
            raise how.error(f"{key!r} cannot be overridden with {how.value}")
        found[key] = how.value
    return found


def _append_exceptions(known: tuple[Exception_, ...], new: tuple[Exception_, ...]) -> tuple:
    merged = {e.name: e for e in known}
    for exception in new:
        earlier = merged.get(exception.name)
        if earlier is None:
            merged[exception.name] = exception
        else:
            merged[exception.name] = replace(earlier, values=earlier.values + exception.values)
    return tuple(merged.values())


def _append_list(known: Located, new: Located) -> Located:
    if not isinstance(known.value, list) or not isinstance(new.value, list):
        raise new.error("only a list can be appended to a list")
    return replace(known, value=known.value + new.value)
