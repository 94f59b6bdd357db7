"""The live filter (``/``): the expression language of ``auditmon.model.query``, as the
UI takes it.

Terms separated by spaces must all hold; several bare globs mean "any of them"; ``and``,
``or``, ``not`` and parentheses combine terms.  For example:

* ``socket.* open``: event name globs
* ``cat:network`` (a category's name or title, in any case, or a prefix of one)
* ``pid=123``, ``proc.name=python3``: the reporting process
* ``risk>=notice``: the risk of each occurrence (an ``open`` for writing is a warning)
* ``path~/etc`` (contains), ``mode=w`` (equals), ``arg0 startswith /tmp``: arguments by
  the catalog's names or by position
* ``alerted`` (a macro for ``alert.rule exists``), ``alert.rule="Read SSH keys"``,
  ``alert.priority>=warning``: events like those a rule alerted on (same process, name
  and arguments)
"""

from __future__ import annotations

from auditmon.catalog import Catalog
from auditmon.model.query import Definitions, Query, QueryError, parse_query
from auditmon.model.query.syntax import parse_tree

Filter = Query

#: The names the filter knows besides fields.
FILTER_NAMES = Definitions(macros={"alerted": parse_tree("alert.rule exists")})  # type: ignore[dict-item]


class FilterError(ValueError):
    """The filter text could not be understood; the message says why and where."""


def parse(text: str, catalog: Catalog) -> Query:
    """Parse the filter text typed after ``/``; raise FilterError with a clear reason."""
    try:
        query = parse_query(text, catalog, FILTER_NAMES)
    except QueryError as error:
        where = f" (at column {error.column})" if len(text.split()) > 1 else ""
        raise FilterError(f"{error.reason}{where}") from None
    if "time" in query.needs:
        raise FilterError(
            "proc.age, evt.seq, evt.time, frame and stack fields are for rules, which see "
            "each event as it comes"
        )
    return query
