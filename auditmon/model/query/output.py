"""Rule outputs: text with ``%field`` placeholders (``%file.read``, ``%proc.cmdline``),
filled in from the event that raised the alert, as Falco's outputs are.

A field's value shows as its readable form where it has one (``O_WRONLY|O_CREAT``,
``127.0.0.1:80``), a list as its items separated by spaces, a missing value as
``<NA>``.  ``%%`` is a percent sign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Union

from auditmon.catalog import Catalog
from auditmon.model import values
from auditmon.model.query.fields import UNKNOWN, Field, Subject, resolve

_PLACEHOLDER = re.compile(r"%(%|[A-Za-z_][\w.]*(?:\[\d+\])?)")
MISSING = "<NA>"
IN_OUTPUT = 120  # characters of one value in an output line
IN_FIELDS = 1000  # characters of one value in an alert's fields


class OutputError(ValueError):
    """A placeholder naming no field; ``column`` counts from 1 in the output text."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.column = column


Part = Union[str, tuple[str, Field]]


@dataclass(frozen=True)
class Output:
    """A parsed output text: literal parts and (placeholder, field) parts."""

    text: str
    parts: tuple[Part, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The placeholders' field names, each once, in order."""
        return tuple(dict.fromkeys(p[0] for p in self.parts if isinstance(p, tuple)))

    def render(self, subject: Subject) -> str:
        return "".join(
            part if isinstance(part, str) else shown(part[1], part[1].read(subject))
            for part in self.parts
        )


def parse_output(text: str, catalog: Catalog) -> Output:
    """Parse ``text``; OutputError for a placeholder that names no field."""
    parts: list[Part] = []
    at = 0
    for found in _PLACEHOLDER.finditer(text):
        name = found.group(1)
        literal = text[at : found.start()]
        if name == "%":
            parts.append(literal + "%")
            at = found.end()
            continue
        stripped = name.rstrip(".")  # "read %file.read." ends a sentence
        if literal:
            parts.append(literal)
        try:
            parts.append((stripped, resolve(stripped, catalog)))
        except KeyError as error:
            raise OutputError(str(error.args[0]), found.start() + 1) from None
        at = found.start() + 1 + len(stripped)
    if at < len(text):
        parts.append(text[at:])
    return Output(text, tuple(parts))


def field_value(field: Field, subject: Subject) -> Any:
    """A field's value for an alert's ``fields``: a number stays one, anything else is
    its text as shown in outputs; None where it is missing."""
    value = field.read(subject)
    if value is None or value is UNKNOWN:
        return None
    if type(value) is int:
        return value
    return shown(field, value, IN_FIELDS)


def shown(field: Field, value: Any, limit: int = IN_OUTPUT) -> str:
    """One line for a field's value, as outputs show it (``limit`` characters at most)."""
    if value is None or value is UNKNOWN:
        return MISSING
    if field.listed and isinstance(value, list):
        if field.rendered:  # an argument: its text and, last, its readable form
            return values.display(value[-1], limit) if value else MISSING
        return values.display(" ".join(str(v) for v in value), limit)
    return values.display(value if type(value) is str else str(value), limit)
