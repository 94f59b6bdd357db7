"""Reading a rule file: YAML values that remember where they stand, so that every error
names the file, line and column it comes from, down to a column inside a condition
(folded ``>`` and literal ``|`` blocks included)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RuleFileError(ValueError):
    """A rule file that cannot be used; ``str()`` is ``FILE:LINE:COLUMN: reason``."""

    def __init__(self, path: str, line: int, column: int, reason: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {reason}")
        self.path, self.line, self.column, self.reason = path, line, column, reason


@dataclass(frozen=True)
class Place:
    """A position in a rule file (line and column from 1)."""

    path: str
    line: int
    column: int

    def error(self, reason: str) -> RuleFileError:
        return RuleFileError(self.path, self.line, self.column, reason)


@dataclass(frozen=True)
class Located:
    """A YAML value and where it starts: ``value`` is a plain scalar, a list of
    Located, or a dict of str to Located."""

    value: Any
    place: Place
    node: yaml.Node
    source: str  # the whole file's text, to find columns inside a scalar
    keys: dict[str, Place] | None = None  # a mapping's keys' places

    def error(self, reason: str) -> RuleFileError:
        return self.place.error(reason)

    def key_error(self, key: str, reason: str) -> RuleFileError:
        """An error about one of this mapping's keys, at the key."""
        place = (self.keys or {}).get(key, self.place)
        return place.error(reason)

    def where(self, offset: int) -> Place:
        """The place of the character at ``offset`` (from 0) of this scalar's text."""
        anchors = _anchors(self)
        best = None
        for start, line, column in anchors:
            if start <= offset:
                best = (start, line, column)
        if best is None:
            return self.place
        start, line, column = best
        return Place(self.place.path, line, column + offset - start)

    def plain(self) -> Any:
        """The value with every Located unwrapped."""
        if isinstance(self.value, list):
            return [item.plain() for item in self.value]
        if isinstance(self.value, dict):
            return {key: item.plain() for key, item in self.value.items()}
        return self.value


def load_file(path: str | Path) -> Located | None:
    """The document in the file at ``path`` (None when empty); RuleFileError for a file
    that cannot be read or is not YAML."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise RuleFileError(name, 1, 1, f"cannot read it: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise RuleFileError(name, 1, 1, f"not UTF-8 text: {error.reason}") from None
    return load_text(text, name)


def load_text(text: str, name: str) -> Located | None:
    """The document in ``text``, named ``name`` in errors."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        reason = " ".join(str(part) for part in (error.context, error.problem) if part)
        raise RuleFileError(name, line, column, f"not valid YAML: {reason}") from None
    except yaml.YAMLError as error:
        raise RuleFileError(name, 1, 1, f"not valid YAML: {error}") from None
    return None if node is None else _located(node, name, text)


_constructor = yaml.constructor.SafeConstructor()


def _located(node: yaml.Node, name: str, text: str) -> Located:
    place = Place(name, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.SequenceNode):
        return Located([_located(item, name, text) for item in node.value], place, node, text)
    if isinstance(node, yaml.MappingNode):
        found: dict[str, Located] = {}
        keys: dict[str, Place] = {}
        for key_node, value_node in node.value:
            key = _located(key_node, name, text)
            if not isinstance(key.value, str):
                raise key.error("keys here are words")
            if key.value in found:
                raise key.error(f"{key.value!r} is given twice")
            found[key.value] = _located(value_node, name, text)
            keys[key.value] = key.place
        return Located(found, place, node, text, keys)
    if node.tag == "tag:yaml.org,2002:value":  # a bare "=" (YAML 1.1's value key)
        return Located(node.value, place, node, text)
    try:
        value = _constructor.construct_object(node, deep=True)
    except yaml.YAMLError as error:
        raise place.error(f"not a value: {error}") from None
    return Located(value, place, node, text)


def _anchors(scalar: Located) -> list[tuple[int, int, int]]:
    """(offset in the value, line, column) where each source line's text starts in the
    scalar's value: for a column inside a plain, quoted or block scalar."""
    node = scalar.node
    value = scalar.value
    if not isinstance(node, yaml.ScalarNode) or not isinstance(value, str):
        return []
    start, end = node.start_mark, node.end_mark
    lines = scalar.source[start.index : end.index].split("\n")
    block = node.style in ("|", ">")
    quoted = node.style in ('"', "'")
    anchors = []
    cursor = 0
    for i, line in enumerate(lines):
        if block and i == 0:
            continue  # the | or > header
        first_column = start.column if i == 0 else 0
        content = line.lstrip()
        lead = len(line) - len(content)
        if quoted and i == 0 and content[:1] in ('"', "'"):
            content, lead = content[1:], lead + 1
        if quoted and i == len(lines) - 1 and content[-1:] in ('"', "'"):
            content = content[:-1]
        content = content.rstrip()
        if not content:
            continue
        found = value.find(content[:16], cursor)
        if found < 0:
            continue
        anchors.append((found, start.line + 1 + i, first_column + lead + 1))
        cursor = found + 1
    return anchors
